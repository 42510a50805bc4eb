/**
 * src/broker: the MQTT broker (3.1, 3.1.1 and 5) over any byte stream. This module, the Broker
 * facade, is its API for embedders and for the rest of src/.
 *
 * Owns: the facade and its options and events (broker.ts, broker-options.ts, types.ts,
 * events.ts, publish-input.ts); the parts it drives, wired by parts.ts: connections.ts (with
 * connection.ts), session-lifecycle.ts (with sessions.ts), router.ts, local-delivery.ts (with
 * interest.ts), access-gate.ts, persistence.ts, flow.ts; what they share: topic-rules.ts, level-tree.ts under
 * topics.ts (subscriptions) and retained.ts, last-values.ts, shared.ts ($share), expiry.ts,
 * auth.ts, subscription.ts; the packet handlers (handlers/, which see the broker through
 * BrokerCore in core.ts); the MQTT codec (protocol/); and access control from Mosquitto-format
 * files (access/, an add-on installed on a Broker, which nothing else in this folder imports).
 *
 * Must not import: src/scripting, src/web, src/listeners, src/bridge, src/cluster, src/testing,
 * the entry points in src/; of src/store only the Store interface (store/store.ts). Those are
 * built on the broker, never the other way round (.dependency-cruiser.cjs).
 */
