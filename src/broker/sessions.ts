import type { SessionMeta, SessionRecord, StoredMessage } from '../store/store.ts'
import { present } from '../util/invariant.ts'
import type { LongTimer } from '../util/long-timer.ts'
import { isExpired } from './expiry.ts'
import type { FlowControl, FlowSource, FlowSubscriber } from './flow.ts'
import type { Subscription } from './subscription.ts'
import type { BacklogMessage, Message, QoS, SessionMessageLog } from './types.ts'

/**
 * An outgoing QoS 1/2 message: queued until there is room in the window, then in flight
 * with a packet id until acknowledged (`publish`: waiting for PUBACK/PUBREC; `pubrel`:
 * PUBREL sent, waiting for PUBCOMP). Its stored form is the same object.
 */
export interface Outgoing extends StoredMessage {
  messageId?: number
  state?: 'publish' | 'pubrel'
}

/** A will waiting to be published; its expiry counts from publication, not from the disconnect. */
export interface PendingWill {
  message: Message
  expiryInterval: number | undefined
}

/** Where a persistent session writes its changes when the store is durable. */
export interface SessionJournal {
  putMessage(entry: Outgoing): void
  deleteMessage(seq: number): void
  putIncomingQos2(messageId: number): void
  deleteIncomingQos2(messageId: number): void
}

/** The session's view of its live connection: just enough to put packets on the wire. */
export interface SessionOutlet {
  /** False when the message was dropped because it exceeds the client's Maximum Packet Size. */
  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    messageId?: number,
    subscriptionIds?: number[],
  ): boolean
  sendPubrel(messageId: number): void
  /** False when the socket is backed up: QoS 0 messages are dropped rather than buffered. */
  readonly writable: boolean
  /** The client's Receive Maximum (MQTT 5; 65535 otherwise). */
  readonly receiveMaximum: number
}

export interface SessionLimits {
  maxInflight: number
  maxQueuedMessages: number
}

export type DropReason = 'queue full' | 'slow consumer' | 'too large for the client'

/** Session Expiry Interval meaning "never" (MQTT 3.x clean session 0). */
export const neverExpires = 0xffffffff

/**
 * What a session without subscriptions or messages in flight reads. Its own collections are
 * created on first write: an empty Map costs about 180 bytes, and most idle clients never use
 * the QoS 1/2 ones (RSS per idle client, `npm run bench -- broker --scenarios memory`).
 */
const noSubscriptions: ReadonlyMap<string, Subscription> = new Map()
const noOutgoing: ReadonlyMap<number, Outgoing> = new Map()
const noIds: ReadonlySet<number> = new Set()
/**
 * The queue and re-send list of a session with nothing in them, shared. Frozen, so a write
 * that missed the copy-on-first-use (enqueue) throws instead of corrupting every session.
 */
const noOutgoingList = Object.freeze([]) as unknown as Outgoing[]

/**
 * One client's state across connections: subscriptions, the outgoing in-flight window and
 * queue, and the incoming QoS 2 packet ids not yet released. Outlives its connection unless
 * its expiry interval is 0 (MQTT 3.x clean session 1).
 */
export class Session implements FlowSubscriber {
  private subscriptionMap: Map<string, Subscription> | undefined
  /** Insertion order is send order, which is the order a resumed session re-sends in. */
  private inflightMap: Map<number, Outgoing> | undefined
  /** QoS 2 packet ids received and routed, not yet released by PUBREL [MQTT-4.3.3-2]. */
  private incomingQos2Set: Set<number> | undefined
  /** Set while the session is persistent and the store durable. */
  journal: SessionJournal | undefined
  /** Set while the session is persistent and its node part of a cluster (SessionFabric.messageLog). */
  log: SessionMessageLog | undefined
  outlet: SessionOutlet | undefined
  /** The user name its client last connected with (for access checks while offline). */
  username: string | undefined
  /** Seconds the session outlives its connection; 0 = ends with it, neverExpires = kept. */
  expiryInterval: number
  /** When its client went (ms since the epoch), undefined while connected. */
  disconnectedAt: number | undefined
  /** Pending timers while offline: session expiry and a delayed will. */
  expiryTimer: LongTimer | undefined
  willTimer: LongTimer | undefined
  pendingWill: PendingWill | undefined
  /** Rate limit of the "message dropped" log line. */
  lastDropLog = 0
  dropsNotLogged = 0
  /** Routing scratch space: which routing pass last saw this session, and what it gathered. */
  routeEpoch = 0
  routeQos: QoS = 0
  routeRetain = false
  routeIds: number[] | undefined
  /** Flow control (flow.ts): the publishing connections held back by this session's queue. */
  waiters: Set<FlowSource> | undefined
  flow: FlowControl | undefined
  /** Acknowledged nothing for stallTimeout while congested: holds nobody back until it acks again. */
  stalled = false
  /** PUBACK/PUBREC/PUBCOMP count: progress, as the stall check sees it. */
  acks = 0
  acksAtStall = 0
  /** When it last acknowledged, kept only while it holds publishers back (ms since the epoch). */
  lastAckAt = 0
  /**
   * Above this many queued messages a progressing subscriber holds back the connections
   * feeding it; they read again at the low-water mark. Half the queue limit leaves the other
   * half as headroom, so what publishers sent before they were held never meets the limit.
   */
  private readonly highWater: number
  private readonly lowWater: number

