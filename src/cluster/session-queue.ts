/**
 * Messages waiting for an offline persistent session, in the JetStream stream
 * `<cluster>_queue`, one subject per session (`<cluster>.queue.<client id as a token>`), so
 * whichever node the client reconnects to reads them in publish order. `store` resolves once
 * the server stored the message (the point at which a publisher's PUBACK may go); `remove`
 * deletes one delivered and acknowledged message, `purge` a whole session's. Not wired into
 * the broker yet (docs/cluster.md "Not done yet").
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

const NO_ORIGIN = Buffer.alloc(0)

export interface QueuedMessage {
  /** The stream sequence: what `remove` takes. */
  seq: number
  message: Message
}

export class SessionQueue {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
  ) {}

  /** Opens the queue stream, creating it when missing (an existing one keeps its settings). */
  static async open(conn: NatsConnection, names: ClusterNames, replicas = 1): Promise<SessionQueue> {
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
        allow_direct: true,
      })
    }
    return new SessionQueue(conn.jetstream(), jsm, stream, prefix)
  }

  private subject(clientId: string): string {
    return `${this.prefix}.${levelToToken(clientId)}`
  }

  /** Appends a message to the session's queue; resolves with its sequence once stored. */
  async store(clientId: string, message: Message): Promise<number> {
    // The routing envelope leaves the topic to the subject; here the subject is the session's.
    const topic = Buffer.from(message.topic)
    const head = Buffer.allocUnsafe(2)
    head.writeUInt16BE(topic.length)
    const data = Buffer.concat([head, topic, encodeEnvelope(message, NO_ORIGIN, 0)])
    const ack = await this.js.publish(this.subject(clientId), data)
    return ack.seq
  }

  /** The session's queued messages, oldest first (one direct get per message). */
  async read(clientId: string): Promise<QueuedMessage[]> {
    const subject = this.subject(clientId)
    const out: QueuedMessage[] = []
    let seq = 1
    for (;;) {
      const sm = await this.jsm.direct.getMessage(this.stream, { seq, next_by_subj: subject })
      if (!sm) break
      const message = decodeQueued(sm.data)
      // A message another writer put there that does not decode is skipped, not delivered.
      if (message) out.push({ seq: sm.seq, message })
      seq = sm.seq + 1
    }
    return out
  }

  /** Deletes one message, delivered and acknowledged. */
  async remove(seq: number): Promise<void> {
    await this.jsm.streams.deleteMessage(this.stream, seq, false)
  }

  /** Deletes every message queued for the session (clean start, expiry). */
  async purge(clientId: string): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: this.subject(clientId) })
  }
}

function decodeQueued(data: Uint8Array): Message | undefined {
  if (data.length < 2) return undefined
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const end = 2 + buf.readUInt16BE(0)
  if (end > buf.length) return undefined
  const envelope = decodeEnvelope(buf.subarray(end))
  return envelope && { ...envelope.message, topic: buf.toString('utf8', 2, end) }
}
