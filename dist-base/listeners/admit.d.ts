import type { TLSSocket } from 'node:tls';
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts';
import type { Broker } from '../broker/broker.ts';
import type { ClientStream } from '../broker/connection.ts';
/** What a listener needs to hand its connections to the broker. */
export interface AdmitContext {
    readonly broker: Broker;
    /** The listener's name in logs and client info. */
    name: string;
    /** Set when the client certificate's CN is the user name (use_identity_as_username). */
    readonly identities?: CertificateIdentities | undefined;
    /** Streams still waiting for their CONNECT to be rewritten; closed with the listener. */
    readonly pending: Set<ClientStream>;
    closed: boolean;
}
/**
 * Hands a client stream to the broker. `tlsSocket` is the TLS connection underneath (the stream
 * itself for TLS, the upgraded socket for WSS), whose certificate may name the user.
 */
export declare function admit(context: AdmitContext, stream: ClientStream, tlsSocket?: TLSSocket): void;
/** Closes the streams a listener has not handed over yet. */
export declare function dropPending(context: AdmitContext): void;
