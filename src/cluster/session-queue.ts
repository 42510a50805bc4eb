/**
 * Persistent sessions' QoS 1/2 messages, kept in the JetStream stream `<cluster>_queue` until
 * their client has them, so whichever node the client reconnects to (or a node taking over
 * from a dead one) finds them. One subject per message and session:
 *
 *   <cluster>.queue.s.<client id as a token>.<message key>
 *
 * The message key is the message's cluster-wide id (its origin's instance id as a token, then
 * the origin's sequence number), the same on every node, so the node holding the session can
 * delete its copy with a purge of that one subject once the client completed it, without
 * knowing the stream sequence the publisher's node got back. A session's messages are read in
 * stream order (a direct get by `<…>.s.<client>.>`), which is the order they were stored in.
 * `max_msgs_per_subject: 1` makes a store sent again (after a failure) replace its first copy.
 *
 * Writes are plain NATS publishes, confirmed together (`confirm`): one JetStream publish with
 * an acknowledgement to `<cluster>.queue.b.<origin>` after them. The stream stores what one
 * connection sends in order, so once that barrier is stored every store sent before it is too.
 * A JetStream publish with its own acknowledgement costs the Node client about 85 µs of CPU; a
 * plain publish 13 µs (`npm run bench -- cluster`, "QoS 1 persistent", and a probe of 5,000 of
 * each against nats-server 2.9). Deletes are purge requests sent without a reply subject for the
 * same reason (16 µs against 66 µs): one that is lost leaves a copy that is delivered again.
 */
import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream'
import type { Message } from '../broker/types.ts'
import { decodeEnvelope, encodeEnvelope } from './envelope.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { levelToToken } from './subjects.ts'

/**
 * What the stream may hold in all; past it the oldest messages go (DiscardPolicy.Old). A bound,
 * not a budget: a session's own limit is the broker's maxQueuedMessages on the node holding it.
 */
export const QUEUE_MAX_BYTES = 1024 ** 3
const NO_ORIGIN = Buffer.alloc(0)
const EMPTY = new Uint8Array(0)

export interface QueuedMessage {
  /** The message's cluster-wide id (SessionQueue.keyOf). */
  key: string
  /** As delivered to the session: its QoS and retain flag are the delivery's. */
  message: Message
}

export class SessionQueue {
  private readonly barrier: string
  private readonly purgeSubject: string

  private constructor(
    private readonly conn: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    origin: string,
  ) {
    this.barrier = `${prefix}.b.${levelToToken(origin)}`
    this.purgeSubject = `$JS.API.STREAM.PURGE.${stream}`
  }

  /**
   * Opens the queue stream, creating it when missing (an existing one keeps its settings).
   * `origin`: this process's instance id, which names its barrier subject.
   */
  static async open(
    conn: NatsConnection,
    names: ClusterNames,
    origin: string,
    replicas = 1,
  ): Promise<SessionQueue> {
    const stream = `${names.cluster}_queue`
    const prefix = `${names.cluster}.queue`
    const jsm = await conn.jetstreamManager()
    try {
      await jsm.streams.info(stream)
    } catch (error) {
      if (!(error instanceof Error) || !/stream not found/i.test(error.message)) throw error
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        storage: StorageType.File,
        num_replicas: replicas,
        max_msgs_per_subject: 1,
        max_bytes: QUEUE_MAX_BYTES,
        allow_direct: true,
      })
    }
    return new SessionQueue(conn, conn.jetstream(), jsm, stream, prefix, origin)
  }

  /** A message's cluster-wide id: `origin` (an instance id) as a token, then its number there. */
  static keyOf(origin: string, seq: number): string {
    return `${levelToToken(origin)}.${seq}`
  }

  private sessionSubject(clientId: string): string {
    return `${this.prefix}.s.${levelToToken(clientId)}`
  }

  /** Sends `message` (with its delivery QoS and retain) to be kept for the session; see confirm. */
  send(clientId: string, key: string, message: Message): void {
    this.conn.connection.publish(`${this.sessionSubject(clientId)}.${key}`, encodeQueued(message))
  }

  /**
   * Resolves once everything sent so far on this connection is stored: a JetStream publish
   * with an acknowledgement, after them in the stream's order. Rejects when JetStream does not
   * answer (the stores are then to be sent again).
   */
  async confirm(): Promise<void> {
    await this.js.publish(this.barrier, EMPTY)
  }

  /** Keeps `message` for the session; resolves once stored. */
  async store(clientId: string, key: string, message: Message): Promise<void> {
    this.send(clientId, key, message)
    await this.confirm()
  }

  /** The session's messages, oldest first (one direct get per message). */
  async read(clientId: string): Promise<QueuedMessage[]> {
    const session = this.sessionSubject(clientId)
    const out: QueuedMessage[] = []
    let seq = 1
    for (;;) {
      const sm = await this.jsm.direct.getMessage(this.stream, { seq, next_by_subj: `${session}.>` })
      if (!sm) break
      const message = decodeQueued(sm.data)
      // A message another writer put there that does not decode is skipped, not delivered.
      if (message) out.push({ key: sm.subject.slice(session.length + 1), message })
      seq = sm.seq + 1
    }
    return out
  }

  /** Deletes the session's copy of one message (its client completed it); not confirmed. */
  remove(clientId: string, key: string): void {
    this.conn.connection.publish(
      this.purgeSubject,
      JSON.stringify({ filter: `${this.sessionSubject(clientId)}.${key}` }),
    )
  }

  /** Deletes every message kept for the session (clean start, expiry). */
  async purge(clientId: string): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: `${this.sessionSubject(clientId)}.>` })
  }
}

function encodeQueued(message: Message): Buffer {
  // The routing envelope leaves the topic to the subject; here the subject is the session's.
  const topic = Buffer.from(message.topic)
  const head = Buffer.allocUnsafe(2)
  head.writeUInt16BE(topic.length)
  return Buffer.concat([head, topic, encodeEnvelope(message, NO_ORIGIN, 0)])
}

function decodeQueued(data: Uint8Array): Message | undefined {
  if (data.length < 2) return undefined
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const end = 2 + buf.readUInt16BE(0)
  if (end > buf.length) return undefined
  const envelope = decodeEnvelope(buf.subarray(end))
  return envelope && { ...envelope.message, topic: buf.toString('utf8', 2, end) }
}
