import { aclAllows, parseAcl } from "./acl.js";
import { CertificateIdentities } from "./certificate-identities.js";
import { parsePasswordFile, verifyPassword } from "./password-file.js";
import { WatchedFile } from "./watched-file.js";
export { aclAllows, parseAcl } from "./acl.js";
export { CertificateIdentities } from "./certificate-identities.js";
export { hashPassword, parsePasswordFile, updatePasswordFile, verifyPassword } from "./password-file.js";
const noPassword = Buffer.alloc(0);
/**
 * The broker's access control from Mosquitto-format files: who may connect (password file,
 * TLS client certificates, and the single `--user`/`ms_user` user alongside), and what they may
 * publish, subscribe to and receive (ACL file). Without an ACL file everything is allowed.
 */
export class FileAccessControl {
    broker;
    passwords;
    acl;
    /** Tokens by which certificate-checking listeners vouch for a CN (see CertificateIdentities). */
    identities = new CertificateIdentities();
    logins = new Map();
    constructor(broker, passwords, acl) {
        this.broker = broker;
        this.passwords = passwords;
        this.acl = acl;
        passwords?.onChange((next) => this.dropRemovedUsers(next));
        // A login record lives as long as the client id is connected. Checked a tick later: on a
        // takeover the old connection leaves before the new one is registered.
        broker.on('clientDisconnect', (client) => {
            setImmediate(() => {
                if (!broker.clients.has(client.clientId))
                    this.logins.delete(client.clientId);
            });
        });
    }
    /** Reads the files (a missing or malformed file rejects, naming it) and starts watching them. */
    static async create(broker, options = {}) {
        const logger = broker.logger;
        const passwords = options.passwordFile
            ? await WatchedFile.open(options.passwordFile, 'password file', parsePasswordFile, logger)
            : undefined;
        try {
            const acl = options.aclFile
                ? await WatchedFile.open(options.aclFile, 'ACL file', parseAcl, logger)
                : undefined;
            return new FileAccessControl(broker, passwords, acl);
        }
        catch (error) {
            await passwords?.close();
            throw error;
        }
    }
    authenticate(credentials) {
        const result = this.check(credentials);
        if (result.code === 0)
            this.logins.set(credentials.clientId, result.kind);
        return result.code;
    }
    check({ clientId, username, password, address }) {
        if (this.identities.consume(username, password))
            return { code: 0, kind: 'certificate' };
        const single = this.broker.auth;
        if (username !== undefined && username === single.username) {
            const code = single.check({ clientId, username, password, address });
            if (code === 0 || !this.passwords)
                return { code, kind: 'single user' };
        }
        if (!this.passwords) {
            return { code: single.check({ clientId, username, password, address }), kind: 'anonymous' };
        }
        // With a password file anonymous clients are refused, as with a single user.
        if (username === undefined)
            return { code: 5, kind: 'anonymous' };
        const hash = this.passwords.value.get(username);
        if (hash && verifyPassword(hash, password ?? noPassword))
            return { code: 0, kind: 'password file' };
        return { code: 4, kind: 'password file' };
    }
    canPublish(client, topic) {
        return this.allows(client, 'write', topic);
    }
    canSubscribe(client, filter) {
        // A shared subscription is judged by the topics it reads: `$share/<group>/<filter>`.
        const shared = /^\$share\/[^/]+\/(.+)$/.exec(filter);
        return this.allows(client, 'subscribe', shared ? shared[1] : filter);
    }
    canRead(client, topic) {
        const allowed = this.allows(client, 'read', topic);
        // Per delivery, so at debug: a wide subscription over a denied topic would flood the log.
        if (!allowed)
            this.broker.logger.debug({ clientId: client.clientId, topic }, 'delivery denied by ACL');
        return allowed;
    }
    async close() {
        await Promise.all([this.passwords?.close(), this.acl?.close()]);
    }
    allows(client, action, topic) {
        return this.acl ? aclAllows(this.acl.value, client, action, topic) : true;
    }
    /**
     * A user taken out of the password file loses its connections at once (Mosquitto does the
     * same on reload). A changed password takes effect at the next CONNECT.
     */
    dropRemovedUsers(users) {
        for (const [clientId, connection] of this.broker.clients) {
            const user = connection.username;
            if (this.logins.get(clientId) !== 'password file' || user === undefined || users.has(user))
                continue;
            this.broker.logger.warn({ clientId, username: user }, 'user removed from the password file, disconnecting');
            this.broker.dropConnection(connection, 'user removed from the password file');
        }
    }
}
/**
 * Installs file-based access control on a broker that is not started yet (so no client gets in
 * before it applies) when there is something for it to do: a password file, an ACL file, or a
 * listener that takes user names from client certificates. Closed with the broker.
 */
export async function installFileAccess(broker, options) {
    if (!options.passwordFile && !options.aclFile && !options.certificateUsers)
        return undefined;
    if (broker.access)
        throw new Error('access control given twice: use either `access` or the password/ACL files');
    const access = await FileAccessControl.create(broker, options);
    broker.setAccessControl(access);
    broker.addCloseHook(() => access.close());
    return access;
}
//# sourceMappingURL=index.js.map