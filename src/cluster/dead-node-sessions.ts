/**
 * The persistent sessions of nodes that died. A node holds its own sessions (the broker's
 * expiry timer, its queue limit); the sessions of a node that was killed have nobody doing
 * that, and their records (and the messages kept for them, with every publisher still keeping
 * copies) would grow for good.
 *
 * Every node checks, every CHECK_MS, the nodes its session directory names as holders against
 * presence, and the runs of those nodes the records name: a node killed and started again under
 * its id (a supervisor's restart) is alive, but the sessions of its previous run have nobody
 * holding them until their clients come back, and are judged like those of a dead node. A
 * session of a node that is gone counts as disconnected from its record's `disconnectedAt`,
 * or, when its client was connected as the node died, from when this node first saw the node
 * gone. Then:
 * - a session whose expiry interval has passed is deleted, if its record is still the one seen
 *   (compare-and-set: a client that came back elsewhere moved it on), with its kept messages;
 * - any other is taken in by one live node (chosen by the client id, so a dead node's sessions
 *   spread over the others): its record is rewritten to name that node, again by
 *   compare-and-set, and its broker holds the session offline from then on
 *   (SessionFabricInlet.adopt), with the queue limit applied to what was kept and to what comes,
 *   and its own expiry timer. Should the chosen node not do it, any node does after
 *   ADOPT_FALLBACK_MS more.
 *
 * A node is judged only after it has been seen gone for the presence TTL plus the reconnect
 * slack, and nobody is judged right after this node's own NATS connection came back (the
 * others may be on their way back too), as in dead-node-wills.ts.
 */
import type { Logger } from 'pino'
import { RECONNECT_SLACK_MS } from './dead-node-wills.ts'
import { isLeftOver, type LiveRuns } from './kv-util.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'
import { PeriodicSweep } from './periodic-sweep.ts'
import type { ClusterSessionRecord, SessionDirectory } from './session-directory.ts'
import type { SessionMessages } from './session-messages.ts'

const CHECK_MS = 5000
/** How long past the judgement the other nodes leave a dead node's session to the chosen one. */
const ADOPT_FALLBACK_MS = 30_000
/** Compare-and-sets of one check in flight at once. */
const AT_ONCE = 32
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
    /** Hands a session this node took in to its broker (SessionFabricInlet.adopt). */
    private readonly adopt: (record: ClusterSessionRecord) => void,
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
    const self = this.presence.nodeId
    const due: (() => Promise<'expired' | 'takenIn' | undefined>)[] = []
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
        const from = record.disconnectedAt ?? since
        if (record.expiryInterval < NEVER && now >= from + record.expiryInterval * 1000) {
          due.push(() => this.expire(record, node))
          continue
        }
        if (now - since < judgeAfter + ADOPT_FALLBACK_MS && chosenFor(record.clientId, alive) !== self)
          continue
        due.push(() => this.takeIn(record, node, from))
      }
    }
    // A node that held many sessions: their compare-and-sets go AT_ONCE at a time, not one by one.
    const done = { expired: 0, takenIn: 0 }
    for (let i = 0; i < due.length; i += AT_ONCE)
      for (const outcome of await Promise.all(due.slice(i, i + AT_ONCE).map((job) => job())))
        if (outcome !== undefined) done[outcome]++
    if (done.expired + done.takenIn > 0)
      this.logger.info(done, "cluster: dead nodes' sessions expired or taken in")
    for (const gone of this.goneSince.keys()) if (!over.has(gone)) this.goneSince.delete(gone)
  }

  private async expire(record: ClusterSessionRecord, node: string): Promise<'expired' | undefined> {
    if (!(await this.directory.deleteIfUnchanged(record.clientId))) return undefined
    this.messages.purge(record.clientId)
    this.logger.debug({ clientId: record.clientId, node }, 'cluster: session of a dead node expired')
    return 'expired'
  }

  private async takeIn(
    record: ClusterSessionRecord,
    node: string,
    disconnectedAt: number,
  ): Promise<'takenIn' | undefined> {
    const { inflight: _unknown, ...rest } = record
    const adopted: ClusterSessionRecord = { ...rest, node: this.presence.nodeId, disconnectedAt }
    if (this.presence.run !== undefined) adopted.run = this.presence.run
    else delete adopted.run
    if (!(await this.directory.replaceIfUnchanged(adopted))) return undefined
    this.adopt(adopted)
    this.logger.debug({ clientId: record.clientId, node }, 'cluster: took in a session of a dead node')
    return 'takenIn'
  }
}

/**
 * The live node that takes in `clientId`'s session: the highest of a hash of the client id with
 * each node's id (rendezvous hashing), so every node picks the same one and a node's leaving
 * moves only its own share.
 */
export function chosenFor(clientId: string, alive: LiveRuns): string | undefined {
  let best: string | undefined
  let bestScore = -1
  for (const node of alive.keys()) {
    const score = fnv1a(`${node}\n${clientId}`)
    if (score > bestScore || (score === bestScore && best !== undefined && node < best)) {
      best = node
      bestScore = score
    }
  }
  return best
}

/** 32-bit FNV-1a of a string's UTF-16 code units: cheap, and the same on every node. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
