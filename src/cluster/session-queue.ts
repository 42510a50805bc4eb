/**
 * Persistent sessions' QoS 1/2 messages, kept in the JetStream stream `<cluster>_queue` until
 * their client has them, so whichever node the client reconnects to (or a node taking over
 * from a dead one) finds them. One subject per message and session:
 *
 *   <cluster>.queue.s.<client id as a token>.<holder node as a token>.<message key>
 *
 * - The message key is the message's cluster-wide id (its origin's instance id as a token, then
 *   the origin's sequence number, two tokens), the same on every node. The holder is the node
 *   the session's record named when the copy was stored.
 * - A session's messages are read in stream order (direct gets by `<…>.s.<client>.>`), which is
 *   the order they were stored in; each comes with its stream sequence.
 * - The stream republishes the headers of every copy stored (its sequence in `Nats-Sequence`)
 *   to `<cluster>.queue.seq.<holder>.<client>.<key>`, and each node listens to its own holder
 *   token (`followSequences`): so the node that delivers a copy knows its sequence and deletes
 *   it by sequence once the client completed it. A delete by subject (a purge with a filter)
 *   costs nats-server 2.9 time in proportion to what the stream holds: 9.6 ms per delete with
 *   50,000 messages kept, against 20–50 µs by sequence (a probe against Debian's 2.9.10). It is
 *   only the fallback for a copy whose sequence never arrived.
 * - `max_msgs_per_subject: 1` makes a store sent again (after a failure) replace its first copy.
 * - What a session has in flight at QoS 2 is kept among its messages, the newest list only:
 *
 *     <cluster>.queue.s.<client id as a token>.inflight
 *
 *   (`writeInflight`, sent as it changes, not confirmed), so a node that takes the session over
 *   after its holder died sends those messages again under the packet ids the client knows.
 *   Two tokens after `s` where a copy has four: never republished, never taken for a copy, and
 *   purged with the session's copies by the same filter.
 * - A QoS 1/2 message kept for a `$share` group (a persistent session is a member) until one
 *   of its nodes gave it to a member (shared-copies.ts), under
 *
 *     <cluster>.queue.g.<shareId>.<message key>
 *
 *   read through the group's durable consumer `share_<shareId>`, which every node with members
 *   of the group pulls from (`followShare`).
 * - Writes are plain NATS publishes, confirmed together (`confirm`): one JetStream publish
 *   with an acknowledgement to `<cluster>.queue.b.<origin>` after them. The stream stores what
 *   one connection sends in order, so once that barrier is stored every copy sent before it is
 *   too. A JetStream publish with its own acknowledgement costs the Node client about 85 µs of
 *   CPU, a plain publish 13 µs (a probe of 5,000 each). Deletes go without a reply subject for
 *   the same reason: one that is lost leaves a copy that is delivered again.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from '@nats-io/jetstream'
import { type Msg, nanos, type Subscription } from '@nats-io/transport-node'
import type { Message } from '../broker/types.ts'
import { decodeEnvelope, encodeEnvelope } from './envelope.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import { type InflightRecord, isInflightRecord } from './session-directory.ts'
import { levelToToken } from './subjects.ts'

/**
 * What the stream may hold in all; past it the oldest messages go (DiscardPolicy.Old). A bound,
 * not a budget: a session's own limit is the broker's maxQueuedMessages on the node holding it.
 */
export const QUEUE_MAX_BYTES = 1024 ** 3
const NO_ORIGIN = Buffer.alloc(0)
/** The last token of a session's in-flight list's subject. */
const INFLIGHT = 'inflight'
const EMPTY = new Uint8Array(0)
/**
 * How long a node may hold a group's copy unanswered before the group's consumer gives it to
 * a node again: the bound on how late a copy taken by a node that died comes to the others.
 */
export const SHARE_ACK_WAIT_MS = 30_000
/** A group's consumer that no node pulled from for this long is deleted by the server. */
const SHARE_IDLE_MS = 24 * 3600_000

/** A `$share` group's copy as its consumer hands it to a node (SessionQueue.followShare). */
export interface SharedCopy {
  /** The key the member that takes it keeps it under (SessionQueue.memberKeyOf). */
  key: string
  message: Message
  /** A member took it: it leaves the group's queue. */
  taken(): void
  /** No member here could take it: it goes to a node again after `delayMs`. */
  refused(delayMs: number): void
}

export interface QueuedMessage {
  /** The message's cluster-wide id (SessionQueue.keyOf). */
  key: string
  /** Its sequence in the stream (what `remove` takes). */
  seq: number
  /** As delivered to the session: its QoS and retain flag are the delivery's. */
  message: Message
}

/** A copy stored for a session held on this node: its client id token, key and stream sequence. */
export type SequenceListener = (sessionToken: string, key: string, seq: number) => void

