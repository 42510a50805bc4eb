import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:net'
import type { Logger } from 'pino'
import { createLogger } from '../log.ts'
import { MemoryStore } from '../store/memory.ts'
import type { Store } from '../store/store.ts'
import { SingleUserAuth } from './auth.ts'
import { type ClientStream, Connection, type ConnectionOwner } from './connection.ts'
import { dispatch } from './handlers/index.ts'
import { UnsupportedProtocolError } from './protocol/decode.ts'
import { encodeConnack } from './protocol/encode.ts'
import { ProtocolError } from './protocol/errors.ts'
import { RetainedTree } from './retained.ts'
import { type DropReason, Session, type Subscription, sessionRecord } from './sessions.ts'
import { isValidFilter, SubscriptionTree, topicNameError } from './topics.ts'
import type {
  AccessControl,
  BrokerEvents,
  BrokerOptions,
  ClientInfo,
  Message,
  MessageHandler,
  PublishInput,
  QoS,
  SubscribeOptions,
} from './types.ts'

/** An in-process subscriber (embedder, scripting host, dashboard): just a function. */
class HandlerSubscriber {
  routeEpoch = 0
  routeQos: QoS = 0
  constructor(readonly handler: MessageHandler) {}
}

type Subscriber = Session | HandlerSubscriber

interface ResolvedOptions {
  port: number
  host: string
  maxPacketSize: number
  maxInflight: number
  maxQueuedMessages: number
  connectTimeout: number
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
  messagesRouted = 0

  private server: Server | undefined
  private readonly connections = new Set<Connection>()
  private readonly tree = new SubscriptionTree<Subscriber, Subscription>()
  private readonly store: Store
  private readonly ownsStore: boolean
  private sweepTimer: NodeJS.Timeout | undefined
  private routing = false
  private readonly backlog: Message[] = []
  private epoch = 0
  private readonly targets: Subscriber[] = []
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new'
  private closing: Promise<void> | undefined

