import type { CertificateIdentities } from '../broker/access/certificate-identities.ts';
import type { Broker } from '../broker/broker.ts';
import type { Listener, ListenerSpec } from './types.ts';
export { checkListenerSpec, listenersFromShorthands, parseListenerSpecs } from './config.ts';
export type { Listener, ListenerSpec, ListenerType, TlsFiles } from './types.ts';
export { attachMqttWebSocket } from './websocket.ts';
/** The extra listeners started for a broker by startListeners (its own TCP listener not included). */
export declare function listenersOf(broker: Broker): readonly Listener[];
/**
 * Starts every listener in `specs` next to the broker's own TCP listener and registers their
 * closing with the broker. All or nothing: when one cannot start, those already started stop.
 * `identities` is needed by listeners that take the user name from the client certificate.
 */
export declare function startListeners(broker: Broker, specs: readonly ListenerSpec[], identities?: CertificateIdentities): Promise<Listener[]>;
