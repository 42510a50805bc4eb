/**
 * Publishes the wills of the clients of a node that died (kill -9, power, lost network): the
 * will registry still holds their entries, and presence (node-presence.ts) no longer lists
 * their node. Every node sweeps; of several sweepers exactly one takes each entry (a
 * compare-and-set delete), publishes the will after its Will Delay, unless the client has
 * connected again meanwhile, and frees the dead node's client-id lock.
 *
 * Timing: a node is seen dead one presence TTL after its last heartbeat (default 6 s, heartbeat
 * every 2 s); sweeps run every second, so a will is out within TTL + about 2 s of the death (plus
 * its Will Delay). A node that lost NATS itself judges nobody until a whole TTL after it is back,
 * (and the reconnect gap of the others), so nodes that come back from the same outage a little
 * later are not taken for dead.
 */
import type { Logger } from 'pino'
import type { PublishInput } from '../broker/types.ts'
import type { ClientLock } from './client-lock.ts'
import type { LiveRuns } from './kv-util.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { NodePresence } from './node-presence.ts'
import { PeriodicSweep } from './periodic-sweep.ts'
import type { StoredWill, WillRegistry } from './will-registry.ts'

const SWEEP_MS = 1000
/**
 * After this node (re)connects, the others may still be on their way back: NATS clients retry
 * with growing gaps, up to 10 s apart (nats-connection.ts), then heartbeat. Nobody is judged
 * until that is over as well as a whole TTL.
 */
export const RECONNECT_SLACK_MS = 12_000
/**
 * A sweep that has not finished after this is no longer waited for: a KV listing caught by a
 * NATS outage can hang, and must not stop every later sweep (a late finish is harmless, each
 * will is taken by compare-and-set).
 */
const SWEEP_GUARD_MS = 10_000
/**
 * The will bucket is listed whole at the first sweep (for nodes that died before this one
 * started) and then only this often (for a node that came and went between two readings a
 * second apart): such a listing streams every key, about 11 s at a million. A node seen alive
 * that is gone, or heartbeats from another run, has its own wills listed by their key prefix.
 * The lock bucket (keys by client id alone) is listed whole in both cases, after the wills.
 */
const FULL_SWEEP_MS = 600_000
/**
 * Wills taken (compare-and-set deletes) at once. Against nats-server 2.9.10 here, 20,000 were
 * taken in 4.1 s one by one, 1.5 s 32 at a time, 1.3 s 128 at a time (an ad hoc probe).
 */
const TAKES_AT_ONCE = 32

export class DeadNodeWills {
  private readonly sweep: PeriodicSweep
  /** No judging before this time (ms, monotonic): right after start or after a NATS outage. */
  private quietUntil: number
  private readonly delayed = new Set<NodeJS.Timeout>()
  /** The nodes alive at the last reading with their runs, and when the buckets were last listed (ms, monotonic). */
  private lastAlive: LiveRuns = new Map()
  private lastFullSweep = Number.NEGATIVE_INFINITY

  constructor(
    conn: NatsConnection,
    private readonly presence: NodePresence,
    private readonly wills: WillRegistry,
    private readonly lock: ClientLock,
    private readonly publish: (input: PublishInput) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.quietUntil = performance.now() + presence.ttlMs
    conn.on('reconnected', () => {
      this.quietUntil = performance.now() + presence.ttlMs + RECONNECT_SLACK_MS
    })
    const options = {
      everyMs: SWEEP_MS,
      guardMs: SWEEP_GUARD_MS,
      failure: 'cluster: sweeping the wills of dead nodes failed; trying again',
      logger,
      ready: () => performance.now() >= this.quietUntil,
    }
    this.sweep = new PeriodicSweep(conn, options, () => this.sweepOnce())
  }

  start(): void {
    this.sweep.start()
  }

  stop(): void {
    this.sweep.stop()
    for (const t of this.delayed) clearTimeout(t)
    this.delayed.clear()
  }

  private async sweepOnce(): Promise<void> {
    const alive = await this.presence.aliveRuns()
    // A node gone, or started again since (another run): its previous run left wills behind.
    const lost = [...this.lastAlive]
      .filter(([node, run]) => !alive.has(node) || alive.get(node) !== run)
      .map(([node]) => node)
    const now = performance.now()
    const full = now - this.lastFullSweep >= FULL_SWEEP_MS
    if (lost.length === 0 && !full) {
      this.lastAlive = alive
      return
    }
    // The wills of the nodes seen going are listed by their key prefix, in time proportional
    // to their own clients; the whole bucket only at a full sweep.
    const orphans = await this.wills.orphans(alive, full ? undefined : lost)
    // TAKES_AT_ONCE compare-and-sets at a time, not one by one (a round trip each).
    for (let i = 0; i < orphans.length; i += TAKES_AT_ONCE) {
      const batch = orphans.slice(i, i + TAKES_AT_ONCE)
      const taken = await Promise.all(batch.map((orphan) => this.wills.take(orphan.key, orphan.revision)))
      batch.forEach((orphan, j) => {
        if (taken[j]) this.schedule(orphan)
      })
    }
    // Clients of dead nodes that left no will: their locks would stay until they came back,
    // and the bucket would grow with every crash. A will taken above publishes without the
    // lock (the client cannot have come back to a live node while its lock was still there).
    const freed = await this.lock.freeOrphans(alive)
    if (freed > 0) this.logger.info({ freed }, "cluster: freed the client-id locks of dead nodes' clients")
    // Only now: a listing that failed is tried again at the next sweep, not 30 s later.
    this.lastAlive = alive
    if (full) this.lastFullSweep = now
  }

  private schedule(orphan: StoredWill): void {
    const run = (): void => void this.fire(orphan)
    if (orphan.will.delaySeconds <= 0) {
      run()
      return
    }
    const t = setTimeout(() => {
      this.delayed.delete(t)
      run()
    }, orphan.will.delaySeconds * 1000)
    t.unref()
    this.delayed.add(t)
  }

  private async fire(orphan: StoredWill): Promise<void> {
    try {
      const holder = await this.lock.holder(orphan.clientId)
      // The client connected again (on a live node, or on its own node started again) before
      // the will was due: no will.
      if (holder && (holder.nodeId !== orphan.node || holder.run !== orphan.run)) return
      const { willDelayInterval: _delay, ...properties } = (orphan.will.properties ?? {}) as Record<
        string,
        unknown
      >
      await this.publish({
        topic: orphan.will.topic,
        payload: orphan.will.payload,
        qos: orphan.will.qos,
        retain: orphan.will.retain,
        ...(Object.keys(properties).length > 0
          ? { properties: properties as PublishInput['properties'] }
          : {}),
      })
      this.logger.info(
        { clientId: orphan.clientId, node: orphan.node, topic: orphan.will.topic },
        'cluster: published the will of a client of a dead node',
      )
      if (holder) await this.lock.release(orphan.clientId, holder.revision)
    } catch (error) {
      this.logger.warn(
        { err: error, clientId: orphan.clientId },
        "cluster: publishing a dead node's will failed",
      )
    }
  }
}
