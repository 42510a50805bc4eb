/**
 * Helpers for the dashboard tests: a broker with the dashboard on free ports, MQTT.js clients,
 * fetch wrappers for its JSON views and actions, and a reader for its WebSocket feed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import WebSocket from 'ws'
import {
  type Broker,
  type StartOptions,
  startBroker,
  startWeb,
  type WebOptions,
  webOf,
} from '../src/index.ts'
import { defined } from './defined.ts'

/** Failure guard for every wait; never a timing assertion. */
export const TIMEOUT = 30_000

export interface WebEnv {
  broker: Broker
  /** http://127.0.0.1:<port> of the dashboard. */
  base: string
  mqttUrl: string
  /** Authorization header value when the env was started with a user. */
  auth: string | undefined
  client(options?: IClientOptions): Promise<MqttClient>
  view<T>(name: string, query?: Record<string, string>): Promise<T>
  post(path: string, body: unknown): Promise<Response>
}

interface Cleanup {
  after(fn: () => unknown): void
}

/**
 * Starts a broker with `http: 0`; `files` become a scripts folder when given. With `web`, the
 * dashboard is started by startWeb with those options instead.
 */
export async function startWebEnv(
  t: Cleanup,
  options: StartOptions & { files?: Record<string, string>; web?: Omit<WebOptions, 'port'> } = {},
): Promise<WebEnv> {
  const { files, web: webOptions, ...rest } = options
  let scripts: string | undefined
  if (files !== undefined) {
    scripts = await mkdtemp(join(tmpdir(), 'tinymqtt-web-'))
    for (const [name, code] of Object.entries(files)) await writeFile(join(scripts, name), code)
  }
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    ...(webOptions === undefined ? { http: 0 } : {}),
    ...(scripts === undefined ? {} : { scripts }),
    ...rest,
  })
  const clients: MqttClient[] = []
  t.after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)))
    await broker.close()
    if (scripts !== undefined) await rm(scripts, { recursive: true, force: true })
  })
  if (webOptions !== undefined) await startWeb(broker, { port: 0, ...webOptions })
  const web = webOf(broker)
  if (web === undefined) throw new Error('dashboard not started')
  const base = `http://127.0.0.1:${web.port}`
  const auth =
    options.user === undefined
      ? undefined
      : `Basic ${Buffer.from(`${options.user}:${options.pass ?? ''}`).toString('base64')}`
  const headers = (): Record<string, string> => (auth === undefined ? {} : { authorization: auth })
  return {
    broker,
    base,
    mqttUrl: `mqtt://127.0.0.1:${broker.port}`,
    auth,
    async client(clientOptions = {}) {
      const c = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
        reconnectPeriod: 0,
        ...(options.user === undefined ? {} : { username: options.user, password: options.pass ?? '' }),
        ...clientOptions,
      })
      clients.push(c)
      return c
    },
    async view<T>(name: string, query: Record<string, string> = {}) {
      const res = await fetch(`${base}/api/view/${name}?${new URLSearchParams(query)}`, {
        headers: headers(),
      })
      if (!res.ok) throw new Error(`GET view ${name}: ${res.status}`)
      return (await res.json()) as T
    },
    post(path: string, body: unknown) {
      return fetch(`${base}${path}`, {
        method: 'POST',
        headers: { ...headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    },
  }
}

/** Polls `read` until `accept` passes (the dashboard indexes new topics on its tick). */
export async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + TIMEOUT
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await read()
    if (accept(last)) return last
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`)
}

/**
 * Subscribes to `topic` and, once the broker has acknowledged, returns `next`, a promise of the next
 * message on it (so a publish made afterwards cannot race the subscription).
 */
export async function listen(
  client: MqttClient,
  topic: string,
): Promise<{ next: Promise<{ payload: string; retain: boolean }> }> {
  const received = new Promise<{ payload: string; retain: boolean }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic}`)), TIMEOUT)
    const onMessage = (t: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (t !== topic) return
      clearTimeout(timer)
      client.off('message', onMessage)
      resolve({ payload: payload.toString(), retain: packet.retain })
    }
    client.on('message', onMessage)
  })
  await client.subscribeAsync(topic)
  // Wrapped: an async function returning a bare promise would wait for the message itself.
  return { next: received }
}

/** A WebSocket to the live feed that keeps the frames it receives. */
export async function openFeed(
  t: Cleanup,
  env: WebEnv,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; next(accept: (frame: FeedFrame) => boolean): Promise<FeedFrame> }> {
  const ws = new WebSocket(`${env.base.replace('http', 'ws')}/ws`, {
    headers: { ...(env.auth === undefined ? {} : { authorization: env.auth }), ...headers },
  })
  t.after(() => ws.terminate())
  const frames: FeedFrame[] = []
  const waiters: (() => void)[] = []
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as FeedFrame)
    for (const w of waiters.splice(0)) w()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    async next(accept) {
      const deadline = Date.now() + TIMEOUT
      for (;;) {
        const index = frames.findIndex(accept)
        if (index >= 0) return defined(frames.splice(0, index + 1).pop(), 'frames.splice(0, index + 1).pop()')
        frames.length = 0
        const left = deadline - Date.now()
        if (left <= 0) throw new Error('no matching feed frame')
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left)
          waiters.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
  }
}

export interface FeedFrame {
  request: { view: string; offset: number; filter: string; expanded: string[] }
  data: Record<string, unknown>
}

/**
 * Publishes QoS 0 messages on `flood/0` … `flood/<topics - 1>` as fast as the client sends,
 * until `stop` (bounded by 2,000,000 messages and TIMEOUT): a broker above any small record
 * budget. `stop` returns once the broker has routed all of them.
 */
export function startFlood(client: MqttClient, topics: number): { stop(): Promise<void> } {
  let flooding = true
  let sent = 0
  const done = (async () => {
    const deadline = Date.now() + TIMEOUT
    while (flooding && sent < 2_000_000 && Date.now() < deadline) {
      for (let i = 0; i < 200; i++, sent++) client.publish(`flood/${sent % topics}`, String(sent))
      // Not more than a MiB ahead of the broker, so that it is quiet soon after `stop`.
      while (client.stream.writableLength > 1 << 20) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setImmediate(r))
    }
  })()
  return {
    async stop() {
      flooding = false
      await done
      // Acknowledged once the broker has routed everything sent before it.
      await client.publishAsync('flood/0', 'end', { qos: 1 })
    },
  }
}

/** Publishes to `ping` and returns what a script answers on `pong` (the scripts in the editor tests). */
export async function pingReply(client: MqttClient): Promise<string> {
  const pong = await listen(client, 'pong')
  await client.publishAsync('ping', '')
  const reply = (await pong.next).payload
  await client.unsubscribeAsync('pong')
  return reply
}