import { EventEmitter } from 'node:events'
import type { Server } from 'node:net'
import type { Logger } from 'pino'
import { createLogger } from '../log.ts'
import type { Store } from '../store/store.ts'
import type { AccessGate } from './access-gate.ts'
import { SingleUserAuth } from './auth.ts'
import { type BrokerSetup, type ResolvedOptions, resolveOptions } from './broker-options.ts'
import type { ClientStream } from './connection.ts'
import type { Connections } from './connections.ts'
import { notify } from './events.ts'
import type { FlowControl } from './flow.ts'
import { defaultLastValues, type LastValue, LastValues } from './last-values.ts'
import type { LocalDelivery } from './local-delivery.ts'
import { assembleParts } from './parts.ts'
import type { Persistence } from './persistence.ts'
import { Reason } from './protocol/errors.ts'
import { messageFrom } from './publish-input.ts'
import { RetainedTree } from './retained.ts'
import type { Router } from './router.ts'
import type { SessionLifecycle } from './session-lifecycle.ts'
import { isValidFilter } from './topic-rules.ts'
import type {
  AccessControl,
  BrokerEvents,
  BrokerStats,
  ClientDetails,
  ClientInfo,
  FabricInlet,
  Message,
  MessageHandler,
  PublishInput,
  RemoteFabric,
  SessionInfo,
  SubscribeOptions,
  TrafficCounters,
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
  /** Traffic totals since start; read through stats(). */
  private readonly totals: TrafficCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }
  private readonly retained = new RetainedTree()
  private readonly store: Store
  private readonly ownsStore: boolean
  private readonly gate: AccessGate
  private readonly persistence: Persistence
  private readonly delivery: LocalDelivery
  private readonly router: Router
  private readonly sessions: SessionLifecycle
  private readonly connections: Connections
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
    const parts = assembleParts({
      options,
      logger,
      auth,
      access: setup.access,
      store,
      retained,
      totals,
      events: this,
    })
    this.flow = parts.flow
    this.gate = parts.gate
    this.persistence = parts.persistence
    this.delivery = parts.delivery
    this.router = parts.router
    this.sessions = parts.sessions
    this.connections = parts.connections
  }

  /** The bound MQTT port (after start). */
  get port(): number {
    const address = this.server?.address()
    return typeof address === 'object' && address ? address.port : this.options.port
  }

  /** Access control hooks; replace at run time with setAccessControl. */
  get access(): AccessControl | undefined {
    return this.gate.hooks
  }

  set access(access: AccessControl | undefined) {
    this.gate.hooks = access
  }

  /** Loads stored state and starts listening. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('broker already started')
    const state = await this.store.load()
    for (const message of state.retained) this.retained.set(message)
    this.router.seedLastValues(this.startedAt.getTime())
    this.sessions.restore(state.sessions)
    this.server = await this.connections.listen(this.options.port)
    this.state = 'running'
    this.connections.accepting = true
    this.sessions.running = true
    this.connections.startSweep()
    this.logger.info({ host: this.options.host, port: this.port }, 'MQTT listener started')
    notify(this, this.logger, 'listening', this.port)
  }

  /** Moves the MQTT listener to another port; connected clients stay. Rejects (keeping the old listener) when the port can't be bound. */
  async listen(port: number): Promise<number> {
    if (this.state !== 'running') throw new Error('broker is not running')
    const next = await this.connections.listen(port)
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
    this.connections.accept(socket, listener)
  }

  /** Sets the single user for new connections (OpenBeken's ms_user / ms_pass). */
  setCredentials(user: string | undefined, pass: string | undefined): void {
    this.auth.set(user, pass)
  }

  setAccessControl(access: AccessControl | undefined): void {
    this.gate.hooks = access
  }

  /** Publishes as the broker itself. A publish made while routing is queued and delivered after it. */
  async publish(input: PublishInput): Promise<void> {
    this.router.route(messageFrom(input))
    if (this.persistence.durable) await this.persistence.flush()
  }

  /**
   * Subscribes an in-process handler, like an MQTT client would: wildcards, the `$` rule, and
   * matching retained messages delivered (synchronously, retain set) before this returns.
   */
  subscribe(filter: string, handler: MessageHandler, options: SubscribeOptions = {}): () => void {
    if (!isValidFilter(filter)) throw new Error(`invalid topic filter ${JSON.stringify(filter)}`)
    return this.router.subscribe(filter, handler, options.qos ?? 2)
  }

  /**
   * The last message published on exactly this topic since the start (by a client, a script
   * or broker.publish, retained or not), or the retained message loaded at start; undefined
   * while the cache is off, or when the topic was dropped from it (least recently published first).
   */
  lastValue(topic: string): LastValue | undefined {
    return this.router.lastValues?.get(topic)
  }

  /**
   * Turns the last-value cache on at its default size, unless the `lastValues` option decided
   * already. The scripting host calls this for ms_get; without scripts routing pays nothing.
   */
  useLastValues(): void {
    if (this.router.lastValues || this.options.lastValues !== undefined) return
    this.router.lastValues = new LastValues(defaultLastValues)
    this.router.seedLastValues(this.startedAt.getTime())
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
    return this.router.attachRemote(fabric)
  }

  /** The connected clients. */
  clientList(): ClientInfo[] {
    return this.connections.clientList()
  }

  /** The connected clients with traffic counters and subscriptions. */
  clientDetails(): ClientDetails[] {
    return this.connections.clientDetails()
  }

  /** Whether a client with this id is connected now. */
  isConnected(clientId: string): boolean {
    return this.connections.connected(clientId) !== undefined
  }

  /** The session held for this client id, connected or not. */
  sessionInfo(clientId: string): SessionInfo | undefined {
    return this.sessions.info(clientId)
  }

  /** Closes a client's connection as if it had gone away (its will is published). Returns false when not connected. */
  disconnectClient(clientId: string, reason = 'disconnected by the broker'): boolean {
    const connection = this.connections.connected(clientId)
    if (!connection) return false
    this.connections.drop(connection, reason, Reason.administrativeAction)
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
      messagesDropped: this.sessions.dropped,
      startedAt: this.startedAt,
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      connections: this.connections.count,
      clients: this.connections.clientCount,
      sessions: this.sessions.size,
      subscriptions: this.delivery.size,
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
    this.connections.accepting = false
    this.sessions.running = false
    for (const hook of this.closeHooks) {
      try {
        await hook()
      } catch (error) {
        this.logger.error({ err: error }, 'error while closing an add-on')
      }
    }
    const server = this.server
    const serverClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    this.connections.closeAll()
    this.sessions.close()
    await serverClosed
    await this.persistence.flush()
    if (this.ownsStore) await this.store.close()
    this.state = 'closed'
    this.logger.info('broker closed')
  }
}
