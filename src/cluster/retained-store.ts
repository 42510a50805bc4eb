/**
 * Retained messages shared by all nodes, in a JetStream stream that keeps the last message
 * per subject (`max_msgs_per_subject: 1`), one subject per topic (`<cluster>.retained.<t|s>.
 * <levels>`, see subjects.ts). The payload is the message body as is; QoS, expiry and MQTT 5
 * properties ride in headers. The server orders all writes to one subject, so the last write
 * wins on every node alike.
 *
 * An empty payload deletes: it is written as an empty message (a tombstone) to the same
 * subject, so it is ordered with puts like any write, and then the subject is purged up to
 * and including that tombstone only. A put that lands after the tombstone has a higher
 * sequence and survives the purge. A tombstone left behind (purge failed) is skipped on read.
 * Nodes that follow the stream (follow, for their local copy) learn of a delete from its
 * tombstone, so the purge can wait (`tombstoneLingerMs`) until they have surely read it.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  StorageType,
} from '@nats-io/jetstream'
import { headers, type MsgHdrs, nanos } from '@nats-io/transport-node'
import type { MessageProperties, QoS } from '../broker/types.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { decodeProperties, encodeProperties } from './retained-properties.ts'
import { SubjectMapper } from './subjects.ts'

export interface RetainedMessage {
  topic: string
  payload: Uint8Array
  qos: QoS
  properties?: MessageProperties | undefined
  /** When it expires (ms since the epoch), from its Message Expiry Interval. */
  expiresAt?: number | undefined
}

export interface RetainedStoreOptions {
  /** Stream replicas for a new stream (1, 3 or 5; default 1). */
  replicas?: number
  /** How long a delete's tombstone stays before it is purged (default 0: at once). */
  tombstoneLingerMs?: number
}

/** Following the stream; see RetainedStore.follow. */
export interface RetainedFollower {
  /** The topic's retained message now, or undefined when it was deleted (or expired). */
  change(topic: string, message: RetainedMessage | undefined): void
  /** Every message the stream held when following began has been passed to change. */
  caughtUp(): void
  /** The server lost the consumer (stream or consumer gone); follow again to resume. */
  lost(reason: string): void
  /** Every stream message up to `seq` has been handled (called after change, and for skipped ones). */
  at?(seq: number): void
}

/** A running follow (RetainedStore.follow). */
export interface RetainedFollowing {
  /**
   * The consumer as the server sees it: messages of the stream not yet delivered to this node,
   * and the stream sequence of the last one delivered.
   */
  position(): Promise<{ pending: number; delivered: number }>
  stop(): Promise<void>
}

const QOS_HDR = 'Tmq-Qos'
const EXPIRES_HDR = 'Tmq-Expires'
const PROPS_HDR = 'Tmq-Props'
/** Ephemeral match consumers vanish after this even if a node dies mid-read. */
const CONSUMER_IDLE_NS = nanos(30_000)

