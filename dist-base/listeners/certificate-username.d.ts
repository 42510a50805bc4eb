import type { Readable } from 'node:stream';
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts';
/** Why a connection could not be given its certificate identity (it is then closed). */
export declare class IdentityError extends Error {
}
export interface IdentityLimits {
    /** The largest CONNECT to buffer, as the broker's maximum packet size. */
    maxPacketSize: number;
    /** How long the client may take to send CONNECT. */
    timeoutMs: number;
}
/**
 * Mosquitto's `use_identity_as_username`: reads the client's CONNECT off `stream`, replaces its
 * user name with `username` (the certificate's CN) and its password with a token from
 * `identities`, and puts the rewritten packet back in front of the stream. The stream is left
 * paused, to be handed to the broker and resumed. Rejects (the caller closes the connection)
 * when the first packet is not a well-formed CONNECT, is too large, or does not come in time.
 *
 * This exists because the broker's Credentials carry only what CONNECT says; once the broker
 * takes an identity from its stream, the rewrite can go (see the README's access section).
 */
export declare function applyCertificateUsername(stream: Readable, username: string, identities: CertificateIdentities, limits: IdentityLimits): Promise<void>;
