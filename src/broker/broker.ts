// The Broker facade: src/broker's API for embedders and for the rest of src/. What the folder
// owns and must not import: README.md here.
import { EventEmitter } from 'node:events'
import type { Server } from 'node:net'
import type { Logger } from 'pino'
import { createLogger } from '../log.ts'
import type { Store } from '../store/store.ts'
import { SingleUserAuth } from './auth.ts'
import { type BrokerSetup, type ResolvedOptions, resolveOptions } from './broker-options.ts'
import type { ClientStream } from './connection.ts'
import { Counters } from './counters.ts'
import { notify } from './events.ts'
import type { FlowControl } from './flow.ts'
import { defaultLastValues, type LastValue, LastValues } from './last-values.ts'
import { assembleParts, type BrokerParts } from './parts.ts'
import { Reason } from './protocol/reason-codes.ts'
import { messageFrom } from './publish-input.ts'
import { RetainedTree } from './retained.ts'
import { isSysTopic, isValidFilter } from './topic-rules.ts'
import type {
  AccessControl,
  BrokerEvents,
  BrokerStats,
  ClientClaims,
  ClientDetails,
  ClientInfo,
  FabricInlet,
  Message,
  MessageHandler,
  PublishInput,
  RemoteFabric,
  SessionFabric,
  SessionFabricInlet,
  SessionInfo,
  SubscribeOptions,
} from './types.ts'

export type { BrokerSetup } from './broker-options.ts'

