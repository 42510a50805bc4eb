import type { CertificateIdentities } from '../broker/access/certificate-identities.ts';
import type { Broker } from '../broker/broker.ts';
import type { Listener, ListenerCommon, TlsFiles } from './types.ts';
/** MQTT over TLS (port 8883 by convention). */
export declare function startTlsListener(broker: Broker, spec: ListenerCommon & TlsFiles, identities: CertificateIdentities | undefined): Promise<Listener>;
