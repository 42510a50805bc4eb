/**
 * The router's remote fabric on NATS: every message routed on this node is published once on
 * core NATS under `<cluster>.msg.<t|s>.<levels>`, and the node subscribes to the subjects of
 * the filters its own subscribers use (reference-counted by the broker's interest counts), so
 * it receives only what someone on it subscribed to. Messages received are delivered locally
 * through the broker's inlet and never published again.
 *
 * A message matching several of this node's NATS subscriptions (`a/#` and `a/b`) arrives once
 * per subscription; each carries its origin's sequence number (envelope.ts), and a copy whose
 * number is not above the last one seen from that origin is dropped. NATS keeps one
 * publisher's messages in order to each subscriber connection, so the numbers of one origin
 * only ever grow here, and the same order keeps messages in publish order per publisher.
 *
 * Core NATS is at most once. flush() lets the broker hold a QoS 1/2 publisher's PUBACK until
 * the NATS server has the message (a PING/PONG round trip, batched per event-loop turn), so a
 * PUBACK is never sent for a message that died with this node or its connection. Past the
 * server, a node that was away from NATS gets its missed QoS 1/2 messages sent again by their
 * origins when it is back (route-replay.ts). A QoS 1/2 message is also kept in JetStream for
 * every persistent session it matches (session-messages.ts), and flush() waits for those
 * copies too.
 */
import type { Subscription } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import type { FabricInlet, Message, RemoteFabric } from '../broker/types.ts'
import { decodeEnvelope, encodeEnvelope } from './envelope.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { RetainedStore } from './retained-store.ts'
import { RetainedWriter } from './retained-writer.ts'
import type { RouteReplay } from './route-replay.ts'
import type { SessionMessages } from './session-messages.ts'
import { SubjectMapper } from './subjects.ts'

export class ClusterRouter implements RemoteFabric {
  /** This process's id on the wire: the node id and a random suffix, new on every start. */
  readonly origin: string
  private readonly originBytes: Buffer
  private seq = 0
  /** The highest sequence number delivered from each origin. */
  readonly lastSeen = new Map<string, number>()
  private readonly mapper: SubjectMapper
  private readonly subscriptions = new Map<string, Subscription[]>()
  private inlet: FabricInlet | undefined
  private readonly retainedWrites: RetainedWriter
  /** Messages received from other nodes and delivered here (for stats and tests). */
  received = 0

  constructor(
    private readonly conn: NatsConnection,
    names: ClusterNames,
    nodeId: string,
    /** This start of the node (index.ts): the origin's suffix. */
    run: string,
    retained: RetainedStore,
    private readonly logger: Logger,
  ) {
    this.retainedWrites = new RetainedWriter(retained, logger)
    this.mapper = new SubjectMapper(names.messagePrefix)
    this.origin = `${nodeId.slice(0, 200)}#${run}`
    this.originBytes = Buffer.from(this.origin)
    if (this.originBytes.length > 255) throw new RangeError('node id too long')
  }

  /** `$share` groups once per cluster (index.ts sets it); without it groups are per node. */
  sharedQueues:
    | { interest(group: string, filter: string, present: boolean): void; flush(): Promise<void> }
    | undefined

  sharedInterest(group: string, filter: string, present: boolean): void {
    this.sharedQueues?.interest(group, filter, present)
  }

  /** What other nodes missed of this node's QoS 1/2 messages, and what this one missed (index.ts sets it). */
  replay: RouteReplay | undefined

  /** Persistent sessions' messages kept in JetStream (index.ts sets it). */
  sessionMessages: SessionMessages | undefined

  /** This node's copy of the retained messages, once it follows the stream (index.ts sets it). */
  retainedCopy: { ready(): Promise<void> } | undefined

  /** See RemoteFabric.retainedReady. */
  retainedReady(): Promise<void> {
    return this.retainedCopy?.ready() ?? Promise.resolve()
  }

  /** Where messages from other nodes go; set before interest is reported. */
  connect(inlet: FabricInlet): void {
    this.inlet = inlet
  }

  /** The MQTT filters this node holds NATS subscriptions for. */
  get filters(): string[] {
    return [...this.subscriptions.keys()]
  }

  forward(message: Message): void {
    const nc = this.conn.connection
    const seq = ++this.seq
    const subject = this.mapper.topicToSubject(message.topic)
    // The `$share` groups kept in JetStream take it from there; the envelope says which.
    const shares = message.qos === 0 ? undefined : this.sessionMessages?.keptShares(message)
    const envelope = encodeEnvelope(message, this.originBytes, seq, shares)
    nc.publish(subject, envelope)
    if (message.qos !== 0) {
      this.replay?.routed(seq, subject, envelope)
      this.sessionMessages?.routed(message, this.origin, seq, shares)
    }
    if (message.retain) {
      this.retainedWrites.write({
        topic: message.topic,
        payload: message.payload,
        qos: message.qos,
        properties: message.properties,
        expiresAt: message.expiresAt,
      })
    }
  }

  /**
   * The server has everything this node published so far once its PONG is back, and the
   * retained stream has every retained message forwarded so far once the writer settles.
   */
  async flush(): Promise<void> {
    await Promise.all([
      this.conn.connection.flush(),
      this.retainedWrites.settled(),
      this.sharedQueues?.flush(),
      this.sessionMessages?.settled(),
    ])
  }

  interest(filter: string, present: boolean): void {
    if (!present) {
      const subs = this.subscriptions.get(filter)
      this.subscriptions.delete(filter)
      for (const sub of subs ?? []) sub.unsubscribe()
      return
    }
    if (this.subscriptions.has(filter)) return
    const nc = this.conn.connection
    const subs = this.mapper
      .filterToSubjects(filter)
      .map((subject) =>
        nc.subscribe(subject, { callback: (error, msg) => this.receive(error, msg.subject, msg.data) }),
      )
    this.subscriptions.set(filter, subs)
  }

  private receive(error: Error | null, subject: string, data: Uint8Array): void {
    if (error) {
      this.logger.warn({ err: error }, 'cluster: subscription error')
      return
    }
    const envelope = decodeEnvelope(data)
    const topic = this.mapper.subjectToTopic(subject)
    if (envelope === undefined || topic === undefined) {
      this.logger.warn({ subject }, 'cluster: dropped a message that is not a tinymqtt envelope')
      return
    }
    const { origin, seq, message } = envelope
    // Our own message comes back when this node subscribes to its topic too.
    if (origin === this.origin) return
    message.topic = topic
    if (this.replay?.hold(origin, seq, message)) return
    this.accept(origin, seq, message)
  }

  /**
   * Delivers a routed message unless one numbered as high from its origin was delivered;
   * true when it was delivered.
   */
  accept(origin: string, seq: number, message: Message): boolean {
    const last = this.lastSeen.get(origin)
    if (last !== undefined && seq <= last) return false
    this.lastSeen.set(origin, seq)
    if (message.qos !== 0) this.sessionMessages?.named(message, origin, seq)
    this.received++
    this.inlet?.deliver(message)
    return true
  }

  /** The MQTT topic a routed subject stands for, or undefined when it is not one. */
  topicOf(subject: string): string | undefined {
    return this.mapper.subjectToTopic(subject)
  }

  /** Ends every NATS subscription (the connection is closed by its owner). */
  stop(): void {
    this.replay?.stop()
    this.retainedWrites.stop()
    for (const subs of this.subscriptions.values()) for (const sub of subs) sub.unsubscribe()
    this.subscriptions.clear()
  }
}
