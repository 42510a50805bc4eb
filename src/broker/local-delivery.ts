import type { Logger } from 'pino'
import type { Connection } from './connection.ts'
import type { AccessChecks } from './core.ts'
import type { FlowControl } from './flow.ts'
import { InterestCounts } from './interest.ts'
import { Session } from './sessions.ts'
import { SharedGroup } from './shared.ts'
import type { Subscription } from './subscription.ts'
import { parseSharedFilter } from './topic-rules.ts'
import { SubscriptionTree } from './topics.ts'
import type { Message, MessageHandler, QoS } from './types.ts'

/**
 * Where the router hands each message once its own bookkeeping is done (counters, last values,
 * the retained store, `message` listeners). LocalDelivery is the local fabric: it delivers to
 * this process's sessions, shared groups and in-process handlers. A cluster attaches a
 * RemoteFabric to the router as well (types.ts), which forwards the message to the other nodes;
 * there it enters their LocalDelivery through the router's inlet without being forwarded again.
 *
 * Called once per routed message, never re-entered, with no allocation of its own beyond what
 * matching needs. `source`: the client connection the message came from when flow control may
 * hold it back; undefined otherwise (broker.publish, wills, scripts, flow control off).
 */
export interface Delivery {
  deliver(message: Message, source: Connection | undefined): void
}

/** An in-process subscriber (embedder, scripting host, dashboard): just a function. */
export class HandlerSubscriber {
  routeEpoch = 0
  routeQos: QoS = 0
  routeRetain = false
  routeIds: number[] | undefined
  constructor(readonly handler: MessageHandler) {}
}

type Subscriber = Session | HandlerSubscriber | SharedGroup

/**
 * The local fabric: the subscription tree of this process's sessions, shared groups and
 * handlers, and delivery to them, once per subscriber at the highest QoS granted among its
 * matching filters.
 */
export class LocalDelivery implements Delivery {
  private readonly tree = new SubscriptionTree<Subscriber, Subscription>()
  private readonly sharedGroups = new Map<string, SharedGroup>()
  /** The filters in the tree, counted by subscriber, for a cluster's interest. */
  readonly interest = new InterestCounts()
  /**
   * Set while a cluster delivers to shared groups (RemoteFabric.sharedInterest): each message
   * for a group then arrives once per cluster through deliverToGroup, never from the tree, and
   * the listener hears of each group this node has members of.
   */
  sharedListener: ((group: string, filter: string, present: boolean) => void) | undefined
  /** Scratch space of one delivery: the subscribers matched, and the pass that matched them. */
  private readonly targets: Subscriber[] = []
  private epoch = 0

  constructor(
    private readonly access: AccessChecks,
    private readonly flow: FlowControl,
    private readonly logger: Logger,
  ) {}

  /** Subscriptions in the tree (a shared group counts once). */
  get size(): number {
    return this.tree.size
  }

