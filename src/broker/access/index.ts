/**
 * src/broker/access: access control from Mosquitto-format files, installed on a Broker through
 * its AccessControl hooks (installFileAccess): the password file (password-file.ts, and
 * password-prompt.ts for `tinymqtt passwd`), the ACL file (acl.ts with topic-match.ts), TLS
 * client certificates as identities (certificate-identities.ts), and re-reading the files when
 * they change (watched-file.ts).
 *
 * Must not import: the broker's parts (connections, sessions, router …): it works through the
 * Broker facade, its types and a few shared helpers (auth.ts, shared.ts, topic-rules.ts);
 * nothing outside src/broker, like the rest of the broker. The rest of src/broker does not
 * import this folder: the embedder installs it (src/index.ts, .dependency-cruiser.cjs).
 */
import type { Broker } from '../broker.ts'
import { ConnackCode } from '../protocol/reason-codes.ts'
import { parseSharedFilter } from '../topic-rules.ts'
import type { AccessControl, AuthResult, ClientIdentity, Credentials } from '../types.ts'
import { type AclAction, type AclRules, aclAllows, parseAcl } from './acl.ts'
import { CertificateIdentities } from './certificate-identities.ts'
import { type PasswordHash, parsePasswordFile, verifyPassword } from './password-file.ts'
import { WatchedFile } from './watched-file.ts'

export { type AclRules, aclAllows, parseAcl } from './acl.ts'
export { CertificateIdentities } from './certificate-identities.ts'
export {
  hashPassword,
  type PasswordHash,
  parsePasswordFile,
  updatePasswordFile,
  verifyPassword,
} from './password-file.ts'

export interface FileAccessOptions {
  /** Mosquitto password file (`mosquitto_passwd` format), re-read when it changes. */
  passwordFile?: string | undefined
  /** Mosquitto acl_file, re-read when it changes. */
  aclFile?: string | undefined
}

/** How a connected client proved who it is; only password-file logins end with their user. */
type LoginKind = 'password file' | 'certificate' | 'single user' | 'anonymous'

const noPassword = Buffer.alloc(0)

/**
 * The broker's access control from Mosquitto-format files: who may connect (password file,
 * TLS client certificates, and the single `--user`/`ms_user` user alongside), and what they may
 * publish, subscribe to and receive (ACL file). Without an ACL file everything is allowed.
 */
export class FileAccessControl implements AccessControl {
  /** Tokens by which certificate-checking listeners vouch for a CN (see CertificateIdentities). */
  readonly identities = new CertificateIdentities()
  private readonly logins = new Map<string, LoginKind>()

  private constructor(
    private readonly broker: Broker,
    private readonly passwords: WatchedFile<Map<string, PasswordHash>> | undefined,
    private readonly acl: WatchedFile<AclRules> | undefined,
  ) {
    passwords?.onChange((next) => this.dropRemovedUsers(next))
    // A login record lives as long as the client id is connected. Checked a tick later: on a
    // takeover the old connection leaves before the new one is registered.
    broker.on('clientDisconnect', (client) => {
      setImmediate(() => {
        if (!broker.isConnected(client.clientId)) this.logins.delete(client.clientId)
      })
    })
  }

  /** Reads the files (a missing or malformed file rejects, naming it) and starts watching them. */
  static async create(broker: Broker, options: FileAccessOptions = {}): Promise<FileAccessControl> {
    const logger = broker.logger
    const passwords = options.passwordFile
      ? await WatchedFile.open(options.passwordFile, 'password file', parsePasswordFile, logger)
      : undefined
    try {
      const acl = options.aclFile
        ? await WatchedFile.open(options.aclFile, 'ACL file', parseAcl, logger)
        : undefined
      return new FileAccessControl(broker, passwords, acl)
    } catch (error) {
      await passwords?.close()
      throw error
    }
  }

  authenticate(credentials: Credentials): AuthResult {
    const result = this.check(credentials)
    if (result.code === ConnackCode.accepted) this.logins.set(credentials.clientId, result.kind)
    return result.code
  }

