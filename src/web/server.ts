import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Broker } from '../broker/broker.ts'
import { InvalidTopicError } from '../broker/topic-rules.ts'
import type { QoS } from '../broker/types.ts'
import { healthHandler } from '../ops/index.ts'
import type { ConsoleReply, ScriptingHost } from '../scripting/index.ts'
import { checkBasicAuth } from './http-auth.ts'
import { HEADERS, HttpError, readJson, sameOrigin, send } from './http-util.ts'
import {
  checkOwnCredentials,
  type DashboardAccess,
  hasOwnPassword,
  hostAllowed,
  requestActor,
  scriptWritesAllowed,
  scriptWritesRefusal,
} from './script-access.ts'
import { createScriptEditApi } from './script-edit-api.ts'
import { parseViewRequest, type ViewName, type Views } from './views.ts'

/** The page's script: app.js is the entry, the others are the ES modules it imports. */
const MODULES = [
  'app.js',
  'actions.js',
  'dom.js',
  'format.js',
  'live.js',
  'patch.js',
  'script-console.js',
  'script-editor.js',
  'view-broker.js',
  'view-clients.js',
  'view-cluster.js',
  'view-devices.js',
  'view-ha.js',
  'view-scripts.js',
  'view-topics.js',
]
/** Shipped next to the compiled code (the build copies src/web/assets to dist/web/assets). */
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  ...Object.fromEntries(MODULES.map((name) => [`/${name}`, name])),
  '/style.css': 'style.css',
  '/editor.js': 'editor.js',
}
/** Built by scripts/build-editor.mjs (npm run build); without it the Scripts view has no editor. */
const OPTIONAL = new Set(['editor.js'])
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}
function loadAssets(): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  for (const name of new Set(Object.values(ASSETS))) {
    const url = new URL(`./assets/${name}`, import.meta.url)
    if (OPTIONAL.has(name) && !existsSync(url)) continue
    files.set(name, readFileSync(url))
  }
  return files
}

export interface WebHandlers {
  broker: Broker
  views: Views
  /** Called for each accepted WebSocket at /ws. */
  onSocket: (socket: WebSocket) => void
  /** Brings the indexes up to date before a one-off read (the feed does it on its tick). */
  beforeRead: (view: ViewName) => void
  /** For the Scripts view's reload button and console. */
  scripting?: ScriptingHost | undefined
  /** The dashboard's own credentials and bind address: who may reach it and change scripts. */
  access: DashboardAccess
  /** Prometheus metrics for GET /metrics; without them /metrics is not found. */
  metrics?: MetricsScrape | undefined
}

/** One Prometheus scrape: the exposition text and its content type. */
export type MetricsScrape = () => Promise<{ body: string; contentType: string }>

