/**
 * This node's copy of the cluster's retained messages. The truth is the JetStream stream
 * (retained-store.ts); the node follows it and mirrors every change into the broker's own
 * retained tree through the fabric inlet. Subscribing then reads retained messages locally and
 * synchronously, through the same code as on a single node, so the ACL's read check applies
 * exactly as there, and a wildcard subscription costs no round trip to NATS.
 *
 * When following (re)starts, the stream's current messages are replayed; once caught up, the
 * topics this node still holds that the stream did not name are deleted here (retained
 * messages from the local store of a node that was offline, or deletes it missed).
 */
import type { Logger } from 'pino'
import type { FabricInlet, Message } from '../broker/types.ts'
import type { RetainedFollowing, RetainedMessage, RetainedStore } from './retained-store.ts'

/** A guard against a follow that never reports being caught up; not a measure of speed. */
const CATCH_UP_GUARD_MS = 30_000
const RETRY_MS = 2_000
/**
 * How long a new subscription's retained messages wait for this node's copy to catch up with
 * the stream (ready()); past it they are sent from the copy as it is. A guard, not a speed.
 */
export const READY_GUARD_MS = 2_000

export class RetainedReplica {
  private handle: RetainedFollowing | undefined
  /** The stream sequence handled last by the current follow. */
  private position = 0
  private readonly positionWaiters = new Set<() => void>()
  private readyCheck: Promise<void> | undefined
  /** Topics seen since following began, until caught up. */
  private seen: Set<string> | undefined
  private stopped = false
  private retry: NodeJS.Timeout | undefined
  private caughtUp: (() => void) | undefined
  private restarting = false
  private again = false
  /** Changes applied from the stream (for tests and stats). */
  applied = 0

  constructor(
    private readonly store: RetainedStore,
    private readonly inlet: FabricInlet,
    private readonly logger: Logger,
  ) {}

  /** Follows the stream; resolves once this node's copy matches it (or after a long guard). */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => {
        this.logger.warn('cluster: retained messages not caught up yet; carrying on')
        resolve()
      }, CATCH_UP_GUARD_MS)
      guard.unref()
      this.caughtUp = () => {
        clearTimeout(guard)
        resolve()
      }
      this.follow().catch((error: unknown) => {
        clearTimeout(guard)
        reject(error)
      })
    })
  }

  /**
   * Follows again from the start (after NATS came back, or the consumer was lost). One
   * restart at a time: a request during one runs another after it, so no consumer is left
   * running unstopped.
   */
  resync(): void {
    if (this.stopped) return
    if (this.restarting) {
      this.again = true
      return
    }
    this.restarting = true
    void this.restart().finally(() => {
      this.restarting = false
      if (this.again) {
        this.again = false
        this.resync()
      }
    })
  }

  /**
   * Resolves once this copy holds every change the stream had when it was called, or after
   * READY_GUARD_MS, or at once when the server cannot be asked. Calls in one event-loop turn
   * share one question to the server; a call after it was sent asks again, since a write
   * stored meanwhile must be included.
   */
  ready(): Promise<void> {
    if (this.readyCheck === undefined) {
      const check = new Promise<void>((resolve) =>
        setImmediate(() => {
          if (this.readyCheck === check) this.readyCheck = undefined
          this.catchUp(Date.now() + READY_GUARD_MS).then(resolve, resolve)
        }),
      )
      this.readyCheck = check
    }
    return this.readyCheck
  }

  private async catchUp(deadline: number): Promise<void> {
    for (;;) {
      const handle = this.handle
      if (!handle || this.stopped) return
      // A server that does not answer (NATS away) costs no more than the guard.
      const now = await Promise.race([handle.position(), this.nextPosition(deadline - Date.now(), false)])
      if (now === undefined) {
        this.logger.warn('cluster: no answer about the retained stream; sending what this node has')
        return
      }
      if (handle !== this.handle) continue
      const { pending, delivered } = now
      if (pending === 0 && this.position >= delivered) return
      if (Date.now() >= deadline) {
        this.logger.warn('cluster: retained copy still catching up; sending what this node has')
        return
      }
      await this.nextPosition(Math.max(1, Math.min(50, deadline - Date.now())))
    }
  }

  /** Resolves at the next handled stream message (unless `wake` is false) or after `timeoutMs`. */
  private nextPosition(timeoutMs: number, wake = true): Promise<undefined> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.positionWaiters.delete(done)
        resolve(undefined)
      }
      const timer = setTimeout(done, Math.max(0, timeoutMs))
      timer.unref()
      if (wake) this.positionWaiters.add(done)
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.retry)
    await this.handle?.stop().catch(() => undefined)
    this.handle = undefined
  }

  private async restart(): Promise<void> {
    const old = this.handle
    this.handle = undefined
    await old?.stop().catch(() => undefined)
    try {
      await this.follow()
    } catch (error) {
      this.logger.warn({ err: error }, 'cluster: following retained messages failed; retrying')
      clearTimeout(this.retry)
      this.retry = setTimeout(() => this.resync(), RETRY_MS)
      this.retry.unref()
    }
  }

  private async follow(): Promise<void> {
    this.seen = new Set()
    this.position = 0
    this.handle = await this.store.follow({
      change: (topic, message) => this.change(topic, message),
      at: (seq) => {
        this.position = seq
        for (const wake of [...this.positionWaiters]) wake()
      },
      caughtUp: () => this.reconcile(),
      lost: (reason) => {
        this.logger.warn({ reason }, 'cluster: retained consumer lost; following again')
        this.resync()
      },
    })
    if (this.stopped) await this.stop()
  }

  private change(topic: string, message: RetainedMessage | undefined): void {
    this.seen?.add(topic)
    this.applied++
    this.inlet.retain(toBrokerMessage(topic, message))
  }

  private reconcile(): void {
    const seen = this.seen
    this.seen = undefined
    if (seen) {
      for (const topic of this.inlet.retainedTopics()) {
        if (!seen.has(topic)) this.inlet.retain(toBrokerMessage(topic, undefined))
      }
    }
    const done = this.caughtUp
    this.caughtUp = undefined
    done?.()
  }
}

function toBrokerMessage(topic: string, m: RetainedMessage | undefined): Message {
  if (m === undefined) return { topic, payload: Buffer.alloc(0), qos: 0, retain: true }
  return {
    topic,
    payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
    qos: m.qos,
    retain: true,
    properties: m.properties,
    expiresAt: m.expiresAt,
  }
}
