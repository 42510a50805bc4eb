import type { Session } from './sessions.ts'
import type { Subscription } from './subscription.ts'
import type { QoS } from './types.ts'

/**
 * One shared subscription group on one filter. In the subscription tree it is a single
 * subscriber; each message it matches goes to one member, round robin among the members
 * online, and to an offline persistent member only when none is online.
 */
export class SharedGroup {
  routeEpoch = 0
  routeQos: QoS = 0
  routeRetain = false
  routeIds: number[] | undefined
  readonly members = new Map<Session, Subscription>()
  /** Whether the group counts under its filter in the interest counts (not when clustered). */
  countsInterest = false
  private turn = 0

  constructor(
    readonly group: string,
    readonly filter: string,
  ) {}

  hasOnlineMember(): boolean {
    for (const session of this.members.keys()) if (session.outlet !== undefined) return true
    return false
  }

  pick(): [Session, Subscription] | undefined {
    const members = [...this.members]
    let pool = members.filter(([session]) => session.outlet !== undefined)
    if (pool.length === 0) pool = members.filter(([session]) => session.expiryInterval > 0)
    if (pool.length === 0) return undefined
    this.turn = (this.turn + 1) % 1_000_000_007
    return pool[this.turn % pool.length]
  }
}
