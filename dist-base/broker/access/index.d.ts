import type { Broker } from '../broker.ts';
import type { AccessControl, AuthResult, ClientIdentity, Credentials } from '../types.ts';
import { CertificateIdentities } from './certificate-identities.ts';
export { type AclRules, aclAllows, parseAcl } from './acl.ts';
export { CertificateIdentities } from './certificate-identities.ts';
export { hashPassword, parsePasswordFile, updatePasswordFile, verifyPassword } from './password-file.ts';
export interface FileAccessOptions {
    /** Mosquitto password file (`mosquitto_passwd` format), re-read when it changes. */
    passwordFile?: string | undefined;
    /** Mosquitto acl_file, re-read when it changes. */
    aclFile?: string | undefined;
}
/**
 * The broker's access control from Mosquitto-format files: who may connect (password file,
 * TLS client certificates, and the single `--user`/`ms_user` user alongside), and what they may
 * publish, subscribe to and receive (ACL file). Without an ACL file everything is allowed.
 */
export declare class FileAccessControl implements AccessControl {
    private readonly broker;
    private readonly passwords;
    private readonly acl;
    /** Tokens by which certificate-checking listeners vouch for a CN (see CertificateIdentities). */
    readonly identities: CertificateIdentities;
    private readonly logins;
    private constructor();
    /** Reads the files (a missing or malformed file rejects, naming it) and starts watching them. */
    static create(broker: Broker, options?: FileAccessOptions): Promise<FileAccessControl>;
    authenticate(credentials: Credentials): AuthResult;
    private check;
    canPublish(client: ClientIdentity, topic: string): boolean;
    canSubscribe(client: ClientIdentity, filter: string): boolean;
    canRead(client: ClientIdentity, topic: string): boolean;
    close(): Promise<void>;
    private allows;
    /**
     * A user taken out of the password file loses its connections at once (Mosquitto does the
     * same on reload). A changed password takes effect at the next CONNECT.
     */
    private dropRemovedUsers;
}
/**
 * Installs file-based access control on a broker that is not started yet (so no client gets in
 * before it applies) when there is something for it to do: a password file, an ACL file, or a
 * listener that takes user names from client certificates. Closed with the broker.
 */
export declare function installFileAccess(broker: Broker, options: FileAccessOptions & {
    certificateUsers?: boolean;
}): Promise<FileAccessControl | undefined>;