export class SessionQueue {
  private readonly barrier: string
  private readonly deleteSubject: string
  private notices: Subscription | undefined

  private constructor(
    private readonly conn: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    origin: string,
  ) {
    this.barrier = `${prefix}.b.${levelToToken(origin)}`
    this.deleteSubject = `$JS.API.STREAM.MSG.DELETE.${stream}`
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
    let info: StreamInfo
    try {
      info = await jsm.streams.info(stream)
    } catch (error) {
      if (!(error instanceof Error) || !/stream not found/i.test(error.message)) throw error
      info = await jsm.streams.add({
        name: stream,
        subjects: subjectsOf(prefix),
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        storage: StorageType.File,
        num_replicas: replicas,
        max_msgs_per_subject: 1,
        max_bytes: QUEUE_MAX_BYTES,
        allow_direct: true,
        // <client>.<holder>.<origin>.<n> → <holder>.<client>.<origin>.<n>: one listener per node.
        republish: {
          src: `${prefix}.s.*.*.*.*`,
          dest: `${prefix}.seq.{{wildcard(2)}}.{{wildcard(1)}}.{{wildcard(3)}}.{{wildcard(4)}}`,
          headers_only: true,
        },
      })
    }
    // A stream from before `$share` groups were kept gains their subjects.
    const subjects = info.config.subjects ?? []
    if (!subjects.includes(`${prefix}.g.>`))
      await jsm.streams.update(stream, { ...info.config, subjects: [...subjects, `${prefix}.g.>`] })
    return new SessionQueue(conn, conn.jetstream(), jsm, stream, prefix, origin)
  }

  /** A message's cluster-wide id: `origin` (an instance id) as a token, then its number there. */
  static keyOf(origin: string, seq: number): string {
    return `${SessionQueue.originToken(origin)}.${seq}`
  }

  /**
   * The key a `$share` group's copy `key` (keyOf) has once a member took it: its own, so a
   * member that also has an ordinary subscription matching the message keeps both copies, as
   * MQTT asks. `==` never occurs in an origin token (levelToToken writes `=` and two hex
   * digits), so it is no other message's key; it stays two tokens.
   */
  static memberKeyOf(key: string, share: string): string {
    const dot = key.indexOf('.')
    return `${key.slice(0, dot)}==${share}${key.slice(dot)}`
  }

  /** The first half of keyOf, for callers that keep it per origin. */
  static originToken(origin: string): string {
    return levelToToken(origin)
  }

  /** A client id as the queue's subjects carry it. */
  static sessionToken(clientId: string): string {
    return levelToToken(clientId)
  }

  /**
   * Sends `message` (with its delivery QoS and retain) to be kept for the session held on
   * `holder`; see confirm.
   */
  send(clientId: string, holder: string, key: string, message: Message): void {
    this.conn.connection.publish(
      `${this.prefix}.s.${levelToToken(clientId)}.${levelToToken(holder)}.${key}`,
      encodeQueued(message),
    )
  }

  /** Sends `message` to be kept for the `$share` group `share` (a shareId); see confirm. */
  sendShare(share: string, key: string, message: Message): void {
    this.conn.connection.publish(`${this.prefix}.g.${share}.${key}`, encodeQueued(message))
  }

  /**
   * Hands `take` the copies kept for the `$share` group `share`, through the group's durable
   * consumer: every node with members of the group pulls from it, so each copy goes to one
   * node, and one left unanswered for SHARE_ACK_WAIT_MS (its node died) goes to a node again.
   * Resolves with the function that stops this node's pulling.
   */
  async followShare(share: string, take: (copy: SharedCopy) => void): Promise<() => void> {
    const name = `share_${share}`
    const from = `${this.prefix}.g.${share}.`
    try {
      await this.jsm.consumers.add(this.stream, {
        durable_name: name,
        filter_subject: `${from}>`,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(SHARE_ACK_WAIT_MS),
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 1000,
        inactive_threshold: nanos(SHARE_IDLE_MS),
      })
    } catch (error) {
      // Made by another node meanwhile with settings of another version: used as it is.
      await this.jsm.consumers.info(this.stream, name).catch(() => {
        throw error
      })
    }
    const consumer = await this.js.consumers.get(this.stream, name)
    const messages = await consumer.consume({
      max_messages: 100,
      callback: (m) => {
        const message = decodeQueued(m.data)
        const key = m.subject.slice(from.length)
        if (message === undefined || !key.includes('.')) {
          // Another writer's, not ours: never deliverable.
          m.term()
          this.remove(m.seq)
          return
        }
        take({
          key: SessionQueue.memberKeyOf(key, share),
          message,
          taken: () => {
            m.ack()
            this.remove(m.seq)
          },
          refused: (delayMs) => m.nak(delayMs),
        })
      },
    })
    return () => void messages.stop()
  }