  private check({ clientId, username, password, address }: Credentials): {
    code: AuthResult
    kind: LoginKind
  } {
    if (this.identities.consume(username, password))
      return { code: ConnackCode.accepted, kind: 'certificate' }
    const single = this.broker.auth
    if (username !== undefined && username === single.username) {
      const code = single.check({ clientId, username, password, address })
      if (code === ConnackCode.accepted || !this.passwords) return { code, kind: 'single user' }
    }
    if (!this.passwords) {
      return { code: single.check({ clientId, username, password, address }), kind: 'anonymous' }
    }
    // With a password file anonymous clients are refused, as with a single user.
    if (username === undefined) return { code: ConnackCode.notAuthorized, kind: 'anonymous' }
    const hash = this.passwords.value.get(username)
    if (hash && verifyPassword(hash, password ?? noPassword))
      return { code: ConnackCode.accepted, kind: 'password file' }
    return { code: ConnackCode.badUserNameOrPassword, kind: 'password file' }
  }

  canPublish(client: ClientIdentity, topic: string): boolean {
    return this.allows(client, 'write', topic)
  }

  canSubscribe(client: ClientIdentity, filter: string): boolean {
    // A shared subscription is judged by the topics it reads: `$share/<group>/<filter>`.
    const shared = parseSharedFilter(filter)
    return this.allows(client, 'subscribe', shared && shared !== 'invalid' ? shared.filter : filter)
  }

  canRead(client: ClientIdentity, topic: string): boolean {
    const allowed = this.allows(client, 'read', topic)
    // Per delivery, so at debug: a wide subscription over a denied topic would flood the log.
    if (!allowed) this.broker.logger.debug({ clientId: client.clientId, topic }, 'delivery denied by ACL')
    return allowed
  }

  /** The files in force (undefined: none of that kind). */
  get passwordFile(): string | undefined {
    return this.passwords?.path
  }

  get aclFile(): string | undefined {
    return this.acl?.path
  }

  /**
   * Puts freshly read contents of the files in force (a reload that read them itself); users
   * no longer in the password file are disconnected, as when the file changes.
   */
  replaceContents(contents: { passwords?: Map<string, PasswordHash>; acl?: AclRules }): void {
    if (contents.passwords) this.passwords?.replace(contents.passwords)
    if (contents.acl) this.acl?.replace(contents.acl)
  }

  async close(): Promise<void> {
    await Promise.all([this.passwords?.close(), this.acl?.close()])
  }

  private allows(client: ClientIdentity, action: AclAction, topic: string): boolean {
    return this.acl ? aclAllows(this.acl.value, client, action, topic) : true
  }

  /**
   * A user taken out of the password file loses its connections at once (Mosquitto does the
   * same on reload). A changed password takes effect at the next CONNECT.
   */
  private dropRemovedUsers(users: Map<string, PasswordHash>): void {
    for (const { clientId, username: user } of this.broker.clientList()) {
      if (this.logins.get(clientId) !== 'password file' || user === undefined || users.has(user)) continue
      this.broker.logger.warn(
        { clientId, username: user },
        'user removed from the password file, disconnecting',
      )
      this.broker.disconnectClient(clientId, 'user removed from the password file')
    }
  }
}

/**
 * Installs file-based access control on a broker that is not started yet (so no client gets in
 * before it applies) when there is something for it to do: a password file, an ACL file, or a
 * listener that takes user names from client certificates. Closed with the broker.
 */
export async function installFileAccess(
  broker: Broker,
  options: FileAccessOptions & { certificateUsers?: boolean },
): Promise<FileAccessControl | undefined> {
  if (!options.passwordFile && !options.aclFile && !options.certificateUsers) return undefined
  if (broker.access)
    throw new Error('access control given twice: use either `access` or the password/ACL files')
  const access = await FileAccessControl.create(broker, options)
  broker.setAccessControl(access)
  broker.addCloseHook(() => access.close())
  return access
}
