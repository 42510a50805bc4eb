/**
 * Carries a TLS client certificate's CN from a listener to `authenticate`. The broker's
 * Credentials hold only what CONNECT said, so a listener that uses the certificate as the
 * identity rewrites CONNECT: the user name becomes the CN and the password a one-time token
 * issued here. Tokens are 32 random bytes, never leave the process, are consumed by the first
 * CONNECT that shows them and revoked when their connection closes; a client cannot forge one.
 */
export declare class CertificateIdentities {
    private readonly tokens;
    /** A token standing for `username` until it is consumed or `revoke`d. */
    issue(username: string): Buffer;
    revoke(token: Buffer): void;
    /** Whether `password` is a token issued for `username`; consumes it either way it matched. */
    consume(username: string | undefined, password: Buffer | undefined): boolean;
    get size(): number;
}
