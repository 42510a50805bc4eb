/**
 * Expires the persistent sessions of nodes that died. A node expires the sessions it holds
 * itself (the broker's expiry timer); the sessions of a node that was killed have nobody to do
 * that, and their records (and the messages kept for them) would stay for good, with every
 * publisher still keeping copies for them.
 *
 * Every node checks, every CHECK_MS, the nodes its session directory names as holders against
 * presence. A session of a node that is gone counts as disconnected from its record's
 * `disconnectedAt`, or, when its client was connected as the node died, from when this node
 * first saw the node gone; once its expiry interval has passed, the record is deleted if it is
 * still the one seen (compare-and-set: a client that came back elsewhere moved it on), and its
 * kept messages with it. Several nodes may try; one delete wins.
 *
 * A node is judged only after it has been seen gone for the presence TTL plus the reconnect
 * slack, and nobody is judged right after this node's own NATS connection came back (the
 * others may be on their way back too), as in dead-node-wills.ts.
 */
import type { Logger } from 'pino'
import { RECONNECT_SLACK_MS } from './dead-node-wills.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'
import { PeriodicSweep } from './periodic-sweep.ts'
import type { SessionDirectory } from './session-directory.ts'
import type { SessionMessages } from './session-messages.ts'

const CHECK_MS = 5000
const CHECK_GUARD_MS = 10_000
/** Session Expiry Interval meaning "never" (MQTT 3.x clean session 0). */
const NEVER = 0xffffffff

export class DeadNodeSessions {
  private readonly sweep: PeriodicSweep
  /** When each holder node was first seen gone (ms since the epoch). */
  private readonly goneSince = new Map<string, number>()

  constructor(
    conn: NatsConnection,
    private readonly presence: NodePresence,
    private readonly directory: SessionDirectory,
    private readonly messages: SessionMessages,
    private readonly logger: Logger,
  ) {
    // Judged afresh after an outage of our own: who was "gone" may only have been unreachable.
    conn.on('reconnected', () => this.goneSince.clear())
    const options = {
      everyMs: CHECK_MS,
      guardMs: CHECK_GUARD_MS,
      failure: "cluster: expiring dead nodes' sessions failed; trying again",
      logger,
    }
    this.sweep = new PeriodicSweep(conn, options, () => this.checkOnce())
  }

  start(): void {
    this.sweep.start()
  }

  stop(): void {
    this.sweep.stop()
  }

  private async checkOnce(): Promise<void> {
    const alive = new Set(await this.presence.alive())
    alive.add(this.presence.nodeId)
    const now = Date.now()
    const judgeAfter = this.presence.ttlMs + RECONNECT_SLACK_MS
    for (const node of this.goneSince.keys()) if (alive.has(node)) this.goneSince.delete(node)
    for (const node of this.directory.holders()) {
      if (alive.has(node)) continue
      const since = this.goneSince.get(node)
      if (since === undefined) {
        this.goneSince.set(node, now)
        continue
      }
      if (now - since < judgeAfter) continue
      for (const record of this.directory.heldBy(node)) {
        if (record.expiryInterval >= NEVER) continue
        const from = record.disconnectedAt ?? since
        if (now < from + record.expiryInterval * 1000) continue
        if (!(await this.directory.deleteIfUnchanged(record.clientId))) continue
        this.messages.purge(record.clientId)
        this.logger.info({ clientId: record.clientId, node }, 'cluster: session of a dead node expired')
      }
    }
  }
}