  deliver(message: Message, source: Connection | undefined): void {
    const epoch = ++this.epoch
    const targets = this.targets
    const publisher = message.clientId
    this.tree.match(message.topic, (subscriber, sub) => {
      // MQTT 5 No Local: not back to the client that published it [MQTT-3.8.3-3].
      if (sub.noLocal && publisher !== undefined && (subscriber as Session).clientId === publisher) return
      if (subscriber.routeEpoch !== epoch) {
        subscriber.routeEpoch = epoch
        subscriber.routeQos = sub.qos
        subscriber.routeRetain = sub.retainAsPublished === true
        subscriber.routeIds = sub.identifier === undefined ? undefined : [sub.identifier]
        targets.push(subscriber)
        return
      }
      // One copy per client for overlapping subscriptions, at the highest QoS, carrying
      // every matching subscription identifier [MQTT-3.3.4-2, 3.3.4-3].
      if (sub.qos > subscriber.routeQos) subscriber.routeQos = sub.qos
      if (sub.retainAsPublished) subscriber.routeRetain = true
      if (sub.identifier !== undefined) {
        if (subscriber.routeIds) subscriber.routeIds.push(sub.identifier)
        else subscriber.routeIds = [sub.identifier]
      }
    })
    // Normal delivery clears the retain flag unless Retain As Published [MQTT-3.3.1-9, 3.3.1-12].
    try {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]
        if (target instanceof Session) {
          // A client is never held back by its own session: it would stop reading its acknowledgements.
          const holdable = source !== undefined && target.outlet !== source
          if (
            this.access.mayRead(target, message.topic) &&
            target.deliver(
              message,
              target.routeQos,
              message.retain && target.routeRetain,
              target.routeIds,
              holdable,
            ) &&
            source !== undefined
          ) {
            this.flow.hold(source, target)
          }
        } else if (target instanceof SharedGroup) {
          if (this.sharedListener === undefined) this.deliverShared(target, message, source)
        } else if (target !== undefined) {
          this.callHandler(target, message.retain ? { ...message, retain: false } : message)
        }
      }
    } finally {
      // Emptied even when a delivery throws: left filled, the next message went to these targets.
      targets.length = 0
    }
  }

  private deliverShared(group: SharedGroup, message: Message, source: Connection | undefined): void {
    const picked = group.pick()
    if (!picked) return
    const [session, sub] = picked
    if (!this.access.mayRead(session, message.topic)) return
    const ids = sub.identifier === undefined ? undefined : [sub.identifier]
    const holdable = source !== undefined && session.outlet !== source
    if (
      session.deliver(message, sub.qos, message.retain && sub.retainAsPublished === true, ids, holdable) &&
      source !== undefined
    )
      this.flow.hold(source, session)
  }

  /**
   * A message the cluster picked this node for, to one member of the group (sharedListener).
   * False when the node has no member of the group any more (the last one left while the
   * message was on its way): the cluster hands it to another node's members.
   */
  deliverToGroup(group: string, filter: string, message: Message): boolean {
    const target = this.sharedGroups.get(sharedKey({ group, filter }))
    if (!target) return false
    this.deliverShared(target, message, undefined)
    return true
  }

  /** Whether a member of this node's shared group has its client connected. */
  groupOnline(group: string, filter: string): boolean {
    return this.sharedGroups.get(sharedKey({ group, filter }))?.hasOnlineMember() ?? false
  }

  /** The shared groups this node has members of. */
  groups(): { group: string; filter: string }[] {
    return [...this.sharedGroups.values()].map(({ group, filter }) => ({ group, filter }))
  }

  /** A handler that throws is logged; the other subscribers still get the message. */
  callHandler(subscriber: HandlerSubscriber, message: Message): void {
    try {
      subscriber.handler(message)
    } catch (error) {
      this.logger.error({ err: error, topic: message.topic }, 'message handler threw')
    }
  }

  addHandler(filter: string, subscriber: HandlerSubscriber, qos: QoS): void {
    if (this.tree.add(filter, subscriber, { qos })) this.interest.added(filter)
  }

  removeHandler(filter: string, subscriber: HandlerSubscriber): void {
    if (this.tree.remove(filter, subscriber)) this.interest.removed(filter)
  }

  /** Puts a session's subscription into the tree (or its shared group). */
  add(session: Session, filter: string, subscription: Subscription): void {
    const shared = parseSharedFilter(filter)
    if (shared === 'invalid') throw new Error(`invalid shared subscription ${filter}`)
    if (shared) {
      const key = sharedKey(shared)
      let group = this.sharedGroups.get(key)
      if (!group) {
        group = new SharedGroup(shared.group, shared.filter)
        this.sharedGroups.set(key, group)
        this.tree.add(shared.filter, group, { qos: 2 })
        // In a cluster the group's messages come through the cluster's queue, not the filter.
        if (this.sharedListener) this.sharedListener(shared.group, shared.filter, true)
        else {
          group.countsInterest = true
          this.interest.added(shared.filter)
        }
      }
      group.members.set(session, subscription)
    } else if (this.tree.add(filter, session, subscription)) {
      this.interest.added(filter)
    }
  }

  /** Takes a session's subscription out of the tree; a shared group left empty goes too. */
  remove(session: Session, filter: string): void {
    const shared = parseSharedFilter(filter)
    if (shared && shared !== 'invalid') {
      const key = sharedKey(shared)
      const group = this.sharedGroups.get(key)
      if (group) {
        group.members.delete(session)
        if (group.members.size === 0) {
          this.sharedGroups.delete(key)
          this.tree.remove(shared.filter, group)
          if (group.countsInterest) this.interest.removed(shared.filter)
          this.sharedListener?.(shared.group, shared.filter, false)
        }
      }
    } else if (this.tree.remove(filter, session)) {
      this.interest.removed(filter)
    }
  }
}

/** Shared groups are per (group name, filter): `$share/a/x` and `$share/b/x` are two groups. */
function sharedKey(shared: { group: string; filter: string }): string {
  return `${shared.group}\u0000${shared.filter}`
}
