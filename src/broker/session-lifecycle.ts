import type { Logger } from 'pino'
import type { SessionRecord } from '../store/store.ts'
import { setLongTimeout } from '../util/long-timer.ts'
import type { Connection } from './connection.ts'
import type { SessionOpener } from './core.ts'
import type { Counters } from './counters.ts'
import { expiryFrom } from './expiry.ts'
import type { FlowControl } from './flow.ts'
import type { Persistence } from './persistence.ts'
import type { Will } from './protocol/packets.ts'
import type { Router } from './router.ts'
import {
  type DropReason,
  neverExpires,
  type PendingWill,
  Session,
  type SessionLimits,
  sessionMeta,
} from './sessions.ts'
import type {
  InflightEntry,
  Message,
  MessageProperties,
  SessionInfo,
  SessionMessageLog,
  SharedSession,
} from './types.ts'

export interface SessionLifecycleParts {
  limits: SessionLimits
  router: Router
  persistence: Persistence
  flow: FlowControl
  totals: Counters
  logger: Logger
  /**
   * A session's queue overflowed: an MQTT 5 client connected to it is told so and disconnected
   * (connections.ts); the session, with what was queued, stays.
   */
  overflowed: (session: Session) => void
}

/**
 * Sessions from CONNECT to expiry: opening and taking over, the hand-off to the store when
 * their client goes, wills (published, or delayed by MQTT 5 Will Delay), expiry, and the
 * messages their queues drop.
 */
export class SessionLifecycle implements SessionOpener {
  /** Wills go out only while the broker runs: not at shutdown, when every client is dropped. */
  running = false
  private readonly sessions = new Map<string, Session>()
  private readonly limits: SessionLimits
  private readonly router: Router
  private readonly persistence: Persistence
  private readonly flow: FlowControl
  private readonly totals: Counters
  private readonly logger: Logger
  private readonly overflowed: (session: Session) => void

  constructor(parts: SessionLifecycleParts) {
    this.limits = parts.limits
    this.router = parts.router
    this.persistence = parts.persistence
    this.flow = parts.flow
    this.totals = parts.totals
    this.logger = parts.logger
    this.overflowed = parts.overflowed
  }

  /** Sessions held, connected or not. */
  get size(): number {
    return this.sessions.size
  }

  /** Messages held for sessions, in flight and queued (a walk over the sessions: for monitoring, not per message). */
  storedMessages(): number {
    let count = 0
    for (const session of this.sessions.values()) count += session.inflight.size + session.queued
    return count
  }

  info(clientId: string): SessionInfo | undefined {
    const session = this.sessions.get(clientId)
    if (!session) return undefined
    return {
      clientId,
      connected: session.outlet !== undefined,
      expiryInterval: session.expiryInterval,
      expiresAt: session.expiryTimer?.deadline,
      willAt: session.pendingWill ? session.willTimer?.deadline : undefined,
      inflight: session.inflight.size,
      queued: session.queued,
    }
  }

  /** Puts back the sessions a store kept; expiry counts from when their client went. */
  restore(records: SessionRecord[]): void {
    for (const record of records) {
      const session = this.newSession(record.clientId, record.expiryInterval)
      for (const { filter, ...sub } of record.subscriptions) this.router.addSubscription(session, filter, sub)
      session.restore(record)
      session.journal = this.persistence.journalFor(session)
      // Expiry counts from when the client went, not from this start [MQTT-3.1.2-23].
      session.disconnectedAt = record.disconnectedAt ?? Date.now()
      this.scheduleExpiry(session)
    }
  }

