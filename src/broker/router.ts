import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Connection } from './connection.ts'
import type { ClientRouting } from './core.ts'
import type { FlowControl } from './flow.ts'
import type { LastValues } from './last-values.ts'
import { HandlerSubscriber, type LocalDelivery } from './local-delivery.ts'
import type { Persistence } from './persistence.ts'
import type { RetainedTree } from './retained.ts'
import type { Session } from './sessions.ts'
import type { Subscription } from './subscription.ts'
import type { FabricInlet, Message, MessageHandler, QoS, RemoteFabric, TrafficCounters } from './types.ts'

export interface RouterParts {
  retained: RetainedTree
  /** This process's subscribers; subscriptions are indexed here. */
  local: LocalDelivery
  persistence: Persistence
  flow: FlowControl
  totals: TrafficCounters
  /** Whose `message` listeners are called, with itself as `this`. */
  events: EventEmitter
  logger: Logger
}

/**
 * Routing: every message, from a client, broker.publish, a script or a will, passes through
 * route(), which counts it, keeps it in the last-value cache and the retained store, calls the
 * `message` listeners, delivers it locally and, in a cluster, forwards it to the remote fabric.
 * Messages from other nodes enter through the inlet (attachRemote) and are delivered locally
 * only. Subscriptions are kept here too: the session's own record, the local index of it, and
 * the store, in step.
 */
export class Router implements ClientRouting {
  /** The last message of each topic, while the cache is on (see Broker.useLastValues). */
  lastValues: LastValues | undefined
  private routing = false
  private readonly backlog: Message[] = []
  /**
   * The `message` listeners (once-wrappers included), re-read after one is added or removed:
   * calling them from this array costs a few ns a message where `emit` with its argument
   * array and a listenerCount check cost about 90 ns (an `npm run bench -- web` profile, 1M
   * messages).
   */
  private messageListeners: ((msg: Message) => void)[] = []
  private messageListenersStale = false

  private readonly retained: RetainedTree
  private readonly local: LocalDelivery
  /** The other nodes of a cluster, when one is attached. */
  private remote: RemoteFabric | undefined
  private readonly persistence: Persistence
  private readonly flow: FlowControl
  private readonly totals: TrafficCounters
  private readonly events: EventEmitter
  private readonly logger: Logger

  constructor(parts: RouterParts) {
    this.retained = parts.retained
    this.local = parts.local
    this.persistence = parts.persistence
    this.flow = parts.flow
    this.totals = parts.totals
    this.events = parts.events
    this.logger = parts.logger
    const { events } = parts
    // 'newListener' comes before the listener is added: the array is re-read on the next message.
    const stale = (event: string | symbol): void => {
      if (event === 'message') this.messageListenersStale = true
    }
    events.on('newListener', stale)
    events.on('removeListener', stale)
  }

  /**
   * Routes a message to every matching subscriber. Not re-entrant: a message published while
   * routing (by a handler, or a will) is delivered after the current one (Mosquitto's plugin
   * queue). The topic is not checked here: callers check it first.
   */
  route(message: Message, source?: Connection): void {
    if (this.routing) {
      this.backlog.push(message)
      return
    }
    this.routing = true
    try {
      this.routeOne(message, this.flow.enabled ? source : undefined)
      const backlog = this.backlog
      for (let i = 0; i < backlog.length; i++) {
        const next = backlog[i]
        if (next !== undefined) this.routeOne(next, undefined)
      }
    } finally {
      this.backlog.length = 0
      this.routing = false
    }
  }

  private routeOne(message: Message, source: Connection | undefined): void {
    this.totals.messagesIn++
    this.lastValues?.record(message)
    if (message.retain) {
      this.retained.set(message)
      this.persistence.putRetained(message)
    }
    const listeners = this.currentListeners()
    if (listeners.length !== 0) this.callMessageListeners(listeners, message)
    this.local.deliver(message, source)
    if (this.remote !== undefined) this.forward(this.remote, message)
  }

  private forward(remote: RemoteFabric, message: Message): void {
    try {
      remote.forward(message)
      if (message.qos !== 0) this.persistence.sentToCluster()
    } catch (error) {
      this.logger.error({ err: error, topic: message.topic }, 'cluster forward threw')
    }
  }

