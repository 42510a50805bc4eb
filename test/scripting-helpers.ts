import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { Broker } from '../src/broker/broker.ts'
import { type ScriptingHost, type ScriptingOptions, startScripting } from '../src/scripting/index.ts'
import { MemoryStore } from '../src/store/memory.ts'

/** Every wait's failure guard: generous, because a busy machine is slow, and never a timing assertion. */
export const GUARD_MS = 30_000

export interface LogLine {
  level: number
  msg?: string
  script?: string
  [key: string]: unknown
}

/** Collects the broker's log lines so tests can wait for what scripts print. */
export class LogCapture {
  readonly lines: LogLine[] = []
  private waiters: Array<() => void> = []
  readonly logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        this.lines.push(JSON.parse(line) as LogLine)
        for (const w of this.waiters) w()
      },
    },
  )

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(predicate)
  }

  /** Resolves with the first line matching; rejects after `timeoutMs` (a failure guard, not an assertion on timing). */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs = GUARD_MS, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.slice(from).find(predicate)
        if (!hit) return
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== check)
        resolve(hit)
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check)
        reject(new Error(`timed out waiting for a log line; last lines:\n${this.tail()}`))
      }, timeoutMs)
      this.waiters.push(check)
      check()
    })
  }

  tail(n = 15): string {
    return this.lines
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n')
  }
}

export interface ScriptEnv {
  broker: Broker
  host: ScriptingHost
  dir: string
  log: LogCapture
  url: string
  client(opts?: { clientId?: string; username?: string; password?: string }): Promise<MqttClient>
  write(name: string, code: string): Promise<void>
  close(): Promise<void>
}

/** A broker on a free port with `files` written into a fresh temp folder and loaded as scripts. */
export async function startEnv(
  files: Record<string, string>,
  options: Omit<ScriptingOptions, 'path'> = {},
): Promise<ScriptEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-scripts-'))
  for (const [name, code] of Object.entries(files)) await writeFile(join(dir, name), code)
  const log = new LogCapture()
  const broker = new Broker({ port: 0, host: '127.0.0.1', logger: log.logger, store: new MemoryStore() })
  await broker.start()
  const clients: MqttClient[] = []
  let host: ScriptingHost
  try {
    host = await startScripting(broker, { path: dir, ...options })
  } catch (e) {
    await broker.close()
    await rm(dir, { recursive: true, force: true })
    throw e
  }
  return {
    broker,
    host,
    dir,
    log,
    get url() {
      return `mqtt://127.0.0.1:${broker.port}`
    },
    async client(opts = {}) {
      const c = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0, ...opts })
      clients.push(c)
      return c
    },
    write: (name, code) => writeFile(join(dir, name), code),
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)))
      await host.close()
      await broker.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Subscribes and resolves with the next message on `topic` whose payload passes `accept`. */
export async function nextMessage(
  client: MqttClient,
  topic: string,
  accept: (payload: string) => boolean = () => true,
  timeoutMs = GUARD_MS,
): Promise<{ topic: string; payload: Buffer; retain: boolean }> {
  const result = new Promise<{ topic: string; payload: Buffer; retain: boolean }>((resolve, reject) => {
    const onMessage = (t: string, payload: Buffer, packet: { retain?: boolean }) => {
      if (t !== topic || !accept(payload.toString())) return
      clearTimeout(timer)
      client.off('message', onMessage)
      resolve({ topic: t, payload, retain: packet.retain === true })
    }
    const timer = setTimeout(() => {
      client.off('message', onMessage)
      reject(new Error(`timed out waiting for a message on ${topic}`))
    }, timeoutMs)
    client.on('message', onMessage)
  })
  await client.subscribeAsync(topic)
  return result
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

/** Collects every message on `filter` into an array. */
export async function collect(
  client: MqttClient,
  filter: string,
): Promise<Array<{ topic: string; payload: string }>> {
  const got: Array<{ topic: string; payload: string }> = []
  client.on('message', (topic, payload) => {
    if (topicMatches(filter, topic)) got.push({ topic, payload: payload.toString() })
  })
  await client.subscribeAsync(filter)
  return got
}

/** Polls `cond` until true; rejects after `timeoutMs` (failure guard). */
export async function until(cond: () => boolean, what: string, timeoutMs = GUARD_MS): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A client that keeps exchanging messages with itself through the broker, counting round trips. */
export async function startTraffic(env: ScriptEnv): Promise<{ rounds(): number; stop(): Promise<void> }> {
  const c = await env.client()
  await c.subscribeAsync('traffic/echo')
  let rounds = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const got = new Promise<void>((resolve) => c.once('message', () => resolve()))
      await c.publishAsync('traffic/echo', String(rounds))
      await got
      rounds++
    }
  })()
  return {
    rounds: () => rounds,
    async stop() {
      running = false
      await loop
    },
  }
}
