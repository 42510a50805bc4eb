import type { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:net'
import type { Logger } from 'pino'
import { listenOn } from '../util/listen.ts'
import { type ClientStream, Connection, type ConnectionOwner } from './connection.ts'
import type { BrokerCore, ClientRegistry } from './core.ts'
import type { Counters } from './counters.ts'
import { notify } from './events.ts'
import type { FlowControl } from './flow.ts'
import { dispatch } from './handlers/index.ts'
import { UnsupportedProtocolError } from './protocol/decode.ts'
import { encodeConnack, encodeDisconnect } from './protocol/encode.ts'
import { ProtocolError } from './protocol/errors.ts'
import { ConnackCode, isFailure, Reason } from './protocol/reason-codes.ts'
import type { SessionLifecycle } from './session-lifecycle.ts'
import type { Session } from './sessions.ts'
import type { BrokerEvents, ClientClaims, ClientDetails, ClientInfo, ProtocolVersion } from './types.ts'

/** How often keepalive and connect timeouts are checked; one timer for all connections. */
const sweepIntervalMs = 500

/** A client whose protocol version we don't speak is answered in 3.1.1, which every client reads. */
const refusalVersion: ProtocolVersion = 4

export interface ConnectionSettings {
  readonly host: string
  readonly maxPacketSize: number
  readonly maxConnections: number
  /** Seconds a new connection may take to send CONNECT. */
  readonly connectTimeout: number
}

export interface ConnectionsParts {
  settings: ConnectionSettings
  /** What the packet handlers get, but for the client registry, which is this. */
  core: Omit<BrokerCore, 'clients'>
  sessions: SessionLifecycle
  flow: FlowControl
  totals: Counters
  events: EventEmitter<BrokerEvents>
  logger: Logger
}

/**
 * The open connections, from accept to close: the MQTT listener, packets handed to the
 * handlers, the keepalive and connect-timeout sweep, and taking a connection out of service.
 * Connected clients are kept by client id.
 */
export class Connections implements ConnectionOwner, ClientRegistry {
  /** New connections are taken only while this is set (between start and shutdown). */
  accepting = false
  private readonly open = new Set<Connection>()
  private readonly clients = new Map<string, Connection>()
  private readonly core: BrokerCore
  private readonly settings: ConnectionSettings
  private readonly sessions: SessionLifecycle
  private readonly flow: FlowControl
  private readonly totals: Counters
  private readonly events: EventEmitter<BrokerEvents>
  private readonly logger: Logger
  private sweepTimer: NodeJS.Timeout | undefined

  constructor(parts: ConnectionsParts) {
    this.core = { ...parts.core, clients: this }
    this.settings = parts.settings
    this.sessions = parts.sessions
    this.flow = parts.flow
    this.totals = parts.totals
    this.events = parts.events
    this.logger = parts.logger
  }

  /** Open network connections, including ones that have not sent CONNECT yet. */
  get count(): number {
    return this.open.size
  }

  /** Clients that completed CONNECT. */
  get clientCount(): number {
    return this.clients.size
  }

  /** A TCP listener on `port` handing its sockets to accept(); rejects when the port can't be bound. */
  async listen(port: number): Promise<Server> {
    const server = createServer((socket) => this.accept(socket))
    if (this.settings.maxConnections > 0) {
      server.maxConnections = this.settings.maxConnections
      server.on('drop', (info) =>
        this.logger.warn({ address: info?.remoteAddress }, 'connection limit reached, connection refused'),
      )
    }
    await listenOn(server, port, this.settings.host)
    server.on('error', (error) => this.logger.error({ err: error }, 'listener error'))
    return server
  }

  /**
   * Takes a new client stream from any listener (TCP, TLS or WebSocket). `listener` names the
   * listener in logs and client info.
   */
  accept(socket: ClientStream, listener = 'mqtt'): void {
    if (!this.accepting) {
      socket.destroy()
      return
    }
    this.totals.connectionAccepted(listener)
    this.open.add(new Connection(socket, this, this.settings.maxPacketSize, listener, this.totals))
  }

  startSweep(): void {
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs)
    this.sweepTimer.unref()
  }

  /** At shutdown: every client is told and dropped, then every socket destroyed. */
  closeAll(): void {
    this.accepting = false
    clearInterval(this.sweepTimer)
    for (const connection of this.open)
      this.drop(connection, 'broker shutting down', Reason.serverShuttingDown)
    for (const connection of this.open) connection.socket.destroy()
  }

  handlePacket(connection: Connection, header: number, body: Buffer): void {
    dispatch(this.core, connection, header, body)
  }

  protocolError(connection: Connection, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error)
    const log = { clientId: connection.clientId || undefined, address: connection.address }
    if (error instanceof ProtocolError) {
      this.logger.warn(log, `protocol error, closing connection: ${reason}`)
      if (error instanceof UnsupportedProtocolError && connection.state === 'connecting') {
        connection.write(encodeConnack(refusalVersion, false, ConnackCode.unacceptableProtocolVersion))
      }
      this.drop(connection, reason, error.reason)
    } else {
      // A bug in a handler: this client goes, the broker carries on.
      this.logger.error({ ...log, err: error }, 'internal error while handling a packet, closing connection')
      this.drop(connection, reason, Reason.unspecified)
    }
  }

  connectionClosed(connection: Connection): void {
    this.drop(connection, connection.closeReason)
    this.open.delete(connection)
  }

  connected(clientId: string): Connection | undefined {
    return this.clients.get(clientId)
  }

  register(connection: Connection): void {
    this.clients.set(connection.clientId, connection)
    this.totals.clientRegistered(this.clients.size)
  }

  announce(connection: Connection): void {
    // ClientInfo is built only for a listener: under connect churn it was 2% of the bytes allocated.
    if (this.events.listenerCount('clientConnect') > 0)
      notify(this.events, this.logger, 'clientConnect', connection.info)
  }

  /** A cluster's client-id claims from now on (see ClientClaims); undefined detaches them. */
  attachClaims(claims: ClientClaims | undefined): void {
    this.core.claims = claims
  }

  drop(connection: Connection, reason: string, reasonCode?: number): void {
    const wasConnected = connection.state === 'connected'
    if (wasConnected && connection.version === 5 && reasonCode !== undefined && !connection.disconnected) {
      const packet = isFailure(reasonCode)
        ? connection.withReason((text) => encodeDisconnect(reasonCode, text), reason, true)
        : encodeDisconnect(reasonCode)
      connection.write(packet)
    }
    connection.close(reason)
    this.flow.forget(connection)
    if (!wasConnected) return
    const { clientId } = connection
    if (this.clients.get(clientId) === connection) this.clients.delete(clientId)
    this.sessions.connectionEnded(connection)
    // After the will was published or dropped here: the cluster may now forget it.
    const release = connection.claimRelease
    connection.claimRelease = undefined
    release?.()
    this.logger.info({ clientId, address: connection.address, reason }, 'client disconnected')
    if (this.events.listenerCount('clientDisconnect') > 0)
      notify(this.events, this.logger, 'clientDisconnect', connection.info, reason)
  }

  /**
   * An MQTT 5 client that is connected but lets its queue overflow is told so and
   * disconnected (Quota exceeded); its session, with what was queued, stays for it.
   */
  overflowed(session: Session): void {
    const connection = this.clients.get(session.clientId)
    if (connection?.version === 5 && connection.session === session) {
      this.drop(connection, 'message queue full', Reason.quotaExceeded)
    }
  }

  clientList(): ClientInfo[] {
    return [...this.clients.values()].map((c) => c.info)
  }

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

  /** Closes connections that never sent CONNECT, or went silent past 1.5 × keepalive [MQTT-3.1.2-24]. */
  private sweep(): void {
    const now = Date.now()
    const connectDeadline = this.settings.connectTimeout * 1000
    for (const connection of this.open) {
      if (connection.state === 'connecting' && now - connection.createdAt > connectDeadline) {
        this.logger.warn({ address: connection.address }, 'no CONNECT in time, closing connection')
        this.drop(connection, 'connect timeout')
      } else if (
        connection.state === 'connected' &&
        connection.keepalive > 0 &&
        now - connection.lastActivity > connection.keepalive * 1500
      ) {
        this.logger.info({ clientId: connection.clientId, address: connection.address }, 'keepalive expired')
        this.drop(connection, 'keepalive timeout', Reason.keepAliveTimeout)
      }
    }
  }
}