/**
 * The broker as embedders, listeners, the scripting host and the dashboard see it: start,
 * listen, publish, subscribe, events, stats and shutdown. The work is done by its parts:
 * connections.ts (sockets and clients), session-lifecycle.ts (sessions, wills, expiry),
 * router.ts with local-delivery.ts (routing and delivery), and the packet handlers, which see
 * those parts through BrokerCore (core.ts).
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly logger: Logger
  readonly auth: SingleUserAuth
  readonly options: ResolvedOptions
  readonly startedAt = new Date()
  /** Holds publishing connections back while subscribers they feed are congested. */
  readonly flow: FlowControl
  /** Totals since start; read through stats(). */
  private readonly totals = new Counters()
  private readonly retained = new RetainedTree()
  private readonly store: Store
  /** The parts that do the work (parts.ts), wired to each other. */
  private readonly parts: BrokerParts
  private readonly ownsStore: boolean
  private server: Server | undefined
  private readonly closeHooks: (() => Promise<void>)[] = []
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new'
  private closing: Promise<void> | undefined

  constructor(setup: BrokerSetup) {
    super()
    this.options = resolveOptions(setup)
    this.logger = setup.logger ?? createLogger(setup.logLevel ?? 'info')
    this.auth = new SingleUserAuth(setup.user, setup.pass)
    this.store = setup.store
    this.ownsStore = setup.ownsStore ?? false
    const { options, logger, auth, store, retained, totals } = this
    this.parts = assembleParts({
      options,
      logger,
      auth,
      access: setup.access,
      store,
      retained,
      totals,
      events: this,
    })
    this.flow = this.parts.flow
  }

  /** The bound MQTT port (after start). */
  get port(): number {
    const address = this.server?.address()
    return typeof address === 'object' && address ? address.port : this.options.port
  }

  /** Whether the MQTT listener is bound: false before start, after close, or when its server closed. */
  get listening(): boolean {
    return this.server?.listening ?? false
  }

  /** Access control hooks; replace at run time with setAccessControl. */
  get access(): AccessControl | undefined {
    return this.parts.gate.hooks
  }

  set access(access: AccessControl | undefined) {
    this.parts.gate.hooks = access
  }

  /** Loads stored state and starts listening. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('broker already started')
    const state = await this.store.load()
    for (const message of state.retained) this.retained.set(message)
    this.parts.router.seedLastValues(this.startedAt.getTime())
    this.parts.sessions.restore(state.sessions)
    this.server = await this.parts.connections.listen(this.options.port)
    this.state = 'running'
    this.parts.connections.accepting = true
    this.parts.sessions.running = true
    this.parts.connections.startSweep()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener started')
    notify(this, this.logger, 'listening', this.port)
  }

  /** Moves the MQTT listener to another port; connected clients stay. Rejects (keeping the old listener) when the port can't be bound. */
  async listen(port: number): Promise<number> {
    if (this.state !== 'running') throw new Error('broker is not running')
    const next = await this.parts.connections.listen(port)
    const old = this.server
    this.server = next
    old?.close()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener moved')
    notify(this, this.logger, 'listening', this.port)
    return this.port
  }

  /**
   * Takes a new client stream from any listener (TCP, TLS or WebSocket; src/listeners).
   * `listener` names the listener in logs and client info.
   */
  accept(socket: ClientStream, listener = 'mqtt'): void {
    this.parts.connections.accept(socket, listener)
  }

  /** Sets the single user for new connections (OpenBeken's ms_user / ms_pass). */
  setCredentials(user: string | undefined, pass: string | undefined): void {
    this.auth.set(user, pass)
  }

  setAccessControl(access: AccessControl | undefined): void {
    this.parts.gate.hooks = access
  }

  /** Publishes as the broker itself. A publish made while routing is queued and delivered after it. */
  async publish(input: PublishInput): Promise<void> {
    this.parts.router.route(messageFrom(input))
    // $SYS updates are never stored (router.ts): no commit to wait for.
    if (this.parts.persistence.durable && !isSysTopic(input.topic)) await this.parts.persistence.flush()
  }

  /**
   * Subscribes an in-process handler, like an MQTT client would: wildcards, the `$` rule, and
   * matching retained messages delivered (synchronously, retain set) before this returns.
   */
  subscribe(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    if (!isValidFilter(filter)) throw new Error(`invalid topic filter ${JSON.stringify(filter)}`)
    return this.parts.router.subscribe(filter, handler, options.qos ?? 2)
  }

  /**
   * The last message published on exactly this topic since the start (by a client, a script
   * or broker.publish, retained or not), or the retained message loaded at start; undefined
   * while the cache is off, or when the topic was dropped from it (least recently published first).
   */
  lastValue(topic: string): LastValue | undefined {
    return this.parts.router.lastValues?.get(topic)
  }

  /**
   * Turns the last-value cache on at its default size, unless the `lastValues` option decided
   * already. The scripting host calls this for ms_get; without scripts routing pays nothing.
   */
  useLastValues(): void {
    if (this.parts.router.lastValues || this.options.lastValues !== undefined) return
    this.parts.router.lastValues = new LastValues(defaultLastValues)
    this.parts.router.seedLastValues(this.startedAt.getTime())
  }

  /** Every script's remembered state (`persist`, as JSON) by script file name, from the store. */
  loadScriptStates(): Promise<Map<string, string>> {
    return this.store.loadScriptStates()
  }

  /** Stores a script's remembered state (undefined deletes it); it outlives the script's file. */
  putScriptState(name: string, json: string | undefined): void {
    this.store.putScriptState(name, json)
  }

  /**
   * Runs `hook` first when the broker closes, before clients are dropped (latest added runs
   * first). Add-ons that live beside the broker — scripts, extra listeners, the dashboard —
   * stop through this, so `broker.close()` stays the one way to shut everything down.
   */
  addCloseHook(hook: () => Promise<void>): void {
    this.closeHooks.unshift(hook)
  }

  /** Joins this broker to other nodes (src/cluster): see RemoteFabric. One at a time. */
  attachFabric(fabric: RemoteFabric): FabricInlet {
    return this.parts.router.attachRemote(fabric)
  }

  /** Makes client ids unique across nodes (src/cluster): see ClientClaims. Undefined detaches. */
  attachClaims(claims: ClientClaims | undefined): void {
    this.parts.connections.attachClaims(claims)
  }

  /**
   * Shares persistent sessions with other nodes (src/cluster): see SessionFabric. One at a time.
   * The fabric tells the broker through the returned inlet when a session's record changed
   * elsewhere.
   */
  attachSessionFabric(fabric: SessionFabric): SessionFabricInlet {
    this.parts.router.sessionFabric = fabric
    const sessions = this.parts.sessions
    return {
      changedElsewhere: (clientId) => sessions.changedElsewhere(clientId),
      missedMessages: (clientId) => sessions.catchUpConnected(clientId),
      adopt: (session) => sessions.adopt(session),
    }
  }

  /** The connected clients. */
  clientList(): ClientInfo[] {
    return this.parts.connections.clientList()
  }

  /** The connected clients with traffic counters and subscriptions. */
  clientDetails(): ClientDetails[] {
    return this.parts.connections.clientDetails()
  }

  /** Whether a client with this id is connected now. */
  isConnected(clientId: string): boolean {
    return this.parts.connections.connected(clientId) !== undefined
  }

  /** The session held for this client id, connected or not. */
  sessionInfo(clientId: string): SessionInfo | undefined {
    return this.parts.sessions.info(clientId)
  }

  /** Closes a client's connection as if it had gone away (its will is published). Returns false when not connected. */
  disconnectClient(clientId: string, reason = 'disconnected by the broker'): boolean {
    const connection = this.parts.connections.connected(clientId)
    if (!connection) return false
    this.parts.connections.drop(connection, reason, Reason.administrativeAction)
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
      ...this.totals.snapshot(),
      startedAt: this.startedAt,
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      connections: this.parts.connections.count,
      clients: this.parts.connections.clientCount,
      sessions: this.parts.sessions.size,
      subscriptions: this.parts.delivery.size,
      retained: this.retained.size,
      storedMessages: this.parts.sessions.storedMessages(),
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
    this.parts.connections.accepting = false
    this.parts.sessions.running = false
    for (const hook of this.closeHooks) {
      try {
        await hook()
      } catch (error) {
        this.logger.error({ err: error }, 'error while closing an add-on')
      }
    }
    const server = this.server
    const serverClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    this.parts.connections.closeAll()
    this.parts.sessions.close()
    await serverClosed
    await this.parts.persistence.flush()
    if (this.ownsStore) await this.store.close()
    this.state = 'closed'
    this.logger.info('broker closed')
  }
}
