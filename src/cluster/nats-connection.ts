/**
 * One NATS connection per node, shared by the cluster building blocks: it connects, keeps
 * reconnecting for as long as the node runs (with a growing, jittered delay), reports its
 * state as events, and hands out JetStream and KV handles.
 *
 * Usage: `const c = new NatsConnection(opts); c.on('disconnected', …); await c.connect()`.
 */
import { EventEmitter } from 'node:events'
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { type KV, Kvm, type KvOptions, type KvWatchEntry, type KvWatchOptions } from '@nats-io/kv'
import {
  connect,
  type NatsConnection as Nc,
  type NodeConnectionOptions,
  type QueuedIterator,
} from '@nats-io/transport-node'
import { settleWithin } from '../util/settle-within.ts'

/** How long close() waits for a drain before it closes the connection outright. */
const DRAIN_GUARD_MS = 5_000

export interface NatsTlsOptions {
  /** PEM text or a file path for each; a file path wins when both are given. */
  ca?: string
  caFile?: string
  cert?: string
  certFile?: string
  key?: string
  keyFile?: string
}

export interface NatsConnectionOptions {
  /** `nats://host:port` or `tls://host:port`; tried in random order, then the ones the server gossips. */
  servers: string[]
  /** Shown in the server's connection list (`nats server report connections`). */
  name?: string
  user?: string
  pass?: string
  token?: string
  /** Require TLS; `{}` uses the system CAs. */
  tls?: NatsTlsOptions
  /** Delay before the first reconnect attempt (default 250 ms). */
  reconnectDelayMs?: number
  /** Cap on the delay between attempts (default 10 s). */
  maxReconnectDelayMs?: number
  /** Keep trying when no server answers at start (default false: `connect()` rejects). */
  waitOnFirstConnect?: boolean
  /** How often the client pings the server (default 10 s); two unanswered pings drop the connection. */
  pingIntervalMs?: number
  /** How long one connection attempt may take, handshake included (default 20 s). */
  connectTimeoutMs?: number
  /** Timeout of JetStream API requests (default 5 s). */
  requestTimeoutMs?: number
  /**
   * The server does not send this connection's own core publishes back to it (default false).
   * The router wants this; note that a request to a subject this connection itself answers then
   * gets "no responders".
   */
  noEcho?: boolean
}

export type ConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'closed'

export interface NatsConnectionEvents {
  connected: [server: string]
  disconnected: [server: string]
  reconnected: [server: string]
  /** A server error or a stale connection; the connection carries on (it may reconnect). */
  problem: [error: Error]
  /** Final: after `close()`, or when the client gave up (the error says why). */
  closed: [error: Error | undefined]
}

/**
 * The delay before the next connection attempt while an outage has lasted `elapsedMs`.
 *
 * The NATS client asks for a delay again on every pass of its dial loop, not once per
 * attempt, so an attempt counter would grow faster than the attempts. Half the outage so far
 * is a function of time alone and still doubles the gap: after a try at t, the next comes
 * once the wait, (now − start)/2, has passed since t, i.e. at 2t − start. `jitter` (0…1) is
 * drawn once per outage so that nodes spread out without the delay changing under the loop.
 */
export function reconnectDelay(elapsedMs: number, initialMs: number, maxMs: number, jitter: number): number {
  const base = Math.min(maxMs, Math.max(initialMs, elapsedMs / 2))
  return Math.round(base * (1 + 0.2 * jitter))
}

export class NatsConnection extends EventEmitter<NatsConnectionEvents> {
  private nc: Nc | undefined
  private js: JetStreamClient | undefined
  private kvm: Kvm | undefined
  private stateNow: ConnectionState = 'new'
  private outageStart = Date.now()
  private jitter = Math.random()
  /** KV watches being set up (see watch): close() lets them subscribe before it drains. */
  private readonly watchesOpening = new Set<Promise<unknown>>()
  /** Set as close() begins: no watch starts after it. */
  private closing = false

  constructor(private readonly options: NatsConnectionOptions) {
    super()
    if (options.servers.length === 0) throw new RangeError('no NATS servers given')
  }

  get state(): ConnectionState {
    return this.stateNow
  }

  /** The raw connection, for core publish/subscribe/request. */
  get connection(): Nc {
    if (!this.nc) throw new Error('NATS connection not open')
    return this.nc
  }

