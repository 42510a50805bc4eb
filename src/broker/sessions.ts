import type { SessionRecord } from '../store/store.ts'
import type { Message, QoS } from './types.ts'

/** What a client asked for on one filter. MQTT 5 options (no local, retain as published …) go here. */
export interface Subscription {
  qos: QoS
}

/** An outgoing QoS 1/2 message waiting for its acknowledgement. */
export interface Inflight {
  readonly message: Message
  readonly qos: 1 | 2
  readonly retain: boolean
  readonly messageId: number
  /** `publish`: waiting for PUBACK/PUBREC; `pubrel`: PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel'
}

interface Queued {
  readonly message: Message
  readonly qos: 1 | 2
  readonly retain: boolean
}

/** The session's view of its live connection: just enough to put packets on the wire. */
export interface SessionOutlet {
  sendPublish(message: Message, qos: QoS, retain: boolean, dup: boolean, messageId?: number): void
  sendPubrel(messageId: number): void
  /** False when the socket is backed up: QoS 0 messages are dropped rather than buffered. */
  readonly writable: boolean
}

export interface SessionLimits {
  maxInflight: number
  maxQueuedMessages: number
}

export type DropReason = 'queue full' | 'slow consumer'

/**
 * One client's state across connections: subscriptions, the outgoing in-flight window and
 * queue, and the incoming QoS 2 packet ids not yet released. Outlives its connection when
 * the client asked for a persistent session.
 */
export class Session {
  readonly subscriptions = new Map<string, Subscription>()
  /** Insertion order is send order, which is the order a resumed session re-sends in. */
  readonly inflight = new Map<number, Inflight>()
  /** QoS 2 packet ids received and routed, not yet released by PUBREL [MQTT-4.3.3-2]. */
  readonly incomingQos2 = new Set<number>()
  outlet: SessionOutlet | undefined
  /** The user name its client last connected with (for access checks while offline). */
  username: string | undefined
  /** Routing scratch space: which routing pass last saw this session, at what granted QoS. */
  routeEpoch = 0
  routeQos: QoS = 0

  private queue: Queued[] = []
  private queueHead = 0
  private nextId = 1

  constructor(
    readonly clientId: string,
    public clean: boolean,
    private readonly limits: SessionLimits,
    private readonly onDrop: (session: Session, message: Message, reason: DropReason) => void,
  ) {}

  get queued(): number {
    return this.queue.length - this.queueHead
  }

  /** Hands a routed message to the client at min(published, granted) QoS [MQTT-3.8.4-6]. */
  deliver(message: Message, granted: QoS, retain: boolean): void {
    const qos = (message.qos < granted ? message.qos : granted) as QoS
    const outlet = this.outlet
    if (qos === 0) {
      // QoS 0 is fire-and-forget: not kept for offline clients, shed for clients that don't read.
      if (!outlet) return
      if (!outlet.writable) {
        this.onDrop(this, message, 'slow consumer')
        return
      }
      outlet.sendPublish(message, 0, retain, false)
      return
    }
    if (outlet && this.queued === 0 && this.inflight.size < this.limits.maxInflight) {
      this.send(outlet, message, qos, retain)
      return
    }
    if (this.queued >= this.limits.maxQueuedMessages) {
      this.onDrop(this, message, 'queue full')
      return
    }
    this.queue.push({ message, qos, retain })
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) completed an outgoing message. */
  complete(messageId: number, expected: 'publish' | 'pubrel'): boolean {
    const entry = this.inflight.get(messageId)
    if (!entry || entry.state !== expected || (expected === 'publish' && entry.qos !== 1)) return false
    this.inflight.delete(messageId)
    this.pump()
    return true
  }

  /** PUBREC: the client has the QoS 2 message; answer PUBREL and wait for PUBCOMP. */
  received(messageId: number): boolean {
    const entry = this.inflight.get(messageId)
    if (entry?.qos !== 2) return false
    entry.state = 'pubrel'
    this.outlet?.sendPubrel(messageId)
    return true
  }

  /** A persistent session got a connection again: re-send the window with DUP, then the queue. */
  resume(outlet: SessionOutlet): void {
    this.outlet = outlet
    for (const entry of this.inflight.values()) {
      if (entry.state === 'pubrel') outlet.sendPubrel(entry.messageId)
      else outlet.sendPublish(entry.message, entry.qos, entry.retain, true, entry.messageId)
    }
    this.pump()
  }

  /** Moves queued messages into the in-flight window while there is room. */
  pump(): void {
    const outlet = this.outlet
    if (!outlet) return
    while (this.queueHead < this.queue.length && this.inflight.size < this.limits.maxInflight) {
      const next = this.queue[this.queueHead]!
      this.queue[this.queueHead++] = undefined as unknown as Queued
      this.send(outlet, next.message, next.qos, next.retain)
    }
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
  }

  /** Puts back what a stored session had in flight and queued (the subscriptions go through the broker). */
  restore(record: SessionRecord): void {
    for (const e of record.inflight) this.inflight.set(e.messageId, { ...e })
    for (const q of record.queued) this.queue.push(q)
    for (const id of record.incomingQos2) this.incomingQos2.add(id)
    const last = record.inflight.at(-1)
    if (last) this.nextId = last.messageId === 0xffff ? 1 : last.messageId + 1
  }

  /** Messages waiting behind the window, oldest first (for persistence and inspection). */
  pending(): readonly Queued[] {
    return this.queue.slice(this.queueHead)
  }

  private send(outlet: SessionOutlet, message: Message, qos: 1 | 2, retain: boolean): void {
    const messageId = this.allocateId()
    this.inflight.set(messageId, { message, qos, retain, messageId, state: 'publish' })
    outlet.sendPublish(message, qos, retain, false, messageId)
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

/** The stored form of a session (see store/store.ts), taken when its client goes. */
export function sessionRecord(session: Session): SessionRecord {
  return {
    clientId: session.clientId,
    subscriptions: [...session.subscriptions].map(([filter, sub]) => ({ filter, qos: sub.qos })),
    inflight: [...session.inflight.values()].map((e) => ({
      messageId: e.messageId,
      qos: e.qos,
      retain: e.retain,
      state: e.state,
      message: e.message,
    })),
    queued: session.pending().map((q) => ({ qos: q.qos, retain: q.retain, message: q.message })),
    incomingQos2: [...session.incomingQos2],
  }
}
