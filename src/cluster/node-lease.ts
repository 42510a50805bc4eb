/**
 * "Exactly one node does X" (runs the scripts): a named lease in a KV bucket.
 *
 * The holder renews by compare-and-set (update from its last revision) every third of the
 * lease time. Others never read the holder's clock: a contender notes the key's revision and,
 * by its own monotonic clock, takes over with a compare-and-set once that revision has not
 * changed for a whole lease time. The holder, in turn, gives the lease up (event `lost`) when
 * no renewal has succeeded for two thirds of the lease time, counted from when it sent the last
 * renewal that succeeded. That renewal reached the server before any contender could have seen
 * its revision, so the holder stops at least a third of a lease time before anyone can start;
 * no clock sync, per-key TTL (nats-server 2.11) or server-side expiry is needed, and the lease
 * survives a server restart: the revision a contender saw is still there, and a holder that
 * lost the lease only through the outage takes it back at once (its own instance id is in the
 * value), unless a contender's compare-and-set got there first.
 *
 * A clean `stop()` deletes the key, so a contender takes over within a third of a lease time.
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { KV } from '@nats-io/kv'
import { isRevisionConflict, jsonObject, liveEntry } from './kv-util.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'

export interface NodeLeaseOptions {
  nodeId: string
  /** The lease's key in the leases bucket (default `scripts`). */
  name?: string
  /** Lease time in ms (default 10 s); a dead holder is replaced 1 to 1⅔ lease times after its last renewal. */
  leaseMs?: number
}

export interface NodeLeaseEvents {
  acquired: []
  /** `renewal overdue` (server unreachable), `taken over`, or `stopped`. */
  lost: [reason: string]
}

const LEASE_KEY = /^[-\w]+$/

export class NodeLease extends EventEmitter<NodeLeaseEvents> {
  private readonly key: string
  private readonly leaseMs: number
  private readonly instance = randomUUID()
  private timer: NodeJS.Timeout | undefined
  /** Fires when two thirds of a lease time pass without a successful renewal. */
  private deadline: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  private heldNow = false
  private revision = 0
  /** A contender's view: the holder's revision and when it was first seen. */
  private observed: { revision: number; since: number } | undefined

  private constructor(
    private readonly kv: KV,
    private readonly opts: NodeLeaseOptions,
  ) {
    super()
    this.key = opts.name ?? 'scripts'
    if (!LEASE_KEY.test(this.key)) throw new RangeError(`invalid lease name '${this.key}'`)
    this.leaseMs = opts.leaseMs ?? 10_000
    if (!(this.leaseMs >= 300)) throw new RangeError('leaseMs must be at least 300')
  }

  /**
   * Opens the leases bucket and starts competing for the lease. The first attempt runs on
   * the next turn of the event loop: attach `acquired`/`lost` listeners at once, or check
   * `held` after any other await.
   */
  static async start(conn: NatsConnection, names: ClusterNames, opts: NodeLeaseOptions): Promise<NodeLease> {
    const kv = await conn.kv(names.leasesBucket, { history: 1 })
    const lease = new NodeLease(kv, opts)
    lease.timer = setInterval(() => lease.tick(), Math.floor(lease.leaseMs / 3))
    lease.firstAttempt = new Promise((resolve) =>
      setImmediate(() => {
        lease.tick()
        void (lease.ticking ?? Promise.resolve()).finally(resolve)
      }),
    )
    return lease
  }

  private firstAttempt: Promise<void> = Promise.resolve()

  /** Resolves once the first attempt at the lease is over (`held` then says whether it won). */
  settled(): Promise<void> {
    return this.firstAttempt
  }

  get held(): boolean {
    return this.heldNow
  }

  /** The node id in the lease now, or undefined (read from the server, not from this node's view). */
  async holder(): Promise<string | undefined> {
    const entry = liveEntry(await this.kv.get(this.key))
    const node = entry && jsonObject(entry)?.node
    return typeof node === 'string' ? node : undefined
  }

  private tick(): void {
    // One request at a time: a renewal stuck on an unreachable server is not stacked with more.
    if (this.ticking || !this.timer) return
    this.ticking = this.attempt().finally(() => {
      this.ticking = undefined
    })
  }

  private async attempt(): Promise<void> {
    const value = JSON.stringify({ node: this.opts.nodeId, instance: this.instance, at: Date.now() })
    const sentAt = performance.now()
    try {
      if (this.revision > 0) {
        // Renew (or take back after an outage) from the revision this node wrote last.
        this.won(await this.kv.update(this.key, value, this.revision, Math.floor(this.leaseMs / 3)), sentAt)
        return
      }
      const entry = liveEntry(await this.kv.get(this.key))
      if (!entry) {
        this.won(await this.kv.create(this.key, value), sentAt)
        return
      }
      const v = jsonObject(entry)
      if (v?.instance === this.instance) {
        this.won(await this.kv.update(this.key, value, entry.revision), sentAt)
        return
      }
      const now = performance.now()
      if (this.observed?.revision !== entry.revision) {
        this.observed = { revision: entry.revision, since: now }
        return
      }
      if (now - this.observed.since >= this.leaseMs)
        this.won(await this.kv.update(this.key, value, entry.revision), sentAt)
    } catch (error) {
      if (isRevisionConflict(error)) {
        // Someone else wrote the key: read it afresh next time.
        this.revision = 0
        this.observed = undefined
        if (this.heldNow) this.lose('taken over')
      }
      // Other errors (timeouts, disconnected): retried next tick; the deadline timer gives the
      // lease up in time.
    }
  }

  private won(revision: number, sentAt: number): void {
    if (!this.timer) return
    this.revision = revision
    this.observed = undefined
    const left = (this.leaseMs * 2) / 3 - (performance.now() - sentAt)
    clearTimeout(this.deadline)
    if (left <= 0) return
    // A timer of its own, not the tick: a tick could notice up to a third of a lease too late.
    this.deadline = setTimeout(() => this.lose('renewal overdue'), left)
    if (!this.heldNow) {
      this.heldNow = true
      this.emit('acquired')
    }
  }

  private lose(reason: string): void {
    clearTimeout(this.deadline)
    if (!this.heldNow) return
    this.heldNow = false
    this.emit('lost', reason)
  }

  /** Stops competing; when holding, emits `lost('stopped')` and deletes the key for a quick failover. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.ticking
    const wasHeld = this.heldNow
    this.lose('stopped')
    if (wasHeld && this.revision > 0) {
      try {
        await this.kv.delete(this.key, { previousSeq: this.revision })
      } catch {
        // Taken over meanwhile, or the server is away: the lease then runs out for the others.
      }
    }
  }
}