  /**
   * Resolves once everything sent so far on this connection is stored: a JetStream publish
   * with an acknowledgement, after them in the stream's order. Rejects when JetStream does not
   * answer (the stores are then to be sent again).
   */
  async confirm(): Promise<void> {
    await this.js.publish(this.barrier, EMPTY)
  }

  /** Keeps `message` for the session held on `holder`; resolves once stored. */
  async store(clientId: string, holder: string, key: string, message: Message): Promise<void> {
    this.send(clientId, holder, key, message)
    await this.confirm()
  }

  /** Calls `listener` for every copy stored from now on for a session held on `node`. */
  followSequences(node: string, listener: SequenceListener): void {
    const from = `${this.prefix}.seq.${levelToToken(node)}.`
    this.notices = this.conn.connection.subscribe(`${from}>`, {
      callback: (error, msg) => {
        if (error) return
        const notice = parseNotice(msg, from.length)
        if (notice) listener(notice.sessionToken, notice.key, notice.seq)
      },
    })
  }

  /** The session's messages, oldest first (one direct get per message). */
  async read(clientId: string): Promise<QueuedMessage[]> {
    return (await this.readSession(clientId)).messages
  }

  /** The session's messages, oldest first, and its last in-flight list ([] when none): one pass. */
  async readSession(clientId: string): Promise<{ messages: QueuedMessage[]; inflight: InflightRecord[] }> {
    const session = `${this.prefix}.s.${levelToToken(clientId)}.`
    const messages: QueuedMessage[] = []
    let inflight: InflightRecord[] = []
    let seq = 1
    for (;;) {
      const sm = await this.jsm.direct.getMessage(this.stream, { seq, next_by_subj: `${session}>` })
      if (!sm) break
      seq = sm.seq + 1
      // After the client id: the holder's token, then the key's two tokens; or `inflight`.
      const rest = sm.subject.slice(session.length)
      if (rest === INFLIGHT) {
        inflight = decodeInflight(sm.data)
        continue
      }
      const message = decodeQueued(sm.data)
      const key = rest.slice(rest.indexOf('.') + 1)
      // A message another writer put there that does not decode is skipped, not delivered.
      if (message && key.includes('.')) messages.push({ key, seq: sm.seq, message })
    }
    return { messages, inflight }
  }

  /** Keeps `inflight` as what the session has in flight now, replacing the last list; not confirmed. */
  writeInflight(clientId: string, inflight: Iterable<InflightRecord>): void {
    this.conn.connection.publish(
      `${this.prefix}.s.${levelToToken(clientId)}.${INFLIGHT}`,
      JSON.stringify([...inflight]),
    )
  }

  /** Deletes one kept copy by its stream sequence (its client completed it); not confirmed. */
  remove(seq: number): void {
    this.conn.connection.publish(this.deleteSubject, JSON.stringify({ seq, no_erase: true }))
  }

  /**
   * Deletes a session's copy of one message by subject, for a copy whose sequence is unknown:
   * costly with much kept (see above), so only the fallback.
   */
  async removeBySubject(clientId: string, key: string): Promise<void> {
    await this.jsm.streams.purge(this.stream, {
      filter: `${this.prefix}.s.${levelToToken(clientId)}.*.${key}`,
    })
  }

  /** Deletes every message kept for the session (clean start, expiry). */
  async purge(clientId: string): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: `${this.prefix}.s.${levelToToken(clientId)}.>` })
  }

  /** Stops listening for sequences (the connection is closed by its owner). */
  stop(): void {
    this.notices?.unsubscribe()
    this.notices = undefined
  }
}

function subjectsOf(prefix: string): string[] {
  return [`${prefix}.s.>`, `${prefix}.b.>`, `${prefix}.g.>`]
}

function parseNotice(msg: Msg, skip: number): { sessionToken: string; key: string; seq: number } | undefined {
  const rest = msg.subject.slice(skip)
  const dot = rest.indexOf('.')
  const seq = Number(msg.headers?.get('Nats-Sequence'))
  if (dot <= 0 || !Number.isSafeInteger(seq) || seq <= 0) return undefined
  return { sessionToken: rest.slice(0, dot), key: rest.slice(dot + 1), seq }
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

/**
 * A kept in-flight list: JSON, as a session record's `inflight` (session-directory.ts); [] when
 * it does not parse as one, and entries that are not in-flight records are skipped.
 */
function decodeInflight(data: Uint8Array): InflightRecord[] {
  try {
    const list: unknown = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString())
    return Array.isArray(list) ? list.filter(isInflightRecord) : []
  } catch {
    return []
  }
}