  /** noOutgoingList until something is queued: most sessions never queue (idle memory, issue 17). */
  private queue: (Outgoing | undefined)[] = noOutgoingList
  private queueHead = 0
  private nextId = 1
  private nextSeq = 1
  /** In-flight messages still to be re-sent after a reconnect, held back by the window. */
  private resend: Outgoing[] = noOutgoingList
  private window: number
  /** Catch-ups in progress (catchUp): nothing is sent until the cluster's backlog is in the queue. */
  private holding = 0

  constructor(
    readonly clientId: string,
    expiryInterval: number,
    private readonly limits: SessionLimits,
    private readonly onDrop: (session: Session, message: Message, reason: DropReason) => void,
  ) {
    this.expiryInterval = expiryInterval
    this.window = limits.maxInflight
    this.highWater = Math.max(1, Math.floor(limits.maxQueuedMessages / 2))
    this.lowWater = Math.floor(this.highWater / 2)
  }

  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subscriptionMap ?? noSubscriptions
  }

  /** The subscriptions to change; only the router does (router.ts), keeping its subscription tree in step. */
  editSubscriptions(): Map<string, Subscription> {
    this.subscriptionMap ??= new Map()
    return this.subscriptionMap
  }

  get inflight(): ReadonlyMap<number, Outgoing> {
    return this.inflightMap ?? noOutgoing
  }

  get incomingQos2(): ReadonlySet<number> {
    return this.incomingQos2Set ?? noIds
  }

  get queued(): number {
    return this.queue.length - this.queueHead
  }

  /** Connected and acknowledging: its congestion holds publishers back rather than dropping. */
  get progressing(): boolean {
    if (this.outlet === undefined) return false
    if (this.stalled && this.acks !== this.acksAtStall) this.stalled = false
    return !this.stalled
  }

  /**
   * Hands a routed message to the client at min(published, granted) QoS [MQTT-3.8.4-6].
   * `holdable`: the publisher is a connection flow control can hold back. Returns true when
   * the message was queued above the high-water mark and that publisher should now wait.
   */
  deliver(
    message: Message,
    granted: QoS,
    retain: boolean,
    subscriptionIds?: number[],
    holdable = false,
  ): boolean {
    const qos = (message.qos < granted ? message.qos : granted) as QoS
    const outlet = this.outlet
    if (qos === 0) {
      // QoS 0 is fire-and-forget: not kept for offline clients, shed for clients that don't read.
      if (!outlet) return false
      if (!outlet.writable) {
        this.onDrop(this, message, 'slow consumer')
        return false
      }
      if (!outlet.sendPublish(message, 0, retain, false, undefined, subscriptionIds)) {
        this.onDrop(this, message, 'too large for the client')
      }
      return false
    }
    const entry: Outgoing = { seq: this.nextSeq++, message, qos, retain, subscriptionIds }
    if (this.log !== undefined && !this.logged(entry)) return false
    const queued = this.queued
    if (
      outlet &&
      queued === 0 &&
      this.resend.length === 0 &&
      this.inflight.size < this.window &&
      this.holding === 0
    ) {
      this.send(outlet, entry)
      return false
    }
    let hold = false
    if (queued >= this.highWater) {
      // A publisher that will be held may go past the limit by the one message it was
      // reading; every other source meets the limit as before.
      hold = holdable && this.progressing
      if (!hold && queued >= this.limits.maxQueuedMessages) {
        this.onDrop(this, message, 'queue full')
        // Dropped by policy everywhere: the cluster's copy goes too.
        this.log?.dropped(entry.seq)
        return false
      }
    }
    this.enqueue(entry)
    this.journal?.putMessage(entry)
    return hold
  }

  /** Progress for the stall check (flow.ts). */
  private acknowledged(): void {
    this.acks++
    if (this.waiters !== undefined) this.lastAckAt = Date.now()
  }

  /** A QoS 2 PUBLISH was received and routed; its id is kept until PUBREL. */
  addIncomingQos2(messageId: number): void {
    this.incomingQos2Set ??= new Set()
    this.incomingQos2Set.add(messageId)
    this.journal?.putIncomingQos2(messageId)
  }

  releaseIncomingQos2(messageId: number): void {
    if (this.incomingQos2Set?.delete(messageId)) this.journal?.deleteIncomingQos2(messageId)
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) completed an outgoing message. */
  complete(messageId: number, expected: 'publish' | 'pubrel'): boolean {
    const entry = this.inflight.get(messageId)
    if (!entry || entry.state !== expected || (expected === 'publish' && entry.qos !== 1)) return false
    this.inflightMap?.delete(messageId)
    this.forget(entry.seq)
    this.acknowledged()
    this.pump()
    return true
  }

  /** PUBREC: the client has the QoS 2 message; answer PUBREL and wait for PUBCOMP. */
  received(messageId: number, failed = false): boolean {
    const entry = this.inflight.get(messageId)
    if (entry?.qos !== 2) return false
    this.acknowledged()
    if (failed) {
      // MQTT 5: a PUBREC with an error reason ends the exchange [MQTT-4.3.3-4].
      this.inflightMap?.delete(messageId)
      this.forget(entry.seq)
      this.pump()
      return true
    }
    entry.state = 'pubrel'
    this.journal?.putMessage(entry)
    this.log?.inFlight(entry.seq, messageId, 'pubrel', 2)
    this.outlet?.sendPubrel(messageId)
    return true
  }

  /** A session got a connection (again): re-send the window with DUP, then the queue. */
  resume(outlet: SessionOutlet): void {
    this.outlet = outlet
    this.window = Math.min(this.limits.maxInflight, outlet.receiveMaximum)
    // Re-sent in order, but never more at once than the client's (new) Receive Maximum.
    if (this.inflight.size > 0) this.resend = [...this.inflight.values()]
    else if (this.resend.length > 0) this.resend = noOutgoingList
    this.pump()
  }

  /**
   * Takes in `backlog`, what the cluster kept for this session that this copy lacks. With
   * `first` (a resume) sending waits until it is in, and its messages go before anything
   * routed here meanwhile, in the order the cluster stored them; without (a connected session
   * catching up on what its node missed), they go after what is queued.
   */
  catchUp(backlog: Promise<BacklogMessage[]>, first = true): void {
    if (first) this.holding++
    void backlog.then((messages) => {
      if (first) this.holding--
      const entries: Outgoing[] = []
      const resent: Outgoing[] = []
      // The queue limit holds for what comes back too (a session whose node died has nobody
      // enforcing it meanwhile): what is past it is dropped, the newest first, as on delivery.
      const room = this.limits.maxQueuedMessages - (first ? 0 : this.queued)
      // A message in flight on the node the session left goes out again first, under its id.
      // Those the cluster stored before the last such one, not on its list (QoS 1 is never
      // listed), went out before it there: they go again first too, under new ids, so the
      // order holds [MQTT-4.6.0-1].
      const listed = new Set<number>()
      let lastListed = -1
      messages.forEach(({ inflight }, i) => {
        if (inflight === undefined || this.inflight.has(inflight.messageId)) return
        listed.add(inflight.messageId)
        lastListed = i
      })
      for (const [i, { message, qos, retain, inflight, subscriptionIds }] of messages.entries()) {
        const entry: Outgoing = { seq: this.nextSeq++, message, qos, retain, subscriptionIds }
        if (this.log !== undefined && !this.logged(entry)) continue
        const before = inflight === undefined && i < lastListed
        const resend = before || (inflight !== undefined && !this.inflight.has(inflight.messageId))
        if (!resend && entries.length >= room) {
          this.onDrop(this, message, 'queue full')
          this.log?.dropped(entry.seq)
          continue
        }
        if (inflight !== undefined && resend) {
          // In flight on the node the session left: again under its packet id, before the queue.
          entry.messageId = inflight.messageId
          entry.state = inflight.state
          this.inflightMap ??= new Map()
          this.inflightMap.set(inflight.messageId, entry)
          this.log?.inFlight(entry.seq, inflight.messageId, inflight.state, qos)
          resent.push(entry)
        } else if (before) {
          let messageId = this.allocateId()
          while (listed.has(messageId)) messageId = this.allocateId()
          entry.messageId = messageId
          entry.state = 'publish'
          this.inflightMap ??= new Map()
          this.inflightMap.set(messageId, entry)
          this.log?.inFlight(entry.seq, messageId, 'publish', qos)
          resent.push(entry)
        } else {
          entries.push(entry)
        }
        this.journal?.putMessage(entry)
      }
      if (resent.length > 0 && this.outlet) this.resend = [...this.resend, ...resent]
      if (!first) {
        for (const entry of entries) this.enqueue(entry)
      } else if (entries.length > 0) {
        for (let i = this.queueHead; i < this.queue.length; i++) {
          const queued = this.queue[i]
          if (queued !== undefined) entries.push(queued)
        }
        // Routed here meanwhile, so newer than what came back: dropped first.
        for (const dropped of entries.splice(Math.max(room, 0))) {
          this.onDrop(this, dropped.message, 'queue full')
          this.journal?.deleteMessage(dropped.seq)
          this.log?.dropped(dropped.seq)
        }
        this.queue = entries
        this.queueHead = 0
      }
      this.pump()
    })
  }

  /** Tells the cluster's log of a new entry; false when the session holds that message already. */
  private logged(entry: Outgoing): boolean {
    const log = this.log
    if (log === undefined) return true
    if (!log.added(entry.seq, entry.message, entry.qos, entry.retain)) return false
    entry.clusterKey = log.keyOf(entry.seq)
    return true
  }

  /** An outgoing message left the session (completed, dropped or expired). */
  private forget(seq: number): void {
    this.journal?.deleteMessage(seq)
    this.log?.removed(seq)
  }

  /** Moves queued messages into the in-flight window while there is room; expired ones are dropped. */
  pump(): void {
    const outlet = this.outlet
    if (!outlet || this.holding > 0) return
    while (this.resend.length > 0 && this.inflight.size - this.resend.length < this.window) {
      const entry = this.resend.shift()
      if (entry === undefined) break
      // An entry in flight has its packet id; one acknowledged since resume() is skipped.
      const messageId = entry.messageId
      if (messageId === undefined || !this.inflight.has(messageId)) continue
      if (entry.state === 'pubrel') {
        outlet.sendPubrel(messageId)
      } else if (
        !outlet.sendPublish(entry.message, entry.qos, entry.retain, true, messageId, entry.subscriptionIds)
      ) {
        // Too large for the client's new Maximum Packet Size: discarded as if delivered [MQTT-3.1.2-25].
        this.inflightMap?.delete(messageId)
        this.forget(entry.seq)
        this.onDrop(this, entry.message, 'too large for the client')
      }
    }
    if (this.resend.length > 0) return
    const now = Date.now()
    while (this.queueHead < this.queue.length && this.inflight.size < this.window) {
      const next = present(this.queue[this.queueHead], 'a queued message at the queue head')
      this.queue[this.queueHead++] = undefined
      if (isExpired(next.message, now)) {
        this.forget(next.seq)
        continue
      }
      this.send(outlet, next)
    }
    if (this.queueHead === this.queue.length) {
      this.queue = noOutgoingList
      this.queueHead = 0
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    if (this.waiters !== undefined && this.queued <= this.lowWater) this.flow?.relieved(this)
  }

  /** Puts back what a stored session had in flight and queued (the subscriptions go through the router). */
  restore(record: SessionRecord): void {
    for (const stored of record.messages) {
      const entry: Outgoing = { ...stored }
      if (entry.messageId !== undefined) {
        this.inflightMap ??= new Map()
        this.inflightMap.set(entry.messageId, entry)
        this.nextId = entry.messageId === 0xffff ? 1 : entry.messageId + 1
      } else {
        this.enqueue(entry)
      }
      if (entry.seq >= this.nextSeq) this.nextSeq = entry.seq + 1
    }
    if (record.incomingQos2.length > 0) this.incomingQos2Set = new Set(record.incomingQos2)
  }

  /** Every outgoing message, in flight first, then queued (for persistence and inspection). */
  outgoing(): Outgoing[] {
    return [...this.inflight.values(), ...(this.queue.slice(this.queueHead) as Outgoing[])]
  }

  private enqueue(entry: Outgoing): void {
    if (this.queue === noOutgoingList) this.queue = [entry]
    else this.queue.push(entry)
  }

  private send(outlet: SessionOutlet, entry: Outgoing): void {
    const messageId = this.allocateId()
    const { message, qos, retain, subscriptionIds } = entry
    // A message too large for the client is discarded as if it had been delivered [MQTT-3.1.2-25].
    if (!outlet.sendPublish(message, qos, retain, false, messageId, subscriptionIds)) {
      this.forget(entry.seq)
      this.onDrop(this, message, 'too large for the client')
      return
    }
    entry.messageId = messageId
    entry.state = 'publish'
    this.inflightMap ??= new Map()
    this.inflightMap.set(messageId, entry)
    this.journal?.putMessage(entry)
    this.log?.inFlight(entry.seq, messageId, 'publish', qos)
  }

  private allocateId(): number {
    // The window is far smaller than 65535, so a free id is always close by.
    for (;;) {
      const id = this.nextId
      this.nextId = id === 0xffff ? 1 : id + 1
      if (!this.inflight.has(id)) return id
    }
  }
}

/** The stored form of a session without its messages. */
export function sessionMeta(session: Session): SessionMeta {
  return {
    clientId: session.clientId,
    expiryInterval: session.expiryInterval,
    subscriptions: [...session.subscriptions].map(([filter, sub]) => ({ filter, ...sub })),
    disconnectedAt: session.disconnectedAt,
  }
}