  /** Clean Start (clean session) replaces any stored session; a resumed one's pending will and expiry are cancelled [MQTT-3.1.3-9]. */
  open(
    clientId: string,
    cleanStart: boolean,
    expiryInterval: number,
  ): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId)
    const fabric = this.router.sessionFabric
    // Its client last connected to another node: that node's copy is the live one. Without a
    // copy here, the cluster's record is the session wherever it was held (this node before a
    // restart included).
    const elsewhere = cleanStart
      ? undefined
      : session === undefined
        ? fabric?.record(clientId)
        : fabric?.heldElsewhere(clientId)
    // Its record moved to another node or was deleted there (clean start): this copy is stale.
    const stale = session && fabric && session.expiryInterval > 0 && !fabric.heldHere(clientId)
    if (session && !session.outlet && (elsewhere || stale)) {
      this.discard(session)
      session = undefined
    }
    if (session && cleanStart) {
      this.discard(session)
      session = undefined
    }
    if (cleanStart && !session) fabric?.ended(clientId)
    const moved = !session && elsewhere !== undefined
    if (!session && elsewhere) {
      session = this.newSession(clientId, expiryInterval)
      // The record naming this node is written once below (shared), with all of them.
      for (const { filter, ...sub } of elsewhere.subscriptions)
        this.router.addSubscription(session, filter, sub, false)
    }
    if (session) {
      session.expiryTimer?.cancel()
      session.willTimer?.cancel()
      session.expiryTimer = undefined
      session.willTimer = undefined
      session.pendingWill = undefined
      session.disconnectedAt = undefined
      session.expiryInterval = expiryInterval
      this.makePersistent(session)
      this.shared(session)
      // What the cluster kept for it that this copy lacks goes out before anything new.
      const backlog = this.logOf(session)?.missing(moved)
      if (backlog) session.catchUp(backlog)
      return { session, present: true }
    }
    session = this.newSession(clientId, expiryInterval)
    this.makePersistent(session)
    this.shared(session)
    return { session, present: false }
  }

  /** See SessionFabricInlet.missedMessages. */
  catchUpConnected(clientId?: string): void {
    const sessions = clientId === undefined ? this.sessions.values() : [this.sessions.get(clientId)]
    for (const session of sessions)
      if (session?.outlet !== undefined && session.log !== undefined)
        session.catchUp(session.log.missing(), false)
  }

  /** See SessionFabricInlet.adopt. */
  adopt(shared: SharedSession): void {
    if (this.sessions.has(shared.clientId)) return
    const session = this.newSession(shared.clientId, shared.expiryInterval)
    session.disconnectedAt = shared.disconnectedAt ?? Date.now()
    for (const { filter, ...sub } of shared.subscriptions) this.router.addSubscription(session, filter, sub)
    this.makePersistent(session)
    this.shared(session)
    // What was kept for it is older than anything routed here from now on: it goes first.
    const backlog = session.log?.missing()
    if (backlog) session.catchUp(backlog)
    this.scheduleExpiry(session)
  }

  /** See SessionFabricInlet.changedElsewhere. */
  changedElsewhere(clientId: string): void {
    const session = this.sessions.get(clientId)
    if (session === undefined || session.outlet !== undefined) return
    if (this.router.sessionFabric?.heldHere(clientId)) return
    session.pendingWill = undefined
    this.logger.debug({ clientId }, 'session taken over or ended on another node; dropping the copy here')
    this.discard(session)
  }

  /**
   * A connected client's connection ended: its session is detached (or discarded when it ends
   * with the connection) and its will published or scheduled, unless it said DISCONNECT.
   */
  connectionEnded(connection: Connection): void {
    const { clientId, session } = connection
    const will = connection.will
    connection.will = undefined
    const willMessage: PendingWill | undefined = will && {
      message: {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        clientId,
        properties: willProperties(will.properties),
      },
      expiryInterval: will.properties?.messageExpiryInterval,
    }
    if (session && session.outlet === connection) {
      session.outlet = undefined
      this.flow.offline(session)
      session.disconnectedAt = Date.now()
      if (session.expiryInterval === 0) {
        if (willMessage) this.publishWill(willMessage)
        this.discard(session)
      } else {
        if (this.persistence.durable) this.persistence.noteSession(session)
        else this.persistence.snapshot(session)
        session.log?.leaving(inflightOf(session))
        this.shared(session)
        if (willMessage) this.scheduleWill(session, willMessage, will?.properties?.willDelayInterval ?? 0)
        this.scheduleExpiry(session)
      }
    } else if (willMessage) {
      this.publishWill(willMessage)
    }
  }

  /** At shutdown: timers stop, and an in-memory store gets every session that outlives its connection. */
  close(): void {
    for (const session of this.sessions.values()) {
      session.expiryTimer?.cancel()
      session.willTimer?.cancel()
      if (session.expiryInterval > 0 && !this.persistence.durable) this.persistence.snapshot(session)
    }
  }

  /** A session that outlives its connection is written to the store, and journals its changes. */
  private makePersistent(session: Session): void {
    if (!this.persistence.durable) return
    if (session.expiryInterval === 0) {
      // Resumed as a session that ends with its connection: a crash must not bring it back.
      if (session.journal) this.persistence.deleteSession(session.clientId)
      session.journal = undefined
      return
    }
    const fresh = session.journal === undefined
    session.journal ??= this.persistence.journalFor(session)
    this.persistence.noteSession(session, fresh)
  }

  /** The cluster's log of a session that outlives its connection (SessionFabric.messageLog). */
  private logOf(session: Session): SessionMessageLog | undefined {
    if (session.expiryInterval === 0) return undefined
    if (session.log === undefined) {
      const log = this.router.sessionFabric?.messageLog?.(session.clientId)
      if (log === undefined) return undefined
      const named: { seq: number; key: string }[] = []
      for (const { seq, clusterKey } of session.outgoing())
        if (clusterKey !== undefined) named.push({ seq, key: clusterKey })
      if (named.length > 0) log.restored(named)
      session.log = log
    }
    return session.log
  }

  /** Other nodes learn of a session that outlives its connection (broker.attachSessionFabric). */
  private shared(session: Session): void {
    const fabric = this.router.sessionFabric
    if (!fabric) return
    if (session.expiryInterval > 0) {
      fabric.changed(sessionMeta(session))
      this.logOf(session)
    } else {
      // Resumed as a session that ends with its connection: no other node may resume it.
      session.log = undefined
      fabric.ended(session.clientId)
    }
  }

  private publishWill(will: PendingWill): void {
    if (!this.running) return
    const { message } = will
    this.logger.debug({ clientId: message.clientId, topic: message.topic }, 'publishing will')
    this.router.route({ ...message, expiresAt: expiryFrom(will.expiryInterval) })
  }

  /** MQTT 5 Will Delay: the will goes out at the earlier of the delay and the session's end. */
  private scheduleWill(session: Session, will: PendingWill, delaySeconds: number): void {
    if (delaySeconds <= 0) {
      this.publishWill(will)
      return
    }
    session.pendingWill = will
    session.willTimer = setLongTimeout(
      () => {
        session.willTimer = undefined
        const pending = session.pendingWill
        session.pendingWill = undefined
        if (pending) this.publishWill(pending)
      },
      delaySeconds * 1000,
      { unref: true },
    )
  }

  private scheduleExpiry(session: Session): void {
    if (session.expiryInterval >= neverExpires) return
    const elapsed = Date.now() - (session.disconnectedAt ?? Date.now())
    session.expiryTimer = setLongTimeout(
      () => {
        session.expiryTimer = undefined
        if (session.outlet) return
        this.logger.info({ clientId: session.clientId }, 'session expired')
        this.totals.sessionsExpired++
        this.discard(session)
      },
      Math.max(0, session.expiryInterval * 1000 - elapsed),
      { unref: true },
    )
  }

  private newSession(clientId: string, expiryInterval: number): Session {
    const session = new Session(clientId, expiryInterval, this.limits, this.onDrop)
    this.sessions.set(clientId, session)
    return session
  }

  private discard(session: Session): void {
    session.journal = undefined
    const wasShared = session.expiryInterval > 0
    // Removing its subscriptions below must not tell other nodes of each one.
    session.expiryInterval = 0
    session.expiryTimer?.cancel()
    session.willTimer?.cancel()
    session.expiryTimer = undefined
    session.willTimer = undefined
    // A delayed will goes out when its session ends, whichever comes first.
    const pending = session.pendingWill
    session.pendingWill = undefined
    if (pending) this.publishWill(pending)
    for (const filter of [...session.subscriptions.keys()]) this.router.removeSubscription(session, filter)
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId)
    this.persistence.deleteSession(session.clientId)
    // A session whose client moved to another node leaves that node's record alone.
    const fabric = this.router.sessionFabric
    if (wasShared && fabric && !fabric.heldElsewhere(session.clientId)) fabric.ended(session.clientId)
  }

  private readonly onDrop = (session: Session, message: Message, reason: DropReason): void => {
    // QoS 1/2 messages dropped at a queue limit, and QoS 0 ones shed.
    this.totals.dropped(reason)
    // A client that stops reading can shed thousands of messages a second: one line per
    // client per second, with the count of the others, keeps the log readable.
    const now = Date.now()
    if (now - session.lastDropLog >= 1000) {
      const more = session.dropsNotLogged
      this.logger.warn(
        { clientId: session.clientId, topic: message.topic, qos: message.qos, reason, alsoDropped: more },
        `message dropped for ${session.clientId}: ${reason}${more > 0 ? ` (and ${more} more since the last report)` : ''}`,
      )
      session.lastDropLog = now
      session.dropsNotLogged = 0
    } else {
      session.dropsNotLogged++
    }
    if (reason === 'queue full') this.overflowed(session)
  }
}

/** What a session has in flight to its client (SessionMessageLog.leaving). */
function inflightOf(session: Session): InflightEntry[] {
  const out: InflightEntry[] = []
  for (const { seq, messageId, state } of session.inflight.values())
    if (messageId !== undefined && state !== undefined) out.push({ seq, messageId, state })
  return out
}

/** The will properties that become the will message's PUBLISH properties. */
function willProperties(p: Will['properties']): MessageProperties | undefined {
  if (!p) return undefined
  const { willDelayInterval: _delay, messageExpiryInterval: _expiry, ...rest } = p
  return rest
}
