import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:net'
import type { Logger } from 'pino'
import { createLogger } from '../log.ts'
import { MemoryStore } from '../store/memory.ts'
import type { Store } from '../store/store.ts'
import { setLongTimeout } from '../util/long-timer.ts'
import { SingleUserAuth } from './auth.ts'
import { type ClientStream, Connection, type ConnectionOwner } from './connection.ts'
import { expiryFrom } from './expiry.ts'
import { FlowControl } from './flow.ts'
import { dispatch } from './handlers/index.ts'
import { defaultLastValues, type LastValue, LastValues } from './last-values.ts'
import { Persistence } from './persistence.ts'
import { UnsupportedProtocolError } from './protocol/decode.ts'
import { encodeConnack, encodeDisconnect } from './protocol/encode.ts'
import { ProtocolError, Reason } from './protocol/errors.ts'
import type { Will } from './protocol/packets.ts'
import { RetainedTree } from './retained.ts'
import { type DropReason, neverExpires, type PendingWill, Session, type Subscription } from './sessions.ts'
import { parseSharedFilter, SharedGroup } from './shared.ts'
import { InvalidTopicError, isValidFilter, topicNameError } from './topic-rules.ts'
import { SubscriptionTree } from './topics.ts'
import type {
  AccessControl,
  BrokerEvents,
  BrokerOptions,
  BrokerStats,
  ClientDetails,
  ClientInfo,
  Message,
  MessageHandler,
  MessageProperties,
  PublishInput,
  QoS,
  SubscribeOptions,
  TrafficCounters,
} from './types.ts'

/** An in-process subscriber (embedder, scripting host, dashboard): just a function. */
class HandlerSubscriber {
  routeEpoch = 0
  routeQos: QoS = 0
  routeRetain = false
  routeIds: number[] | undefined
  constructor(readonly handler: MessageHandler) {}
}

type Subscriber = Session | HandlerSubscriber | SharedGroup

interface ResolvedOptions {
  port: number
  host: string
  maxPacketSize: number
  maxInflight: number
  maxQueuedMessages: number
  receiveMaximum: number
  topicAliasMaximum: number
  maxKeepalive: number
  connectTimeout: number
  maxConnections: number
  stallTimeout: number
  lastValues: number | undefined
}

/** How often keepalive and connect timeouts are checked; one timer for all connections. */
const sweepIntervalMs = 500

/**
 * The broker: listener, connections, sessions and routing, and the embedding API
 * (publish / subscribe / events) that the scripting host and embedders build on.
 */
