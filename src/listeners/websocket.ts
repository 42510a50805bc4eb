import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { CertificateIdentities } from '../broker/access/certificate-identities.ts'
import type { Broker } from '../broker/broker.ts'
import type { ClientStream } from '../broker/connection.ts'
import { listenOn } from '../util/listen.ts'
import { type AdmitContext, admit, dropPending } from './admit.ts'
import { limitConnections, stopAccepting } from './server.ts'
import { readTlsOptions } from './tls-options.ts'
import type { Listener, ListenerCommon, TlsFiles, WebSocketSettings } from './types.ts'

/** Subprotocols MQTT clients ask for: `mqtt` (3.1.1 and 5), `mqttv3.1` (3.1). */
const subprotocols = new Set(['mqtt', 'mqttv3.1'])

/** A WebSocket message may carry a whole MQTT packet plus framing slack. */
const payloadSlack = 64 * 1024

export interface MqttWebSocketOptions {
  /** Request path (default /mqtt). */
  path?: string | undefined
  /** Name in logs and client info. */
  name: string
  identities?: CertificateIdentities | undefined
}

export interface AttachedWebSocket {
  readonly context: AdmitContext
  /** Stops taking upgrades on this server; connected clients stay. */
  detach(): void
}

/**
 * Serves MQTT over WebSocket on an HTTP(S) server that may serve other things too (the
 * dashboard): upgrades on `path` become MQTT clients; other upgrades are left to the server's
 * other 'upgrade' listeners, or refused by the standalone listener below.
 */
export function attachMqttWebSocket(
  server: HttpServer,
  broker: Broker,
  options: MqttWebSocketOptions,
): AttachedWebSocket {
  const path = options.path ?? '/mqtt'
  const context: AdmitContext = {
    broker,
    name: options.name,
    identities: options.identities,
    pending: new Set(),
    closed: false,
  }
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: broker.options.maxPacketSize + payloadSlack,
    handleProtocols: (offered) => [...offered].find((p) => subprotocols.has(p)) ?? false,
  })
  // Invalid handshakes (bad key, version …) reach us instead of being answered silently by ws.
  wss.on('wsClientError', (error, socket, request) => {
    refuseUpgrade(broker, context.name, socket, request, 400, error.message)
  })
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (requestPath(request) !== path) return
    const offered = offeredProtocols(request)
    if (offered.length > 0 && !offered.some((p) => subprotocols.has(p))) {
      refuseUpgrade(
        broker,
        context.name,
        socket,
        request,
        400,
        `no MQTT subprotocol in "${offered.join(', ')}"`,
      )
      return
    }
    if (context.closed) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws) as ClientStream
      // The WebSocket has no address of its own; logs and client info show the peer's.
      stream.remoteAddress = request.socket.remoteAddress
      stream.remotePort = request.socket.remotePort
      request.socket.setNoDelay?.(true)
      admit(context, stream, request.socket instanceof TLSSocket ? request.socket : undefined)
    })
  }
  server.on('upgrade', onUpgrade)
  return {
    context,
    detach: () => {
      server.off('upgrade', onUpgrade)
      dropPending(context)
    },
  }
}

/** A WebSocket (`ws`) or WebSocket-over-TLS (`wss`) listener of its own. */
export async function startWebSocketListener(
  broker: Broker,
  spec: ListenerCommon & WebSocketSettings & ({ type: 'ws' } | ({ type: 'wss' } & TlsFiles)),
  identities: CertificateIdentities | undefined,
): Promise<Listener> {
  const server = spec.type === 'wss' ? createHttpsServer(await readTlsOptions(spec)) : createHttpServer()
  const path = spec.path ?? '/mqtt'
  const useIdentity = spec.type === 'wss' && spec.useIdentityAsUsername === true
  if (useIdentity && !identities) throw new Error('useIdentityAsUsername needs the access control')
  const attached = attachMqttWebSocket(server, broker, {
    path,
    name: `${spec.type}:${spec.port}`,
    identities: useIdentity ? identities : undefined,
  })
  // Slow HTTP handshakes count against the connect timeout, as a silent TCP client would.
  const timeoutMs = Math.max(broker.options.connectTimeout, 1) * 1000
  server.headersTimeout = timeoutMs
  server.requestTimeout = timeoutMs
  server.on('request', (_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' })
    response.end(`MQTT over WebSocket: open a WebSocket on ${path} with subprotocol "mqtt"\n`)
  })
  server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    if (requestPath(request) !== path)
      refuseUpgrade(broker, attached.context.name, socket, request, 404, 'unknown path')
  })
  server.on('clientError', (error, socket) => {
    broker.logger.warn({ listener: attached.context.name, reason: error.message }, 'bad HTTP request')
    socket.destroy()
  })
  if (spec.type === 'wss') {
    server.on('tlsClientError', (error, socket) => {
      broker.logger.warn(
        { listener: attached.context.name, address: socket.remoteAddress, reason: error.message },
        'TLS handshake failed',
      )
    })
  }
  limitConnections(server, spec.maxConnections, attached.context.name, broker.logger)
  const port = await listenOn(server, spec.port, spec.host ?? broker.options.host)
  attached.context.name = `${spec.type}:${port}`
  server.on('error', (error) =>
    broker.logger.error({ err: error, listener: attached.context.name }, 'listener error'),
  )
  return {
    type: spec.type,
    name: attached.context.name,
    port,
    get listening() {
      return server.listening
    },
    close: async () => {
      attached.detach()
      stopAccepting(server)
      server.closeIdleConnections()
    },
  }
}

function requestPath(request: IncomingMessage): string {
  const url = request.url ?? '/'
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol']
  if (header === undefined) return []
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
}

/** Answers a bad upgrade with a plain HTTP status and closes that socket only. */
function refuseUpgrade(
  broker: Broker,
  name: string,
  socket: Duplex,
  request: IncomingMessage,
  status: 400 | 404,
  reason: string,
): void {
  broker.logger.warn(
    { listener: name, address: request.socket.remoteAddress, path: request.url, reason },
    'WebSocket upgrade refused',
  )
  socket.on('error', () => socket.destroy())
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const text = status === 404 ? 'Not Found' : 'Bad Request'
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
    socket.destroy(),
  )
}
