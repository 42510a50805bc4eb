import { type Server as HttpServer } from 'node:http';
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts';
import type { Broker } from '../broker/broker.ts';
import { type AdmitContext } from './admit.ts';
import type { Listener, ListenerCommon, TlsFiles, WebSocketSettings } from './types.ts';
export interface MqttWebSocketOptions {
    /** Request path (default /mqtt). */
    path?: string | undefined;
    /** Name in logs and client info. */
    name: string;
    identities?: CertificateIdentities | undefined;
}
export interface AttachedWebSocket {
    readonly context: AdmitContext;
    /** Stops taking upgrades on this server; connected clients stay. */
    detach(): void;
}
/**
 * Serves MQTT over WebSocket on an HTTP(S) server that may serve other things too (the
 * dashboard): upgrades on `path` become MQTT clients; other upgrades are left to the server's
 * other 'upgrade' listeners, or refused by the standalone listener below.
 */
export declare function attachMqttWebSocket(server: HttpServer, broker: Broker, options: MqttWebSocketOptions): AttachedWebSocket;
/** A WebSocket (`ws`) or WebSocket-over-TLS (`wss`) listener of its own. */
export declare function startWebSocketListener(broker: Broker, spec: ListenerCommon & WebSocketSettings & ({
    type: 'ws';
} | ({
    type: 'wss';
} & TlsFiles)), identities: CertificateIdentities | undefined): Promise<Listener>;
