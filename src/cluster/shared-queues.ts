/**
 * `$share` groups once per cluster: every node with members of a group holds a NATS queue
 * subscription for the group's filter, under a queue name made of the group and the filter,
 * so the NATS server hands each routed message to one of those nodes, which gives it to one
 * of its members (SharedGroup.pick). The origin node's own members compete like any other,
 * which needs a connection that receives its own publishes: the node's main connection has
 * echo off (cluster-router.ts), so these subscriptions live on a second connection with echo on.
 *
 * As with routing, the hop is core NATS: at most once past the server (docs/cluster.md).
 *
 * A message handed back to its group (receive) goes to the group's own subject,
 * `<queue name>.back`, with the routed subject in a header: published again on the routed
 * subject it would reach every other group on that subject a second time.
 */

/** The header that carries a handed-back message's routed subject. */
const SUBJECT_HEADER = 'Tinymqtt-Subject'

import { createHash } from 'node:crypto'
import { headers, type Subscription } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import type { FabricInlet } from '../broker/types.ts'
import { decodeEnvelope } from './envelope.ts'
import type { ClusterNames } from './names.ts'
import type { NatsConnection } from './nats-connection.ts'
import type { SharedCopies } from './shared-copies.ts'
import { levelToToken, SubjectMapper, shareId } from './subjects.ts'

interface Share {
  group: string
  filter: string
  /** The group's own subject, for a message handed back. */
  back: string
  id: string
}

export class SharedQueues {
  private readonly mapper: SubjectMapper
  private readonly groups = new Map<string, Subscription[]>()
  private inlet: FabricInlet | undefined
  /** A queue subscription was added since the last flush (only then is a round trip needed). */
  private added = false
  /** The groups' copies kept in JetStream, followed where this node has members. */
  copies: SharedCopies | undefined

  constructor(
    private readonly conn: NatsConnection,
    private readonly names: ClusterNames,
    private readonly logger: Logger,
  ) {
    this.mapper = new SubjectMapper(names.messagePrefix)
  }

  connect(inlet: FabricInlet): void {
    this.inlet = inlet
  }

  interest(group: string, filter: string, present: boolean): void {
    const key = `${group}\u0000${filter}`
    this.copies?.interest(group, filter, present)
    if (!present) {
      // Drained rather than dropped: a message the server handed this node before it had the
      // UNSUB still arrives, and goes back to the group (receive).
      for (const sub of this.groups.get(key) ?? []) sub.drain().catch(() => undefined)
      this.groups.delete(key)
      return
    }
    if (this.groups.has(key)) return
    // One queue per (group, filter), as MQTT has one group per share name and filter; a hash
    // keeps the name a single token whatever the filter holds.
    const digest = createHash('sha256').update(filter).digest('base64url').slice(0, 22)
    const queue = `${this.names.cluster}.share.${levelToToken(group)}.${digest}`
    const nc = this.conn.connection
    const back = `${queue}.back`
    const share = { group, filter, back, id: shareId(group, filter) }
    const subs = this.mapper.filterToSubjects(filter).map((subject) =>
      nc.subscribe(subject, {
        queue,
        callback: (error, msg) => this.receive(error, share, msg.subject, msg.data),
      }),
    )
    subs.push(
      nc.subscribe(back, {
        queue,
        callback: (error, msg) =>
          this.receive(error, share, msg.headers?.get(SUBJECT_HEADER) ?? '', msg.data),
      }),
    )
    this.groups.set(key, subs)
    this.added = true
  }

  /** Resolves once the server has the queue subscriptions added so far. */
  async flush(): Promise<void> {
    if (!this.added) return
    this.added = false
    try {
      await this.conn.connection.flush()
    } catch (error) {
      this.added = true
      throw error
    }
  }

  private receive(error: Error | null, share: Share, subject: string, data: Uint8Array): void {
    const { group, filter, back } = share
    if (error) {
      this.logger.warn({ err: error }, 'cluster: shared subscription error')
      return
    }
    const envelope = decodeEnvelope(data)
    const topic = this.mapper.subjectToTopic(subject)
    if (envelope === undefined || topic === undefined) return
    // Kept for the group by its origin: it comes from JetStream (shared-copies.ts).
    if (envelope.message.qos !== 0 && envelope.shares?.includes(share.id)) return
    envelope.message.topic = topic
    if (this.inlet === undefined || this.inlet.deliverShared(group, filter, envelope.message)) return
    // The node's last member left while the message was on its way: handed back, it goes to
    // another node's members (this node's queue subscriptions are gone from the server, since
    // their UNSUB went out on this connection first), or nowhere when the group has none.
    try {
      const h = headers()
      h.set(SUBJECT_HEADER, subject)
      this.conn.connection.publish(back, data, { headers: h })
    } catch (error) {
      this.logger.warn({ err: error, group }, 'cluster: could not hand a shared message back to its group')
    }
  }

  stop(): void {
    for (const subs of this.groups.values()) for (const sub of subs) sub.unsubscribe()
    this.groups.clear()
  }
}
