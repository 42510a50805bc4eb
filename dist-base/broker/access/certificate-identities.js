import { randomBytes, timingSafeEqual } from 'node:crypto';
/**
 * Carries a TLS client certificate's CN from a listener to `authenticate`. The broker's
 * Credentials hold only what CONNECT said, so a listener that uses the certificate as the
 * identity rewrites CONNECT: the user name becomes the CN and the password a one-time token
 * issued here. Tokens are 32 random bytes, never leave the process, are consumed by the first
 * CONNECT that shows them and revoked when their connection closes; a client cannot forge one.
 */
export class CertificateIdentities {
    tokens = new Map();
    /** A token standing for `username` until it is consumed or `revoke`d. */
    issue(username) {
        const token = randomBytes(32);
        this.tokens.set(token.toString('base64'), username);
        return token;
    }
    revoke(token) {
        this.tokens.delete(token.toString('base64'));
    }
    /** Whether `password` is a token issued for `username`; consumes it either way it matched. */
    consume(username, password) {
        if (username === undefined || password?.length !== 32)
            return false;
        const key = password.toString('base64');
        const owner = this.tokens.get(key);
        if (owner === undefined)
            return false;
        this.tokens.delete(key);
        const a = Buffer.from(owner);
        const b = Buffer.from(username);
        return a.length === b.length && timingSafeEqual(a, b);
    }
    get size() {
        return this.tokens.size;
    }
}
//# sourceMappingURL=certificate-identities.js.map