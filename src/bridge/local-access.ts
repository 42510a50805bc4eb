import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { Broker } from '../broker/broker.ts'
import { ConnackCode } from '../broker/protocol/reason-codes.ts'
import type { AccessControl, AuthResult, ClientIdentity, Credentials } from '../broker/types.ts'

/**
 * Lets the bridges' in-process clients in without a configured password and past the ACL, as
 * Mosquitto trusts its bridges. Each trusted client id logs in with a random token that only
 * this process knows; anybody else presenting that client id is refused, so no client can
 * take over (and drain) a bridge's queue.
 *
 * It wraps the broker's access control; the ACL hooks are wrapped only when they exist, so a
 * broker without an ACL keeps its delivery path free of checks.
 */
export class TrustedClients {
  private readonly tokens = new Map<string, Buffer>()

  private constructor(private readonly broker: Broker) {}

  /** The broker's one instance, installed on first use. */
  static of(broker: Broker): TrustedClients {
    let trusted = installed.get(broker)
    if (!trusted) {
      trusted = new TrustedClients(broker)
      trusted.install()
      installed.set(broker, trusted)
    }
    return trusted
  }

  /** Trusts `clientId`; returns the password it must present. */
  add(clientId: string): Buffer {
    const token = randomBytes(32)
    this.tokens.set(clientId, token)
    return token
  }

  remove(clientId: string): void {
    this.tokens.delete(clientId)
  }

  private install(): void {
    const broker = this.broker
    const inner = broker.access
    const trusted = (client: ClientIdentity): boolean => this.tokens.has(client.clientId)
    const access: AccessControl = {
      authenticate: (credentials: Credentials): AuthResult => {
        const token = this.tokens.get(credentials.clientId)
        if (token !== undefined) {
          const given = credentials.password
          return given !== undefined && given.length === token.length && timingSafeEqual(given, token)
            ? ConnackCode.accepted
            : ConnackCode.notAuthorized
        }
        return inner?.authenticate ? inner.authenticate(credentials) : broker.auth.check(credentials)
      },
    }
    const { canPublish, canSubscribe, canRead } = inner ?? {}
    if (canPublish) access.canPublish = (c, topic) => trusted(c) || canPublish.call(inner, c, topic)
    if (canSubscribe) access.canSubscribe = (c, filter) => trusted(c) || canSubscribe.call(inner, c, filter)
    if (canRead) access.canRead = (c, topic) => trusted(c) || canRead.call(inner, c, topic)
    broker.setAccessControl(access)
  }
}

const installed = new WeakMap<Broker, TrustedClients>()
