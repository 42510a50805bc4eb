/**
 * Writes this node's retained publishes to the cluster's retained stream and knows which are
 * not stored yet, so the broker can hold a QoS 1/2 publisher's PUBACK/PUBREC until JetStream
 * has the message (`settled`, part of the router's flush): an acknowledged retained message is
 * never lost with a failed write.
 *
 * Writes go out at once and in call order on the node's one connection, so the stream keeps
 * the publish order per topic. A write that fails (NATS away, JetStream timeout) is sent again
 * every second while it is still the newest write for its topic; a newer write for the topic
 * supersedes it (last writer wins anyway), and the acknowledgements it held go with the newer
 * one's outcome. Nothing is dropped while it is the newest.
 */
import type { Logger } from 'pino'
import type { RetainedMessage, RetainedStore } from './retained-store.ts'

const RETRY_MS = 1000

interface Pending {
  message: RetainedMessage
  /** Resolves once stored or superseded. */
  done: Promise<void>
  settle: () => void
}

export class RetainedWriter {
  /** The newest write per topic not stored yet. */
  private readonly newest = new Map<string, Pending>()
  /** Every write not settled yet (stored or superseded), for `settled`. */
  private readonly open = new Set<Promise<void>>()
  private stopped = false

  constructor(
    private readonly store: RetainedStore,
    private readonly logger: Logger,
  ) {}

  write(message: RetainedMessage): void {
    const older = this.newest.get(message.topic)
    let settle!: () => void
    const done = new Promise<void>((resolve) => {
      settle = resolve
    })
    const pending: Pending = { message, done, settle }
    this.newest.set(message.topic, pending)
    this.open.add(done)
    void done.then(() => this.open.delete(done))
    // The older write, if it is still failing and retrying, is superseded by this one; its
    // acknowledgements now wait for this write.
    if (older) void done.then(older.settle)
    this.send(pending)
  }

  /** Resolves once every write made so far is stored (or superseded by a stored one). */
  async settled(): Promise<void> {
    if (this.open.size > 0) await Promise.all([...this.open])
  }

  /** Stops retrying; writes not stored are given up (the node is closing). */
  stop(): void {
    this.stopped = true
    for (const p of this.newest.values()) p.settle()
    this.newest.clear()
  }

  private send(pending: Pending): void {
    this.store.put(pending.message).then(
      () => {
        if (this.newest.get(pending.message.topic) === pending) this.newest.delete(pending.message.topic)
        pending.settle()
      },
      (error: unknown) => {
        if (this.stopped || this.newest.get(pending.message.topic) !== pending) return
        this.logger.warn(
          { err: error, topic: pending.message.topic },
          'cluster: storing a retained message failed; acknowledgements held, retrying',
        )
        setTimeout(() => {
          if (!this.stopped && this.newest.get(pending.message.topic) === pending) this.send(pending)
        }, RETRY_MS).unref()
      },
    )
  }
}