  /** Resolves once connected (emitting 'connected'); rejects when no server accepts us. */
  async connect(): Promise<void> {
    if (this.stateNow !== 'new') throw new Error(`connect() called in state ${this.stateNow}`)
    this.stateNow = 'connecting'
    const o = this.options
    const initial = o.reconnectDelayMs ?? 250
    const max = o.maxReconnectDelayMs ?? 10_000
    const opts: NodeConnectionOptions = {
      servers: o.servers,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => reconnectDelay(Date.now() - this.outageStart, initial, max, this.jitter),
      waitOnFirstConnect: o.waitOnFirstConnect ?? false,
      pingInterval: o.pingIntervalMs ?? 10_000,
      maxPingOut: 2,
      // An auth server that rejects us twice in a row would otherwise end reconnecting for good.
      ignoreAuthErrorAbort: true,
      // Otherwise every request (each KV read and write, each JetStream publish) builds two Error
      // objects with stack traces up front, in case it fails: in a profile of a 4,000-client
      // storm of persistent sessions moving to a node, their constructors took 2.0 s of the
      // node's 9.8 s of CPU. Our failures are logged by what failed, not by the client's trace.
      noAsyncTraces: true,
    }
    if (o.connectTimeoutMs !== undefined) opts.timeout = o.connectTimeoutMs
    if (o.noEcho) opts.noEcho = true
    if (o.name !== undefined) opts.name = o.name
    if (o.user !== undefined) opts.user = o.user
    if (o.pass !== undefined) opts.pass = o.pass
    if (o.token !== undefined) opts.token = o.token
    if (o.tls) opts.tls = { ...o.tls }
    this.outageStart = Date.now()
    let nc: Nc
    try {
      nc = await connect(opts)
    } catch (error) {
      this.stateNow = 'closed'
      throw error
    }
    this.nc = nc
    this.js = jetstream(nc, { timeout: o.requestTimeoutMs ?? 5_000 })
    this.kvm = new Kvm(this.js)
    this.stateNow = 'connected'
    void this.watchStatus(nc)
    void nc.closed().then((error) => {
      this.stateNow = 'closed'
      this.emit('closed', error ?? undefined)
    })
    this.emit('connected', nc.getServer())
  }

  private async watchStatus(nc: Nc): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.outageStart = Date.now()
          this.jitter = Math.random()
          this.stateNow = 'disconnected'
          this.emit('disconnected', s.server)
          break
        case 'reconnect':
          this.stateNow = 'connected'
          this.emit('reconnected', s.server)
          break
        case 'error':
          this.emit('problem', s.error)
          break
        case 'staleConnection':
          this.emit('problem', new Error('stale connection: the server stopped answering pings'))
          break
        default:
          break
      }
    }
  }

  jetstream(): JetStreamClient {
    if (!this.js) throw new Error('NATS connection not open')
    return this.js
  }

  jetstreamManager(): Promise<JetStreamManager> {
    return jetstreamManager(this.connection, { timeout: this.options.requestTimeoutMs ?? 5_000 })
  }

  /** Opens the KV bucket, creating it with `opts` when it does not exist (an existing one keeps its settings). */
  kv(bucket: string, opts?: Partial<KvOptions>): Promise<KV> {
    if (!this.kvm) throw new Error('NATS connection not open')
    return this.kvm.create(bucket, opts)
  }

  /**
   * Starts a watch on `kv`, a bucket of this connection. All KV watches go through here
   * because of a leak in the client (@nats-io/jetstream 3.4.0, pushconsumer.ts `start`): a
   * watch starts its heartbeat monitor, a setInterval, before it subscribes. When the
   * connection is draining or closed, the subscribe throws, nothing can stop the monitor, and
   * every 30 s it logs a ClosedConnectionError and keeps the process alive for good (a test
   * file hung this way until its 180 s limit in CI, a node's sweep having listed a bucket as
   * the node closed). So a watch is refused once the connection is closing, and close() waits
   * for the watches being set up, which takes microtasks, to subscribe before it drains: their
   * subscriptions' close then stops their monitors.
   */
  watch(kv: KV, opts?: KvWatchOptions): Promise<QueuedIterator<KvWatchEntry>> {
    const nc = this.connection
    if (this.closing || nc.isClosed() || nc.isDraining())
      return Promise.reject(new Error('NATS connection closing'))
    const opening = kv.watch(opts)
    this.watchesOpening.add(opening)
    const settled = (): void => void this.watchesOpening.delete(opening)
    opening.then(settled, settled)
    return opening
  }

  /**
   * Closes the connection. While connected it drains first (subscriptions stop, pending
   * publishes are flushed); while disconnected it closes at once. Safe to call twice.
   */
  async close(): Promise<void> {
    this.closing = true
    const nc = this.nc
    if (!nc) {
      this.stateNow = 'closed'
      return
    }
    if (nc.isClosed()) return
    await Promise.allSettled([...this.watchesOpening])
    if (nc.isClosed()) return
    if (this.stateNow === 'connected' && !nc.isDraining()) {
      try {
        // A drain caught by an outage can wait for the server for good; close below ends it.
        if ((await settleWithin(nc.drain(), DRAIN_GUARD_MS)).done) return
      } catch {
        // Drain fails when the connection drops meanwhile; close below ends it either way.
      }
    }
    await nc.close()
  }
}