  /**
   * Attaches a cluster's remote fabric: from now on routed messages are forwarded to it and
   * changes of interest reported, starting with the filters subscribed already.
   */
  attachRemote(remote: RemoteFabric): FabricInlet {
    if (this.remote !== undefined) throw new Error('a remote fabric is attached already')
    this.remote = remote
    const interest = this.local.interest
    interest.listener = (filter, present) => {
      remote.interest(filter, present)
      // The SUBACK that follows waits for the flush: once sent, other nodes' messages arrive.
      if (present) this.persistence.sentToCluster()
    }
    const flush = remote.flush
    if (flush) this.persistence.setRemoteFlush(() => flush.call(remote))
    for (const filter of interest.filters()) remote.interest(filter, true)
    return {
      deliver: (message) => this.routeRemote(message),
      retain: (message) => {
        this.retained.set(message)
        this.persistence.putRetained(message)
      },
      retainedTopics: () => this.retained.all().map((m) => m.topic),
      detach: () => {
        if (this.remote !== remote) return
        this.remote = undefined
        interest.listener = undefined
        this.persistence.setRemoteFlush(undefined)
      },
    }
  }

  /**
   * A message from another node: delivered to local subscribers, listeners and the last-value
   * cache, never forwarded (no loops) and not counted in messagesIn. The retained store follows
   * the cluster's own copy through the inlet's retain instead.
   */
  private routeRemote(message: Message): void {
    // Remote messages arrive from the event loop, never from inside route(); queued if ever.
    if (this.routing) {
      queueMicrotask(() => this.routeRemote(message))
      return
    }
    this.routing = true
    try {
      this.lastValues?.record(message)
      const listeners = this.currentListeners()
      if (listeners.length !== 0) this.callMessageListeners(listeners, message)
      this.local.deliver(message, undefined)
      const backlog = this.backlog
      for (let i = 0; i < backlog.length; i++) {
        const next = backlog[i]
        if (next !== undefined) this.routeOne(next, undefined)
      }
    } finally {
      this.backlog.length = 0
      this.routing = false
    }
  }

  private currentListeners(): ((msg: Message) => void)[] {
    if (this.messageListenersStale) {
      this.messageListenersStale = false
      this.messageListeners = this.events.rawListeners('message') as ((msg: Message) => void)[]
    }
    return this.messageListeners
  }

  private callMessageListeners(listeners: ((msg: Message) => void)[], message: Message): void {
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]?.call(this.events, message)
      } catch (error) {
        this.logger.error({ err: error, event: 'message' }, 'broker event listener threw')
      }
    }
  }

  /** Fills the last-value cache, when on, with the retained messages as published at `at`. */
  seedLastValues(at: number): void {
    const cache = this.lastValues
    if (cache) for (const message of this.retained.all()) cache.record(message, at)
  }

  /**
   * An in-process handler on `filter` (already checked), given the matching retained messages
   * (synchronously, retain set) before this returns. Returns its unsubscribe.
   */
  subscribe(filter: string, handler: MessageHandler, qos: QoS): () => void {
    const subscriber = new HandlerSubscriber(handler)
    this.local.addHandler(filter, subscriber, qos)
    for (const message of this.retained.match(filter)) this.local.callHandler(subscriber, message)
    let active = true
    return () => {
      if (!active) return
      active = false
      this.local.removeHandler(filter, subscriber)
    }
  }

  addSubscription(session: Session, filter: string, subscription: Subscription): boolean {
    const existed = session.subscriptions.has(filter)
    session.editSubscriptions().set(filter, subscription)
    this.local.add(session, filter, subscription)
    if (session.journal) this.persistence.putSession(session)
    return existed
  }

  removeSubscription(session: Session, filter: string): boolean {
    if (!session.subscriptions.has(filter)) return false
    session.editSubscriptions().delete(filter)
    this.local.remove(session, filter)
    if (session.journal) this.persistence.putSession(session)
    return true
  }

  retainedMatching(filter: string): Message[] {
    return this.retained.match(filter)
  }
}
