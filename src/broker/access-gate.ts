import type { SingleUserAuth } from './auth.ts'
import type { AccessChecks } from './core.ts'
import type { Counters } from './counters.ts'
import { bridgeStatePrefix, isSysTopic } from './topic-rules.ts'
import type { AccessControl, AuthResult, ClientIdentity, Credentials } from './types.ts'

/**
 * The access hooks in force, replaceable at run time (setAccessControl), with the single user
 * as the authenticator when the hooks bring none. A missing hook allows.
 */
export class AccessGate implements AccessChecks {
  constructor(
    private readonly single: SingleUserAuth,
    public hooks: AccessControl | undefined,
    private readonly counters: Counters,
  ) {}

  authenticate(credentials: Credentials): AuthResult {
    const hooks = this.hooks
    const result = hooks?.authenticate ? hooks.authenticate(credentials) : this.single.check(credentials)
    if (result !== 0) this.counters.authFailures++
    return result
  }

  mayPublish(client: ClientIdentity, topic: string): boolean {
    // Mosquitto's rule: $SYS is the broker's to write; clients may only post a bridge's state.
    if (isSysTopic(topic) && !topic.startsWith(bridgeStatePrefix)) return false
    const hooks = this.hooks
    return !hooks?.canPublish || hooks.canPublish(client, topic)
  }

  maySubscribe(client: ClientIdentity, filter: string): boolean {
    const hooks = this.hooks
    return !hooks?.canSubscribe || hooks.canSubscribe(client, filter)
  }

  /** Checked per delivery, so a filter granted with wildcards cannot read a denied topic. */
  mayRead(client: ClientIdentity, topic: string): boolean {
    const hooks = this.hooks
    return !hooks?.canRead || hooks.canRead(client, topic)
  }
}