  constructor(options: BrokerOptions & { store?: Store } = {}) {
    super()
    this.options = {
      port: options.port ?? 1883,
      host: options.host ?? '0.0.0.0',
      maxPacketSize: options.maxPacketSize ?? 2_000_000,
      maxInflight: Math.min(Math.max(options.maxInflight ?? 20, 1), 65_535),
      maxQueuedMessages: options.maxQueuedMessages ?? 1000,
      connectTimeout: options.connectTimeout ?? 10,
    }
    this.logger = options.logger ?? createLogger(options.logLevel ?? 'info')
    this.auth = new SingleUserAuth(options.user, options.pass)
    this.access = options.access
    this.store = options.store ?? new MemoryStore()
    this.ownsStore = options.store === undefined
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
    for (const record of state.sessions) {
      const session = this.newSession(record.clientId, false)
      for (const { filter, qos } of record.subscriptions) this.addSubscription(session, filter, { qos })
      session.restore(record)
    }
    this.server = await this.bind(this.options.port)
    this.state = 'running'
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs)
    this.sweepTimer.unref()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener started')
    this.emit('listening', this.port)
  }

  /** Moves the MQTT listener to another port; connected clients stay. Rejects (keeping the old listener) when the port can't be bound. */
  async listen(port: number): Promise<number> {
    if (this.state !== 'running') throw new Error('broker is not running')
    const next = await this.bind(port)
    const old = this.server
    this.server = next
    old?.close()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener moved')
    this.emit('listening', this.port)
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
    if (problem) throw new Error(`invalid topic ${JSON.stringify(input.topic)}: ${problem}`)
    const qos = input.qos ?? 0
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`invalid QoS ${String(qos)}`)
    this.route({ topic: input.topic, payload: toBuffer(input.payload), qos, retain: input.retain === true })
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

  /** The connected clients. */
  clientList(): ClientInfo[] {
    return [...this.clients.values()].map((c) => c.info)
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
    clearInterval(this.sweepTimer)
    const server = this.server
    const serverClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    for (const connection of this.connections) this.dropConnection(connection, 'broker shutting down')
    for (const connection of this.connections) connection.socket.destroy()
    for (const session of this.sessions.values()) {
      if (!session.clean) this.store.putSession(sessionRecord(session))
    }
    await serverClosed
    await this.store.flush()
    if (this.ownsStore) await this.store.close()
    this.state = 'closed'
    this.logger.info('broker closed')
  }

  // ---- internals used by the handlers (src/broker/handlers) ----

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
    } else {
      // A bug in a handler: this client goes, the broker carries on.
      this.logger.error({ ...log, err: error }, 'internal error while handling a packet, closing connection')
    }
    this.dropConnection(connection, reason)
  }

  connectionClosed(connection: Connection): void {
    this.dropConnection(connection, connection.closeReason)
    this.connections.delete(connection)
  }

  /**
   * Takes a connection out of service, once: its session is detached (or discarded when
   * clean), its will published unless it said DISCONNECT, and the socket closed.
   */
  dropConnection(connection: Connection, reason: string): void {
    const wasConnected = connection.state === 'connected'
    connection.close(reason)
    if (!wasConnected) return
    const { clientId, session } = connection
    if (this.clients.get(clientId) === connection) this.clients.delete(clientId)
    if (session && session.outlet === connection) {
      session.outlet = undefined
      if (session.clean) this.discardSession(session)
      else this.store.putSession(sessionRecord(session))
    }
    const will = connection.will
    connection.will = undefined
    if (will && this.state === 'running') {
      this.logger.debug({ clientId, topic: will.topic }, 'publishing will')
      this.route({ topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, clientId })
    }
    this.logger.info({ clientId, address: connection.address, reason }, 'client disconnected')
    this.emit('clientDisconnect', connection.info, reason)
  }

  /** Finds or creates the session for a CONNECT; a clean session replaces any stored one. */
  openSession(clientId: string, clean: boolean): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId)
    if (session && clean) {
      this.discardSession(session)
      session = undefined
    }
    if (session) {
      session.clean = clean
      return { session, present: true }
    }
    return { session: this.newSession(clientId, clean), present: false }
  }

  addSubscription(session: Session, filter: string, subscription: Subscription): void {
    session.subscriptions.set(filter, subscription)
    this.tree.add(filter, session, subscription)
  }

  removeSubscription(session: Session, filter: string): void {
    if (session.subscriptions.delete(filter)) this.tree.remove(filter, session)
  }

  /**
   * Routes a message to every matching subscriber, once per subscriber at the highest QoS
   * granted among its matching filters. Not re-entrant: a message published while routing
   * (by a handler, or a will) is delivered after the current one (Mosquitto's plugin queue).
   */
  route(message: Message): void {
    if (this.routing) {
      this.backlog.push(message)
      return
    }
    this.routing = true
    try {
      this.deliver(message)
      for (let i = 0; i < this.backlog.length; i++) this.deliver(this.backlog[i]!)
    } finally {
      this.backlog.length = 0
      this.routing = false
    }
  }

  private deliver(message: Message): void {
    this.messagesRouted++
    if (message.retain) {
      this.retained.set(message)
      this.store.putRetained(message)
    }
    this.emit('message', message)
    const epoch = ++this.epoch
    const targets = this.targets
    this.tree.match(message.topic, (subscriber, { qos }) => {
      if (subscriber.routeEpoch !== epoch) {
        subscriber.routeEpoch = epoch
        subscriber.routeQos = qos
        targets.push(subscriber)
      } else if (qos > subscriber.routeQos) {
        subscriber.routeQos = qos
      }
    })
    // Normal delivery clears the retain flag [MQTT-3.3.1-9].
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!
      if (target instanceof Session) {
        if (this.mayRead(target, message.topic)) target.deliver(message, target.routeQos, false)
      } else this.callHandler(target, message.retain ? { ...message, retain: false } : message)
    }
    targets.length = 0
  }

  private callHandler(subscriber: HandlerSubscriber, message: Message): void {
    try {
      subscriber.handler(message)
    } catch (error) {
      this.logger.error({ err: error, topic: message.topic }, 'message handler threw')
    }
  }

  private newSession(clientId: string, clean: boolean): Session {
    const session = new Session(clientId, clean, this.options, this.onDrop)
    this.sessions.set(clientId, session)
    return session
  }

  private discardSession(session: Session): void {
    for (const filter of session.subscriptions.keys()) this.tree.remove(filter, session)
    session.subscriptions.clear()
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId)
    this.store.deleteSession(session.clientId)
  }

  private readonly onDrop = (session: Session, message: Message, reason: DropReason): void => {
    this.logger.warn(
      { clientId: session.clientId, topic: message.topic, qos: message.qos, reason },
      `message dropped for ${session.clientId}: ${reason}`,
    )
  }

  private bind(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket))
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
    this.connections.add(new Connection(socket, this, this.options.maxPacketSize, listener))
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
        this.dropConnection(connection, 'keepalive timeout')
      }
    }
  }
}

/** The view of the broker its packet handlers get. */
export type BrokerCore = Broker

function toBuffer(payload: PublishInput['payload']): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  if (typeof payload === 'string') return Buffer.from(payload)
  if (Buffer.isBuffer(payload)) return payload
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}