/** The HTTP side: static page, JSON views, the publish and disconnect actions, the /ws upgrade. */
export function createWebServer({
  broker,
  views,
  onSocket,
  beforeRead,
  scripting,
  access,
  metrics,
}: WebHandlers): {
  server: Server
  wss: WebSocketServer
} {
  const assets = loadAssets()
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const scriptEdit = createScriptEditApi({ broker, scripting, access })
  // With its own password the dashboard asks for that; otherwise for the broker's users, if any.
  const authorized = (req: IncomingMessage): boolean =>
    hasOwnPassword(access)
      ? checkOwnCredentials(access, req.headers.authorization)
      : checkBasicAuth(broker, req.headers.authorization, req.socket.remoteAddress ?? '')

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard')
    const asset = ASSETS[url.pathname]
    if (req.method === 'GET' && asset !== undefined && assets.has(asset)) {
      res.writeHead(200, { ...HEADERS, 'content-type': TYPES[asset.split('.').pop() ?? ''] ?? 'text/plain' })
      res.end(assets.get(asset))
      return
    }
    if (req.method === 'GET' && url.pathname === '/metrics' && metrics) {
      const { body, contentType } = await metrics()
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
      res.end(body)
      return
    }
    const viewMatch = /^\/api\/view\/([a-z]+)$/.exec(url.pathname)
    if (req.method === 'GET' && viewMatch) {
      const request = parseViewRequest({ ...Object.fromEntries(url.searchParams), view: viewMatch[1] })
      if (request.view !== viewMatch[1]) throw new HttpError(404, 'no such view')
      beforeRead(request.view)
      send(res, 200, views.build(request))
      return
    }
    if (await scriptEdit(req, res, url)) return
    if (req.method === 'POST' && ACTIONS.has(url.pathname)) {
      if (!sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused')
      const body = await readJson(req)
      if (url.pathname === '/api/publish') await publish(broker, body)
      else if (url.pathname === '/api/disconnect') disconnect(broker, body)
      else await reload(scripting, body)
      send(res, 200, { ok: true })
      return
    }
    if (req.method === 'POST' && url.pathname === '/api/scripts/eval') {
      if (!sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused')
      if (!scriptWritesAllowed(access, req)) {
        throw new HttpError(403, scriptWritesRefusal(access) ?? 'not allowed')
      }
      const { user, address } = requestActor(req)
      const body = await readJson(req)
      send(res, 200, await evaluate(broker, scripting, body, user, address))
      return
    }
    throw new HttpError(404, 'not found')
  }

  const health = healthHandler(broker)
  const server = createServer((req, res) => {
    // Before the Host and password checks: probes reach it under any name, without credentials.
    if (health(req, res)) return
    if (!hostAllowed(access, req)) {
      send(res, 403, { error: 'unknown Host: add it with --http-allowed-hosts' })
      return
    }
    if (!authorized(req)) {
      res.writeHead(401, { ...HEADERS, 'www-authenticate': 'Basic realm="tinymqtt", charset="UTF-8"' })
      res.end('authentication required')
      return
    }
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500
      if (status === 500) broker.logger.error({ err: error }, 'dashboard request failed')
      const details = error instanceof HttpError ? error.details : undefined
      if (!res.headersSent)
        send(res, status, { ...details, error: error instanceof Error ? error.message : String(error) })
      else res.destroy()
    })
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    }
    if (!hostAllowed(access, req)) return refuse('403 Forbidden')
    if (new URL(req.url ?? '/', 'http://dashboard').pathname !== '/ws') return refuse('404 Not Found')
    if (!authorized(req)) {
      return refuse('401 Unauthorized')
    }
    // Browsers do not apply the same-origin policy to WebSockets; another site's page must not read the feed.
    if (!sameOrigin(req)) return refuse('403 Forbidden')
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws))
  })
  return { server, wss }
}

async function publish(broker: Broker, body: Record<string, unknown>): Promise<void> {
  const { topic, payload, qos, retain } = body
  if (typeof topic !== 'string') throw new HttpError(400, 'topic must be a string')
  if (payload !== undefined && typeof payload !== 'string')
    throw new HttpError(400, 'payload must be a string')
  if (qos !== undefined && qos !== 0 && qos !== 1 && qos !== 2)
    throw new HttpError(400, 'qos must be 0, 1 or 2')
  try {
    await broker.publish({ topic, payload: payload ?? '', qos: (qos ?? 0) as QoS, retain: retain === true })
  } catch (error) {
    // The broker checks the topic name (topic-rules.ts); a bad one is the request's fault.
    if (error instanceof InvalidTopicError) throw new HttpError(400, error.message)
    throw error
  }
}

const ACTIONS = new Set(['/api/publish', '/api/disconnect', '/api/reload'])

async function reload(scripting: ScriptingHost | undefined, body: Record<string, unknown>): Promise<void> {
  if (typeof body.name !== 'string') throw new HttpError(400, 'name must be a string')
  if (!scripting || !(await scripting.reload(body.name))) throw new HttpError(404, 'no such script')
}

/** Characters of an expression kept in the log line. */
const LOGGED_EXPRESSION = 500

async function evaluate(
  broker: Broker,
  scripting: ScriptingHost | undefined,
  body: Record<string, unknown>,
  user: string,
  address: string,
): Promise<ConsoleReply> {
  const { name, expression } = body
  if (typeof name !== 'string') throw new HttpError(400, 'name must be a string')
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new HttpError(400, 'expression must be a non-empty string')
  }
  if (!scripting) throw new HttpError(404, 'no such script')
  const logged =
    expression.length > LOGGED_EXPRESSION ? `${expression.slice(0, LOGGED_EXPRESSION)}…` : expression
  broker.logger.info(
    { component: 'dashboard', user, address, script: name, expression: logged },
    'script console evaluation',
  )
  return scripting.evaluate(name, expression)
}

function disconnect(broker: Broker, body: Record<string, unknown>): void {
  if (typeof body.clientId !== 'string') throw new HttpError(400, 'clientId must be a string')
  if (!broker.disconnectClient(body.clientId, 'disconnected from the dashboard')) {
    throw new HttpError(404, 'no such client')
  }
}