export class RetainedStore {
  private readonly mapper: SubjectMapper
  private readonly purges = new Set<NodeJS.Timeout>()

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    prefix: string,
    private readonly lingerMs: number,
  ) {
    this.mapper = new SubjectMapper(prefix)
  }

  /** Opens the retained stream, creating it when missing (an existing one keeps its settings). */
  static async open(
    conn: NatsConnection,
    names: ClusterNames,
    opts: RetainedStoreOptions = {},
  ): Promise<RetainedStore> {
    const jsm = await conn.jetstreamManager()
    try {
      await jsm.streams.info(names.retainedStream)
    } catch (error) {
      if (!(error instanceof Error) || !/stream not found/i.test(error.message)) throw error
      await jsm.streams.add({
        name: names.retainedStream,
        subjects: [`${names.retainedPrefix}.>`],
        max_msgs_per_subject: 1,
        discard: DiscardPolicy.Old,
        storage: StorageType.File,
        num_replicas: opts.replicas ?? 1,
        allow_direct: true,
      })
    }
    return new RetainedStore(
      conn.jetstream(),
      jsm,
      names.retainedStream,
      names.retainedPrefix,
      opts.tombstoneLingerMs ?? 0,
    )
  }

  /** Stores the message as the topic's retained message, or deletes it when the payload is empty. */
  async put(message: RetainedMessage): Promise<void> {
    if (message.payload.length === 0) return this.delete(message.topic)
    const h = headers()
    h.set(QOS_HDR, String(message.qos))
    if (message.expiresAt !== undefined) h.set(EXPIRES_HDR, String(message.expiresAt))
    const props = message.properties && encodeProperties(message.properties)
    if (props) h.set(PROPS_HDR, props)
    await this.js.publish(this.mapper.topicToSubject(message.topic), message.payload, { headers: h })
  }

  /** Deletes the topic's retained message (see the module comment for how). */
  async delete(topic: string): Promise<void> {
    const subject = this.mapper.topicToSubject(topic)
    const ack = await this.js.publish(subject, new Uint8Array(0))
    const purge = () => this.jsm.streams.purge(this.stream, { filter: subject, seq: ack.seq + 1 })
    if (this.lingerMs <= 0) {
      await purge()
      return
    }
    const timer = setTimeout(() => {
      this.purges.delete(timer)
      // A failed purge leaves a tombstone, which reads skip.
      purge().catch(() => undefined)
    }, this.lingerMs)
    timer.unref()
    this.purges.add(timer)
  }

  /** Cancels the purges still waiting; their tombstones stay (reads skip them). */
  close(): void {
    for (const timer of this.purges) clearTimeout(timer)
    this.purges.clear()
  }

  /**
   * Follows the stream through an ephemeral consumer: first the current retained message of
   * every topic, then every change as it lands, in the stream's order. Resolves once the
   * consumer runs; its stop() ends it. The consumer lives on the server until stop() or for
   * 30 s after this node stops pulling (it died, or lost NATS).
   */
  async follow(follower: RetainedFollower): Promise<RetainedFollowing> {
    const info = await this.jsm.consumers.add(this.stream, {
      filter_subject: `${this.mapper.prefix}.>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      ack_policy: AckPolicy.None,
      inactive_threshold: CONSUMER_IDLE_NS,
      mem_storage: true,
      num_replicas: 1,
    })
    let caughtUp = info.num_pending === 0
    if (caughtUp) follower.caughtUp()
    const consumer = await this.js.consumers.get(this.stream, info.name)
    const messages = await consumer.consume({
      max_messages: 1000,
      callback: (m) => {
        const topic = this.mapper.subjectToTopic(m.subject)
        if (topic !== undefined)
          follower.change(topic, this.toMessage(m.subject, m.data, m.headers, Date.now()))
        follower.at?.(m.seq)
        if (!caughtUp && m.info.pending === 0) {
          caughtUp = true
          follower.caughtUp()
        }
      },
    })
    let stopped = false
    void (async () => {
      for await (const s of messages.status()) {
        if (
          s.type === 'consumer_deleted' ||
          s.type === 'consumer_not_found' ||
          s.type === 'stream_not_found'
        ) {
          if (!stopped) follower.lost(s.type)
          break
        }
      }
    })()
    return {
      position: async () => {
        const now = await consumer.info()
        return { pending: now.num_pending, delivered: now.delivered.stream_seq }
      },
      stop: async () => {
        stopped = true
        await messages.close()
        await this.jsm.consumers.delete(this.stream, info.name).catch(() => undefined)
      },
    }
  }

  /** The topic's retained message, or undefined. */
  async get(topic: string): Promise<RetainedMessage | undefined> {
    const sm = await this.jsm.direct.getMessage(this.stream, {
      last_by_subj: this.mapper.topicToSubject(topic),
    })
    return sm ? this.toMessage(sm.subject, sm.data, sm.header, Date.now()) : undefined
  }

  /** Every retained message whose topic matches the MQTT filter, expired ones left out. */
  async match(filter: string): Promise<RetainedMessage[]> {
    const out: RetainedMessage[] = []
    const now = Date.now()
    for (const subject of this.mapper.filterToSubjects(filter)) {
      if (!subject.includes('*') && !subject.endsWith('>')) {
        const sm = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject })
        const m = sm && this.toMessage(sm.subject, sm.data, sm.header, now)
        if (m) out.push(m)
        continue
      }
      await this.scan(subject, now, out)
    }
    return out
  }

  /**
   * Reads the last message of every subject matching `subject` through an ephemeral consumer.
   * nats-server 2.9 takes one filter subject per consumer (`filter_subjects` is 2.10), which
   * is why a `#` filter costs two reads.
   */
  private async scan(subject: string, now: number, out: RetainedMessage[]): Promise<void> {
    const info = await this.jsm.consumers.add(this.stream, {
      filter_subject: subject,
      deliver_policy: DeliverPolicy.LastPerSubject,
      ack_policy: AckPolicy.None,
      inactive_threshold: CONSUMER_IDLE_NS,
      mem_storage: true,
      num_replicas: 1,
    })
    try {
      let left = info.num_pending
      while (left > 0) {
        const consumer = await this.js.consumers.get(this.stream, info.name)
        const batch = await consumer.fetch({ max_messages: Math.min(left, 1000), expires: 5_000 })
        let got = 0
        for await (const m of batch) {
          got++
          left = m.info.pending
          const msg = this.toMessage(m.subject, m.data, m.headers, now)
          if (msg) out.push(msg)
          if (left === 0) break
        }
        // An empty batch means the messages went away meanwhile (purged, or the stream lost them).
        if (got === 0) break
      }
    } finally {
      await this.jsm.consumers.delete(this.stream, info.name).catch(() => undefined)
    }
  }

  private toMessage(
    subject: string,
    payload: Uint8Array,
    hdrs: MsgHdrs | undefined,
    now: number,
  ): RetainedMessage | undefined {
    // A tombstone whose purge did not happen.
    if (payload.length === 0) return undefined
    const topic = this.mapper.subjectToTopic(subject)
    if (topic === undefined) return undefined
    const qos = Number(hdrs?.get(QOS_HDR))
    const expiresRaw = hdrs?.get(EXPIRES_HDR)
    const expiresAt = expiresRaw ? Number(expiresRaw) : undefined
    if (expiresAt !== undefined && expiresAt <= now) return undefined
    const props = hdrs?.get(PROPS_HDR)
    const properties = props ? decodeProperties(props) : undefined
    return {
      topic,
      payload,
      qos: qos === 1 || qos === 2 ? qos : 0,
      ...(properties ? { properties } : {}),
      ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}),
    }
  }
}
