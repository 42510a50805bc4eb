/**
 * Expires the persistent sessions of nodes that died. A node expires the sessions it holds
 * itself (the broker's expiry timer); the sessions of a node that was killed have nobody to do
 * that, and their records (and the messages kept for them) would stay for good, with every
 * publisher still keeping copies for them.
 *
 * Every node checks, every CHECK_MS, the nodes its session directory names as holders against
 * presence, and the runs of those nodes the records name: a node killed and started again under
 * its id (a supervisor's restart) is alive, but the sessions of its previous run have nobody
 * holding them until their clients come back, and are judged like those of a dead node. A
 * session of a node that is gone counts as disconnected from its record's `disconnectedAt`,
 * or, when its client was connected as the node died, from when this node first saw the node
 * gone; once its expiry interval has passed, the record is deleted if it is still the one seen
 * (compare-and-set: a client that came back elsewhere moved it on), and its kept messages with
 * it. Several nodes may try; one delete wins.
 *
 * A node is judged only after it has been seen gone for the presence TTL plus the reconnect
 * slack, and nobody is judged right after this node's own NATS connection came back (the
 * others may be on their way back too), as in dead-node-wills.ts.
 */
import type { Logger } from 'pino'
import { RECONNECT_SLACK_MS } from './dead-node-wills.ts'
import { isLeftOver } from './kv-util.ts'
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
  /** When each run of a holder node (`<node>\n<run>`) was first seen over (ms since the epoch). */
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
    const alive = await this.presence.aliveRuns()
    const now = Date.now()
    const judgeAfter = this.presence.ttlMs + RECONNECT_SLACK_MS
    const over = new Set<string>()
    for (const node of this.directory.holders()) {
      // Runs of the node that are over: all of them if it is gone, the earlier ones if it was
      // started again since (the records it has not rewritten yet).
      const runs = this.directory.runsOf(node).filter((run) => isLeftOver(alive, node, run || undefined))
      for (const run of runs) over.add(`${node}\n${run}`)
      if (runs.length === 0) continue
      for (const record of this.directory.heldBy(node)) {
        const gone = `${node}\n${record.run ?? ''}`
        if (!over.has(gone)) continue
        const since = this.goneSince.get(gone)
        if (since === undefined) {
          this.goneSince.set(gone, now)
          continue
        }
        if (now - since < judgeAfter) continue
        if (record.expiryInterval >= NEVER) continue
        const from = record.disconnectedAt ?? since
        if (now < from + record.expiryInterval * 1000) continue
        if (!(await this.directory.deleteIfUnchanged(record.clientId))) continue
        this.messages.purge(record.clientId)
        this.logger.info({ clientId: record.clientId, node }, 'cluster: session of a dead node expired')
      }
    }
    for (const gone of this.goneSince.keys()) if (!over.has(gone)) this.goneSince.delete(gone)
  }
}
