import type { Logger } from 'pino'

/**
 * A publishing connection that can be held back: it stops reading (TCP back-pressure) until
 * every congested subscriber it waits for has room again or stopped counting.
 */
export interface FlowSource {
  /** The congested sessions it waits for; undefined or empty while it reads freely. */
  waitingOn: Set<FlowSubscriber> | undefined
  /** Keepalive bookkeeping: time held back is not the client's silence. */
  lastActivity: number
  pause(): void
  resume(): void
}

/**
 * A subscriber session as flow control sees it: what it needs to hold publishers for it and
 * to tell whether it still progresses. Session (sessions.ts) implements it; naming only this,
 * flow control does not import sessions.ts, which imports it.
 */
export interface FlowSubscriber {
  readonly clientId: string
  /** Messages waiting for room in its in-flight window. */
  readonly queued: number
  /** PUBACK/PUBREC/PUBCOMP count: progress, as the stall check sees it. */
  readonly acks: number
  /** When it last acknowledged, kept only while it holds publishers back. */
  readonly lastAckAt: number
  /** The publishing connections held back by its queue, and the flow control holding them. */
  waiters: Set<FlowSource> | undefined
  flow: FlowControl | undefined
  stalled: boolean
  acksAtStall: number
}

/** What the stall check remembers of a congested session. */
interface Watch {
  /** When it became congested: a subscriber idle before that gets the full stallTimeout from here. */
  since: number
}

const keepaliveRefreshMs = 1000

/**
 * Flow control for QoS 1/2: instead of dropping what a connected, acknowledging subscriber
 * cannot take yet, the publishing connections that feed it stop reading while its queue is
 * above the high-water mark, and read again once it is down to the low-water mark.
 *
 * Pausing is per publishing connection and per subscriber: a connection waits only for the
 * sessions it fed past their mark, so unrelated publishers keep flowing. A subscriber that
 * acknowledges nothing for `stallTimeoutMs` counts as stalled: it no longer holds anyone
 * back, and what exceeds its maxQueuedMessages is dropped (logged and counted), as for an
 * offline session. Its next acknowledgement makes it count as progressing again.
 *
 * Publishes that have no connection to pause (broker.publish, scripts, wills) are never
 * held; they follow the queue limit as before.
 */
export class FlowControl {
  /** Congested sessions with publishers waiting for them, checked for stalls by one timer. */
  private readonly watched = new Map<FlowSubscriber, Watch>()
  private timer: NodeJS.Timeout | undefined
  /** Released publishers, resumed together outside whatever released them. */
  private readonly resuming = new Set<FlowSource>()
  private resumeScheduled = false

  constructor(
    private readonly stallTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.enabled = stallTimeoutMs > 0
  }

  /** stallTimeout 0 turns flow control off. */
  readonly enabled: boolean

  /** How many publishing connections are held back right now (for tests and stats). */
  get heldPublishers(): number {
    const held = new Set<FlowSource>()
    for (const session of this.watched.keys()) for (const source of session.waiters ?? []) held.add(source)
    return held.size
  }

  /** `source` just queued a message for `session` above its high-water mark. */
  hold(source: FlowSource, session: FlowSubscriber): void {
    source.waitingOn ??= new Set()
    if (source.waitingOn.has(session)) return
    source.waitingOn.add(session)
    session.waiters ??= new Set()
    session.waiters.add(source)
    session.flow = this
    this.resuming.delete(source)
    if (source.waitingOn.size === 1) source.pause()
    if (!this.watched.has(session)) {
      this.watched.set(session, { since: Date.now() })
      this.startTimer()
    }
  }

  /** The session's queue is down to its low-water mark (called by the session). */
  relieved(session: FlowSubscriber): void {
    this.release(session)
  }

  /** The session's client went: an offline session never holds publishers back. */
  offline(session: FlowSubscriber): void {
    this.release(session)
  }

  /** A publishing connection closed: it waits for nobody any more. */
  forget(source: FlowSource): void {
    this.resuming.delete(source)
    const sessions = source.waitingOn
    if (sessions === undefined) return
    source.waitingOn = undefined
    for (const session of sessions) {
      session.waiters?.delete(source)
      if (session.waiters?.size === 0) this.unwatch(session)
    }
  }

  /** Stops the stall check (broker shutdown); connections are closed separately. */
  close(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.watched.clear()
  }

  private release(session: FlowSubscriber): void {
    const waiters = session.waiters
    this.unwatch(session)
    if (waiters === undefined) return
    for (const source of waiters) {
      source.waitingOn?.delete(session)
      if (source.waitingOn?.size === 0) this.resuming.add(source)
    }
    if (this.resuming.size > 0 && !this.resumeScheduled) {
      this.resumeScheduled = true
      // Not from inside the acknowledgement (or routing) that released them: resuming parses
      // the packets that waited, which routes them.
      setImmediate(this.resumeReleased)
    }
  }

  private readonly resumeReleased = (): void => {
    this.resumeScheduled = false
    const sources = [...this.resuming]
    this.resuming.clear()
    for (const source of sources) {
      if (source.waitingOn === undefined || source.waitingOn.size === 0) source.resume()
    }
  }

  private unwatch(session: FlowSubscriber): void {
    session.waiters = undefined
    session.flow = undefined
    this.watched.delete(session)
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private startTimer(): void {
    if (this.timer === undefined) this.arm(this.stallTimeoutMs)
  }

  private arm(delayMs: number): void {
    // At least once a second, to keep the held publishers' keepalive bookkeeping fresh.
    this.timer = setTimeout(this.checkStalls, Math.max(1, Math.min(delayMs, keepaliveRefreshMs)))
    this.timer.unref()
  }

  /** Stalls every watched session whose last acknowledgement (or congestion) is stallTimeout old. */
  private readonly checkStalls = (): void => {
    this.timer = undefined
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const [session, watch] of this.watched) {
      const since = Math.max(watch.since, session.lastAckAt)
      const deadline = since + this.stallTimeoutMs
      if (deadline <= now) {
        this.stall(session, now - since)
        continue
      }
      if (deadline < next) next = deadline
      for (const source of session.waiters ?? []) source.lastActivity = now
    }
    if (this.watched.size > 0) this.arm(next - now)
  }

  private stall(session: FlowSubscriber, idleMs: number): void {
    session.stalled = true
    session.acksAtStall = session.acks
    this.logger.warn(
      {
        clientId: session.clientId,
        queued: session.queued,
        publishersReleased: session.waiters?.size ?? 0,
        stallTimeout: this.stallTimeoutMs / 1000,
      },
      `subscriber ${session.clientId} acknowledged nothing for ${(idleMs / 1000).toFixed(1)} s: ` +
        'publishers no longer wait for it; messages beyond its queue limit are dropped',
    )
    this.release(session)
  }
}