export class Broker extends EventEmitter<BrokerEvents> implements ConnectionOwner {
  readonly logger: Logger
  readonly auth: SingleUserAuth
  /** Access control hooks; replace at run time with setAccessControl. */
  access: AccessControl | undefined
  readonly retained = new RetainedTree()
  /** Connected clients by client id. */
  readonly clients = new Map<string, Connection>()
  readonly sessions = new Map<string, Session>()
  readonly options: ResolvedOptions
  readonly startedAt = new Date()
  /** Traffic totals since start; read through stats(). */
  private readonly totals: TrafficCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }

  private server: Server | undefined
  private readonly connections = new Set<Connection>()
  private readonly tree = new SubscriptionTree<Subscriber, Subscription>()
  private readonly store: Store
  /** Every change to durable state, and the acknowledgements that wait for it. */
  readonly persistence: Persistence
  /** Holds publishing connections back while subscribers they feed are congested. */
  readonly flow: FlowControl
  /** QoS 1/2 messages dropped at a queue limit, and QoS 0 ones shed (see onDrop). */
  private dropped = 0
  private readonly ownsStore: boolean
  private sweepTimer: NodeJS.Timeout | undefined
  private routing = false
  private readonly backlog: Message[] = []
  private epoch = 0
  private readonly targets: Subscriber[] = []
  private readonly sharedGroups = new Map<string, SharedGroup>()
  private readonly closeHooks: (() => Promise<void>)[] = []
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new'
  private closing: Promise<void> | undefined
  /**
   * The `message` listeners (once-wrappers included), re-read after one is added or removed:
   * calling them from this array costs a few ns a message where `emit` with its argument
   * array and a listenerCount check cost about 90 ns (a scripts/bench-web.ts profile, 1M messages).
   */
  private messageListeners: ((msg: Message) => void)[] = []
  private messageListenersStale = false
  /** The last message of each topic, while the cache is on (see useLastValues). */
  private lastValueCache: LastValues | undefined

  /** `ownsStore`: close the given store when the broker closes, after its last writes. */
  constructor(options: BrokerOptions & { store?: Store | undefined; ownsStore?: boolean } = {}) {
    super()
    this.options = {
      port: options.port ?? 1883,
      host: options.host ?? '0.0.0.0',
      maxPacketSize: options.maxPacketSize ?? 2_000_000,
      maxInflight: Math.min(Math.max(options.maxInflight ?? 20, 1), 65_535),
      maxQueuedMessages: options.maxQueuedMessages ?? 1000,
      receiveMaximum: Math.min(Math.max(options.receiveMaximum ?? 65_535, 1), 65_535),
      topicAliasMaximum: Math.min(Math.max(options.topicAliasMaximum ?? 10, 0), 65_535),
      maxKeepalive: Math.min(Math.max(options.maxKeepalive ?? 0, 0), 65_535),
      connectTimeout: options.connectTimeout ?? 10,
      maxConnections: Math.max(options.maxConnections ?? 0, 0),
      stallTimeout: Math.max(options.stallTimeout ?? 10, 0),
      lastValues: options.lastValues === undefined ? undefined : Math.max(Math.floor(options.lastValues), 0),
    }
    if (this.options.lastValues) this.lastValueCache = new LastValues(this.options.lastValues)
    this.logger = options.logger ?? createLogger(options.logLevel ?? 'info')
    this.flow = new FlowControl(this.options.stallTimeout * 1000, this.logger)
    this.auth = new SingleUserAuth(options.user, options.pass)
    this.access = options.access
    this.store = options.store ?? new MemoryStore()
    this.ownsStore = options.ownsStore ?? options.store === undefined
    this.persistence = new Persistence(this.store, this.logger)
    // 'newListener' comes before the listener is added: the array is re-read on the next message.
    const stale = (event: string | symbol): void => {
      if (event === 'message') this.messageListenersStale = true
    }
    // Node's own events, outside BrokerEvents.
    const emitter = this as EventEmitter
    emitter.on('newListener', stale)
    emitter.on('removeListener', stale)
  }

  /** The bound MQTT port (after start). */
  get port(): number {
    const address = this.server?.address()
    return typeof address === 'object' && address ? address.port : this.options.port
  }

  /** Loads stored state and starts listening. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('broker already started')
    const state = await this.store.load()
    for (const message of state.retained) this.retained.set(message)
    if (this.lastValueCache) this.seedLastValues(this.lastValueCache)
    for (const record of state.sessions) {
      const session = this.newSession(record.clientId, record.expiryInterval)
      for (const { filter, ...sub } of record.subscriptions) {
        session.editSubscriptions().set(filter, sub)
        this.index(session, filter, sub)
      }
      session.restore(record)
      session.journal = this.persistence.journalFor(session)
      // Expiry counts from when the client went, not from this start [MQTT-3.1.2-23].
      session.disconnectedAt = record.disconnectedAt ?? Date.now()
      this.scheduleExpiry(session)
    }
    this.server = await this.bind(this.options.port)
    this.state = 'running'
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs)
    this.sweepTimer.unref()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener started')
    this.notify('listening', this.port)
  }

  /** Moves the MQTT listener to another port; connected clients stay. Rejects (keeping the old listener) when the port can't be bound. */
  async listen(port: number): Promise<number> {
    if (this.state !== 'running') throw new Error('broker is not running')
    const next = await this.bind(port)
    const old = this.server
    this.server = next
    old?.close()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener moved')
    this.notify('listening', this.port)
    return this.port
  }

  /** Sets the single user for new connections (OpenBeken's ms_user / ms_pass). */
  setCredentials(user: string | undefined, pass: string | undefined): void {
    this.auth.set(user, pass)
  }

  setAccessControl(access: AccessControl | undefined): void {
    this.access = access
  }

  /** Whether access control lets this session receive a message on the topic. */
  mayRead(session: Session, topic: string): boolean {
    return !this.access?.canRead || this.access.canRead(session, topic)
  }

  /** Publishes as the broker itself. A publish made while routing is queued and delivered after it. */
  async publish(input: PublishInput): Promise<void> {
    const problem = topicNameError(input.topic)
    if (problem) throw new InvalidTopicError(input.topic, problem)
    const qos = input.qos ?? 0
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`invalid QoS ${String(qos)}`)
    const retain = input.retain === true
    const payload = toBuffer(input.payload)
    this.route({
      topic: input.topic,
      // A message that may be kept gets its own copy: the caller may reuse its buffer.
      payload: qos > 0 || retain ? Buffer.from(payload) : payload,
      qos,
      retain,
      properties: input.properties,
      expiresAt: expiryFrom(input.properties?.messageExpiryInterval),
    })
    if (this.persistence.durable) await this.persistence.flush()
  }

  /**
   * Subscribes an in-process handler, like an MQTT client would: wildcards, the `$` rule, and
   * matching retained messages delivered (synchronously, retain set) before this returns.
   */
  subscribe(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    if (!isValidFilter(filter)) throw new Error(`invalid topic filter ${JSON.stringify(filter)}`)
    const subscriber = new HandlerSubscriber(handler)
    this.tree.add(filter, subscriber, { qos: options.qos ?? 2 })
    for (const message of this.retained.match(filter)) this.callHandler(subscriber, message)
    let active = true
    return () => {
      if (!active) return
      active = false
      this.tree.remove(filter, subscriber)
    }
  }

  /**
   * The last message published on exactly this topic since the start (by a client, a script
   * or broker.publish, retained or not), or the retained message loaded at start; undefined
   * while the cache is off, or when the topic was dropped from it (least recently published first).
   */
  lastValue(topic: string): LastValue | undefined {
    return this.lastValueCache?.get(topic)
  }

  /**
   * Turns the last-value cache on at its default size, unless the `lastValues` option decided
   * already. The scripting host calls this for ms_get; without scripts routing pays nothing.
   */
  useLastValues(): void {
    if (this.lastValueCache || this.options.lastValues !== undefined) return
    this.lastValueCache = new LastValues(defaultLastValues)
    this.seedLastValues(this.lastValueCache)
  }

  /** Every script's remembered state (`persist`, as JSON) by script file name, from the store. */
  loadScriptStates(): Promise<Map<string, string>> {
    return this.store.loadScriptStates()
  }

  /** Stores a script's remembered state (undefined deletes it); it outlives the script's file. */
  putScriptState(name: string, json: string | undefined): void {
    this.store.putScriptState(name, json)
  }

  private seedLastValues(cache: LastValues): void {
    const at = this.startedAt.getTime()
    for (const message of this.retained.all()) cache.record(message, at)
  }

  /**
   * Runs `hook` first when the broker closes, before clients are dropped (latest added runs
   * first). Add-ons that live beside the broker — scripts, extra listeners, the dashboard —
   * stop through this, so `broker.close()` stays the one way to shut everything down.
   */
  addCloseHook(hook: () => Promise<void>): void {
    this.closeHooks.unshift(hook)
  }

  /** The connected clients. */
  clientList(): ClientInfo[] {
    return [...this.clients.values()].map((c) => c.info)
  }

  /** The connected clients with traffic counters and subscriptions. */
  clientDetails(): ClientDetails[] {
    return [...this.clients.values()].map((c) => {
      const session = c.session
      return {
        ...c.info,
        listener: c.listener,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        packetsIn: c.packetsIn,
        packetsOut: c.packetsOut,
        subscriptions: session
          ? [...session.subscriptions].map(([filter, sub]) => ({ filter, qos: sub.qos }))
          : [],
        inflight: session?.inflight.size ?? 0,
        queued: session?.queued ?? 0,
      }
    })
  }

  /** Closes a client's connection as if it had gone away (its will is published). Returns false when not connected. */
  disconnectClient(clientId: string, reason = 'disconnected by the broker'): boolean {
    const connection = this.clients.get(clientId)
    if (!connection) return false
    this.dropConnection(connection, reason, Reason.administrativeAction)
    return true
  }

  /** Retained messages matching a filter (default: all but `$` topics). */
  retainedMessages(filter = '#'): Message[] {
    return this.retained.match(filter)
  }

  /** Messages routed since start, as in stats(), without stats()' read of the process's memory. */
  get messagesRouted(): number {
    return this.totals.messagesIn
  }

  stats(): BrokerStats {
    const memory = process.memoryUsage()
    return {
      ...this.totals,
      messagesDropped: this.dropped,
      startedAt: this.startedAt,
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      connections: this.connections.size,
      clients: this.clients.size,
      sessions: this.sessions.size,
      subscriptions: this.tree.size,
      retained: this.retained.size,
      memory: { rss: memory.rss, heapUsed: memory.heapUsed },
    }
  }

  async close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed'
      return
    }
    this.state = 'closing'
    for (const hook of this.closeHooks) {
      try {
        await hook()
      } catch (error) {
        this.logger.error({ err: error }, 'error while closing an add-on')
      }
    }
    clearInterval(this.sweepTimer)
    const server = this.server
    const serverClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    for (const connection of this.connections) {
      this.dropConnection(connection, 'broker shutting down', Reason.serverShuttingDown)
    }
    for (const connection of this.connections) connection.socket.destroy()
    for (const session of this.sessions.values()) {
      session.expiryTimer?.cancel()
      session.willTimer?.cancel()
      if (session.expiryInterval > 0 && !this.persistence.durable) this.persistence.snapshot(session)
    }
    await serverClosed
    await this.persistence.flush()
    if (this.ownsStore) await this.store.close()
    this.state = 'closed'
    this.logger.info('broker closed')
  }

  // ---- internals used by the handlers (src/broker/handlers) ----

  /** Emits an event; a listener that throws is logged and never breaks routing or a client. */
  notify<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void {
    try {
      ;(this.emit as (event: K, ...args: BrokerEvents[K]) => boolean)(event, ...args)
    } catch (error) {
      this.logger.error({ err: error, event }, 'broker event listener threw')
    }
  }

  handlePacket(connection: Connection, header: number, body: Buffer): void {
    dispatch(this, connection, header, body)
  }

  protocolError(connection: Connection, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error)
    const log = { clientId: connection.clientId || undefined, address: connection.address }
    if (error instanceof ProtocolError) {
      this.logger.warn(log, `protocol error, closing connection: ${reason}`)
      if (error instanceof UnsupportedProtocolError && connection.state === 'connecting') {
        connection.write(encodeConnack(4, false, 1))
      }
      this.dropConnection(connection, reason, error.reason)
    } else {
      // A bug in a handler: this client goes, the broker carries on.
      this.logger.error({ ...log, err: error }, 'internal error while handling a packet, closing connection')
      this.dropConnection(connection, reason, Reason.unspecified)
    }
  }

  connectionClosed(connection: Connection): void {
    this.dropConnection(connection, connection.closeReason)
    this.connections.delete(connection)
  }

  /**
   * Takes a connection out of service, once: its session is detached (or discarded when it
   * ends with the connection), its will published or scheduled unless it said DISCONNECT,
   * and the socket closed. MQTT 5 clients are told why with `reasonCode`.
   */
  dropConnection(connection: Connection, reason: string, reasonCode?: number): void {
    const wasConnected = connection.state === 'connected'
    if (wasConnected && connection.version === 5 && reasonCode !== undefined && !connection.disconnected) {
      const packet =
        reasonCode >= 0x80
          ? connection.withReason((text) => encodeDisconnect(reasonCode, text), reason, true)
          : encodeDisconnect(reasonCode)
      connection.write(packet)
    }
    connection.close(reason)
    this.flow.forget(connection)
    if (!wasConnected) return
    const { clientId, session } = connection
    if (this.clients.get(clientId) === connection) this.clients.delete(clientId)
    const will = connection.will
    connection.will = undefined
    const willMessage: PendingWill | undefined = will && {
      message: {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        clientId,
        properties: willProperties(will.properties),
      },
      expiryInterval: will.properties?.messageExpiryInterval,
    }
    if (session && session.outlet === connection) {
      session.outlet = undefined
      this.flow.offline(session)
      session.disconnectedAt = Date.now()
      if (session.expiryInterval === 0) {
        if (willMessage) this.publishWill(willMessage)
        this.discardSession(session)
      } else {
        if (this.persistence.durable) this.persistence.putSession(session)
        else this.persistence.snapshot(session)
        if (willMessage) this.scheduleWill(session, willMessage, will?.properties?.willDelayInterval ?? 0)
        this.scheduleExpiry(session)
      }
    } else if (willMessage) {
      this.publishWill(willMessage)
    }
    this.logger.info({ clientId, address: connection.address, reason }, 'client disconnected')
    // ClientInfo is built only for a listener: under connect churn it was 2% of the bytes allocated.
    if (this.listenerCount('clientDisconnect') > 0) this.notify('clientDisconnect', connection.info, reason)
  }

  /**
   * Finds or creates the session for a CONNECT. Clean Start (clean session) replaces any
   * stored one; a resumed session's pending will and expiry are cancelled [MQTT-3.1.3-9].
   */
  openSession(
    clientId: string,
    cleanStart: boolean,
    expiryInterval: number,
  ): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId)
    if (session && cleanStart) {
      this.discardSession(session)
      session = undefined
    }
    if (session) {
      session.expiryTimer?.cancel()
      session.willTimer?.cancel()
      session.expiryTimer = undefined
      session.willTimer = undefined
      session.pendingWill = undefined
      session.disconnectedAt = undefined
      session.expiryInterval = expiryInterval
      this.makePersistent(session)
      return { session, present: true }
    }
    session = this.newSession(clientId, expiryInterval)
    this.makePersistent(session)
    return { session, present: false }
  }

  /** A session that outlives its connection is written to the store, and journals its changes. */
  private makePersistent(session: Session): void {
    if (!this.persistence.durable) return
    if (session.expiryInterval === 0) {
      // Resumed as a session that ends with its connection: a crash must not bring it back.
      if (session.journal) this.persistence.deleteSession(session.clientId)
      session.journal = undefined
      return
    }
    session.journal ??= this.persistence.journalFor(session)
    this.persistence.putSession(session)
  }

  /** Adds or replaces a subscription; returns whether the session already had one on this filter. */
  addSubscription(session: Session, filter: string, subscription: Subscription): boolean {
    const existed = session.subscriptions.has(filter)
    session.editSubscriptions().set(filter, subscription)
    this.index(session, filter, subscription)
    if (session.journal) this.persistence.putSession(session)
    return existed
  }

  /** Puts a session's subscription into the tree (or its shared group). */
  private index(session: Session, filter: string, subscription: Subscription): void {
    const shared = parseSharedFilter(filter)
    if (shared === 'invalid') throw new Error(`invalid shared subscription ${filter}`)
    if (shared) {
      const key = sharedKey(shared)
      let group = this.sharedGroups.get(key)
      if (!group) {
        group = new SharedGroup(shared.group, shared.filter)
        this.sharedGroups.set(key, group)
        this.tree.add(shared.filter, group, { qos: 2 })
      }
      group.members.set(session, subscription)
    } else {
      this.tree.add(filter, session, subscription)
    }
  }

  /** Returns whether the session had a subscription on this filter. */
  removeSubscription(session: Session, filter: string): boolean {
    if (!session.subscriptions.has(filter)) return false
    session.editSubscriptions().delete(filter)
    const shared = parseSharedFilter(filter)
    if (shared && shared !== 'invalid') {
      const key = sharedKey(shared)
      const group = this.sharedGroups.get(key)
      if (group) {
        group.members.delete(session)
        if (group.members.size === 0) {
          this.sharedGroups.delete(key)
          this.tree.remove(shared.filter, group)
        }
      }
    } else {
      this.tree.remove(filter, session)
    }
    if (session.journal) this.persistence.putSession(session)
    return true
  }

  private publishWill(will: PendingWill): void {
    if (this.state !== 'running') return
    const { message } = will
    this.logger.debug({ clientId: message.clientId, topic: message.topic }, 'publishing will')
    this.route({ ...message, expiresAt: expiryFrom(will.expiryInterval) })
  }

  /** MQTT 5 Will Delay: the will goes out at the earlier of the delay and the session's end. */
  private scheduleWill(session: Session, will: PendingWill, delaySeconds: number): void {
    if (delaySeconds <= 0) {
      this.publishWill(will)
      return
    }
    session.pendingWill = will
    session.willTimer = setLongTimeout(
      () => {
        session.willTimer = undefined
        const pending = session.pendingWill
        session.pendingWill = undefined
        if (pending) this.publishWill(pending)
      },
      delaySeconds * 1000,
      { unref: true },
    )
  }

  private scheduleExpiry(session: Session): void {
    if (session.expiryInterval >= neverExpires) return
    const elapsed = Date.now() - (session.disconnectedAt ?? Date.now())
    session.expiryTimer = setLongTimeout(
      () => {
        session.expiryTimer = undefined
        if (session.outlet) return
        this.logger.info({ clientId: session.clientId }, 'session expired')
        this.discardSession(session)
      },
      Math.max(0, session.expiryInterval * 1000 - elapsed),
      { unref: true },
    )
  }

  /**
   * Routes a message to every matching subscriber, once per subscriber at the highest QoS
   * granted among its matching filters. Not re-entrant: a message published while routing
   * (by a handler, or a will) is delivered after the current one (Mosquitto's plugin queue).
   * `source`: the client connection it came from, which flow control may hold back.
   */
  route(message: Message, source?: Connection): void {
    if (this.routing) {
      this.backlog.push(message)
      return
    }
    this.routing = true
    try {
      this.deliver(message, this.flow.enabled ? source : undefined)
      for (let i = 0; i < this.backlog.length; i++) this.deliver(this.backlog[i]!, undefined)
    } finally {
      this.backlog.length = 0
      this.routing = false
    }
  }

  private deliver(message: Message, source: Connection | undefined): void {
    this.totals.messagesIn++
    this.lastValueCache?.record(message)
    if (message.retain) {
      this.retained.set(message)
      this.persistence.putRetained(message)
    }
    if (this.messageListenersStale) {
      this.messageListenersStale = false
      this.messageListeners = this.rawListeners('message') as ((msg: Message) => void)[]
    }
    const listeners = this.messageListeners
    if (listeners.length !== 0) this.callMessageListeners(listeners, message)
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
        const target = targets[i]!
        if (target instanceof Session) {
          // A client is never held back by its own session: it would stop reading its acknowledgements.
          if (
            this.mayRead(target, message.topic) &&
            target.deliver(
              message,
              target.routeQos,
              message.retain && target.routeRetain,
              target.routeIds,
              source !== undefined && target.outlet !== source,
            )
          ) {
            this.flow.hold(source!, target)
          }
        } else if (target instanceof SharedGroup) {
          this.deliverShared(target, message, source)
        } else {
          this.callHandler(target, message.retain ? { ...message, retain: false } : message)
        }
      }
    } finally {
      // Emptied even when a delivery throws: left filled, the next message went to these targets.
      targets.length = 0
    }
  }

  private callMessageListeners(listeners: ((msg: Message) => void)[], message: Message): void {
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!.call(this, message)
      } catch (error) {
        this.logger.error({ err: error, event: 'message' }, 'broker event listener threw')
      }
    }
  }

  private deliverShared(group: SharedGroup, message: Message, source: Connection | undefined): void {
    const picked = group.pick()
    if (!picked) return
    const [session, sub] = picked
    if (!this.mayRead(session, message.topic)) return
    const ids = sub.identifier === undefined ? undefined : [sub.identifier]
    const holdable = source !== undefined && session.outlet !== source
    if (session.deliver(message, sub.qos, message.retain && sub.retainAsPublished === true, ids, holdable))
      this.flow.hold(source!, session)
  }

  private callHandler(subscriber: HandlerSubscriber, message: Message): void {
    try {
      subscriber.handler(message)
    } catch (error) {
      this.logger.error({ err: error, topic: message.topic }, 'message handler threw')
    }
  }

  private newSession(clientId: string, expiryInterval: number): Session {
    const session = new Session(clientId, expiryInterval, this.options, this.onDrop)
    this.sessions.set(clientId, session)
    return session
  }

  private discardSession(session: Session): void {
    session.journal = undefined
    session.expiryTimer?.cancel()
    session.willTimer?.cancel()
    session.expiryTimer = undefined
    session.willTimer = undefined
    // A delayed will goes out when its session ends, whichever comes first.
    const pending = session.pendingWill
    session.pendingWill = undefined
    if (pending) this.publishWill(pending)
    for (const filter of [...session.subscriptions.keys()]) this.removeSubscription(session, filter)
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId)
    this.persistence.deleteSession(session.clientId)
  }

  private readonly onDrop = (session: Session, message: Message, reason: DropReason): void => {
    this.dropped++
    // A client that stops reading can shed thousands of messages a second: one line per
    // client per second, with the count of the others, keeps the log readable.
    const now = Date.now()
    if (now - session.lastDropLog >= 1000) {
      const more = session.dropsNotLogged
      this.logger.warn(
        { clientId: session.clientId, topic: message.topic, qos: message.qos, reason, alsoDropped: more },
        `message dropped for ${session.clientId}: ${reason}${more > 0 ? ` (and ${more} more since the last report)` : ''}`,
      )
      session.lastDropLog = now
      session.dropsNotLogged = 0
    } else {
      session.dropsNotLogged++
    }
    // An MQTT 5 client that is connected but lets its queue overflow is told so and
    // disconnected (Quota exceeded); its session, with what was queued, stays for it.
    const connection = this.clients.get(session.clientId)
    if (reason === 'queue full' && connection?.version === 5 && connection.session === session) {
      this.dropConnection(connection, 'message queue full', Reason.quotaExceeded)
    }
  }

  private bind(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket))
      if (this.options.maxConnections > 0) {
        server.maxConnections = this.options.maxConnections
        server.on('drop', (info) =>
          this.logger.warn({ address: info?.remoteAddress }, 'connection limit reached, connection refused'),
        )
      }
      server.once('error', reject)
      server.listen(port, this.options.host, () => {
        server.off('error', reject)
        server.on('error', (error) => this.logger.error({ err: error }, 'listener error'))
        resolve(server)
      })
    })
  }

  /**
   * Takes a new client stream from any listener (TCP here; TLS and WebSocket listeners hand
   * theirs in the same way). `listener` names the listener in logs and client info.
   */
  accept(socket: ClientStream, listener = 'mqtt'): void {
    if (this.state !== 'running') {
      socket.destroy()
      return
    }
    this.connections.add(new Connection(socket, this, this.options.maxPacketSize, listener, this.totals))
  }

  /** Closes connections that never sent CONNECT, or went silent past 1.5 × keepalive [MQTT-3.1.2-24]. */
  private sweep(): void {
    const now = Date.now()
    const connectDeadline = this.options.connectTimeout * 1000
    for (const connection of this.connections) {
      if (connection.state === 'connecting' && now - connection.createdAt > connectDeadline) {
        this.logger.warn({ address: connection.address }, 'no CONNECT in time, closing connection')
        this.dropConnection(connection, 'connect timeout')
      } else if (
        connection.state === 'connected' &&
        connection.keepalive > 0 &&
        now - connection.lastActivity > connection.keepalive * 1500
      ) {
        this.logger.info({ clientId: connection.clientId, address: connection.address }, 'keepalive expired')
        this.dropConnection(connection, 'keepalive timeout', Reason.keepAliveTimeout)
      }
    }
  }
}

/** The view of the broker its packet handlers get. */
export type BrokerCore = Broker

/** Shared groups are per (group name, filter): `$share/a/x` and `$share/b/x` are two groups. */
function sharedKey(shared: { group: string; filter: string }): string {
  return `${shared.group}\u0000${shared.filter}`
}

/** The will properties that become the will message's PUBLISH properties. */
function willProperties(p: Will['properties']): MessageProperties | undefined {
  if (!p) return undefined
  const { willDelayInterval: _delay, messageExpiryInterval: _expiry, ...rest } = p
  return rest
}

function toBuffer(payload: PublishInput['payload']): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  if (typeof payload === 'string') return Buffer.from(payload)
  if (Buffer.isBuffer(payload)) return payload
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}
