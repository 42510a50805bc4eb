/**
 * Test helpers for the black-box broker suite: a raw MQTT 3.1.1 client over `net` with a tiny
 * framer and hand-written encoders (so malformed packets can be produced and the broker's bytes
 * checked exactly), MQTT.js conveniences, a log capture for pino, and event waiters.
 *
 * Nothing here imports the broker's internals; tests talk to it over TCP on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import net from 'node:net'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import pino, { type Logger } from 'pino'
import type { BrokerOptions } from '../src/broker/types.ts'
import { type Broker, startBroker } from '../src/index.ts'
import { defined } from './defined.ts'

/** Default guard for every wait: a failure guard, never a timing assertion. */
export const TIMEOUT = 30_000

/**
 * Opens a TCP connection to the broker under test and wraps the socket at once, so the
 * wrapper hears everything from the first byte; destroyed by `cleanup`.
 */
export function openRaw<C>(port: number, wrap: (socket: net.Socket) => C, cleanup?: Cleanup): Promise<C> {
  return withTimeout(
    new Promise<C>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' })
      const client = wrap(socket)
      cleanup?.after(() => socket.destroy())
      socket.once('connect', () => resolve(client))
      socket.once('error', reject)
    }),
    'a TCP connection',
  )
}

/** Anything with an `after` hook: a node:test TestContext or a suite-level registrar. */
export interface Cleanup {
  after(fn: () => unknown): void
}

// ---------------------------------------------------------------------------------------------
// Waiting

/** Resolves with the arguments of the next `event` (optionally the first one passing `filter`). */
export function waitFor<A extends unknown[] = unknown[]>(
  emitter: EventEmitter | { on(ev: string, fn: (...a: A) => void): unknown; off?: unknown },
  event: string,
  timeoutMs = TIMEOUT,
  filter?: (...args: A) => boolean,
): Promise<A> {
  const em = emitter as EventEmitter
  return new Promise<A>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      if (filter && !filter(...(args as A))) return
      clearTimeout(timer)
      em.off(event, onEvent)
      resolve(args as A)
    }
    const timer = setTimeout(() => {
      em.off(event, onEvent)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`))
    }, timeoutMs)
    em.on(event, onEvent)
  })
}

/** Polls `cond` on every macrotask until true; a guard for conditions without an event. */
export async function until(
  cond: () => boolean,
  what: string | (() => string),
  timeoutMs = TIMEOUT,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) {
      const text = typeof what === 'string' ? what : what()
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${text}`)
    }
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Rejects with a clear message when `p` does not settle within `timeoutMs`. */
export function withTimeout<T>(p: Promise<T>, what: string, timeoutMs = TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    )
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}

/** Resolves once the socket is closed (immediately when it already is). */
export function waitClosed(socket: net.Socket, timeoutMs = TIMEOUT): Promise<void> {
  if (socket.destroyed || socket.closed) return Promise.resolve()
  return withTimeout(
    new Promise<void>((resolve) => socket.once('close', () => resolve())),
    'the socket to be closed',
    timeoutMs,
  )
}

// ---------------------------------------------------------------------------------------------
// Logs

export interface LogRecord {
  level: number
  msg?: string
  [key: string]: unknown
}

export const WARN = 40

/** A pino logger writing JSON lines into memory, with a way to wait for a record. */
export class LogCapture extends EventEmitter {
  readonly records: LogRecord[] = []
  readonly logger: Logger

  constructor(level = 'debug') {
    super()
    this.logger = pino(
      { level },
      {
        write: (line: string): void => {
          for (const part of line.split('\n')) {
            if (part.trim() === '') continue
            const rec = JSON.parse(part) as LogRecord
            this.records.push(rec)
            this.emit('record', rec)
          }
        },
      },
    )
  }

  find(pred: (r: LogRecord) => boolean): LogRecord | undefined {
    return this.records.find(pred)
  }

  /** Resolves with the first record (already logged or future) passing `pred`. */
  async waitFor(pred: (r: LogRecord) => boolean, what: string, timeoutMs = TIMEOUT): Promise<LogRecord> {
    const found = this.find(pred)
    if (found) return found
    try {
      const [rec] = await waitFor<[LogRecord]>(this, 'record', timeoutMs, pred)
      return rec
    } catch {
      throw new Error(`no log record ${what} within ${timeoutMs} ms; got:\n${this.dump()}`)
    }
  }

  dump(): string {
    return this.records.map((r) => JSON.stringify(r)).join('\n')
  }
}

/** The record's text without the fields every record has, for matching a reason. */
export function recordText(r: LogRecord): string {
  const { level: _l, time: _t, pid: _p, hostname: _h, ...rest } = r
  return JSON.stringify(rest)
}

// ---------------------------------------------------------------------------------------------
// Broker

/** Starts a broker on a free port of 127.0.0.1 and closes it after the test (or suite). */
export async function startTestBroker(cleanup: Cleanup, opts: BrokerOptions = {}): Promise<Broker> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...opts })
  cleanup.after(() => broker.close())
  return broker
}

// ---------------------------------------------------------------------------------------------
// Encoding MQTT 3.1 / 3.1.1 packets by hand

export const PT = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const

export const PT_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(PT).map(([k, v]) => [v, k]),
) as Record<number, string>

export function encodeLength(n: number): Buffer {
  const bytes: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    bytes.push(b)
  } while (n > 0)
  return Buffer.from(bytes)
}

/** A packet from its first byte and body; the remaining length is computed. */
export function packet(firstByte: number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from([firstByte]), encodeLength(b.length), b])
}

export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

export interface WillSpec {
  topic: string
  payload: string | Buffer
  qos?: 0 | 1 | 2
  retain?: boolean
}

export interface ConnectSpec {
  clientId?: string
  clean?: boolean
  keepalive?: number
  protocolName?: string
  protocolLevel?: number
  username?: string
  password?: string
  will?: WillSpec
  /** OR-ed into the connect flags byte (e.g. 0x01, the reserved bit). */
  extraFlags?: number
}

export function connect(spec: ConnectSpec = {}): Buffer {
  const {
    clientId = '',
    clean = true,
    keepalive = 60,
    protocolName = 'MQTT',
    protocolLevel = 4,
    username,
    password,
    will,
    extraFlags = 0,
  } = spec
  let flags = extraFlags
  if (clean) flags |= 0x02
  const payload: Buffer[] = [str(clientId)]
  if (will) {
    flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0)
    payload.push(str(will.topic), str(will.payload))
  }
  if (username !== undefined) {
    flags |= 0x80
    payload.push(str(username))
  }
  if (password !== undefined) {
    flags |= 0x40
    payload.push(str(password))
  }
  return packet(0x10, str(protocolName), Buffer.from([protocolLevel, flags]), u16(keepalive), ...payload)
}

export interface PublishSpec {
  topic: string | Buffer
  payload?: string | Buffer
  qos?: 0 | 1 | 2
  retain?: boolean
  dup?: boolean
  packetId?: number
}

export function publish(spec: PublishSpec): Buffer {
  const qos = spec.qos ?? 0
  const first = 0x30 | (spec.dup ? 0x08 : 0) | (qos << 1) | (spec.retain ? 0x01 : 0)
  const parts = [str(spec.topic)]
  if (qos > 0) parts.push(u16(spec.packetId ?? 1))
  const payload = spec.payload ?? ''
  parts.push(typeof payload === 'string' ? Buffer.from(payload) : payload)
  return packet(first, ...parts)
}

export function subscribe(packetId: number, filters: Array<{ topic: string | Buffer; qos: number }>): Buffer {
  return packet(0x82, u16(packetId), ...filters.flatMap((f) => [str(f.topic), Buffer.from([f.qos])]))
}

export function unsubscribe(packetId: number, topics: string[]): Buffer {
  return packet(0xa2, u16(packetId), ...topics.map((t) => str(t)))
}

export const puback = (id: number): Buffer => packet(0x40, u16(id))
export const pubrec = (id: number): Buffer => packet(0x50, u16(id))
export const pubrel = (id: number): Buffer => packet(0x62, u16(id))
export const pubcomp = (id: number): Buffer => packet(0x70, u16(id))
export const PINGREQ = Buffer.from([0xc0, 0x00])
export const DISCONNECT = Buffer.from([0xe0, 0x00])

// ---------------------------------------------------------------------------------------------
// Decoding what the broker sends

export interface RawPacket {
  type: number
  flags: number
  /** Everything after the fixed header. */
  body: Buffer
  /** The whole packet as received, fixed header included. */
  raw: Buffer
}

export interface Connack {
  sessionPresent: boolean
  returnCode: number
}

export function decodeConnack(p: RawPacket): Connack {
  if (p.type !== PT.CONNACK) throw new Error(`expected CONNACK, got ${PT_NAME[p.type] ?? p.type}`)
  return {
    sessionPresent: (defined(p.body[0], 'p.body[0]') & 0x01) === 1,
    returnCode: defined(p.body[1], 'p.body[1]'),
  }
}

export interface DecodedPublish {
  dup: boolean
  qos: number
  retain: boolean
  topic: string
  packetId: number | undefined
  payload: Buffer
}

export function decodePublish(p: RawPacket): DecodedPublish {
  if (p.type !== PT.PUBLISH) throw new Error(`expected PUBLISH, got ${PT_NAME[p.type] ?? p.type}`)
  const qos = (p.flags >> 1) & 0x03
  const tlen = p.body.readUInt16BE(0)
  const topic = p.body.subarray(2, 2 + tlen).toString('utf8')
  let pos = 2 + tlen
  let packetId: number | undefined
  if (qos > 0) {
    packetId = p.body.readUInt16BE(pos)
    pos += 2
  }
  return {
    dup: (p.flags & 0x08) !== 0,
    qos,
    retain: (p.flags & 0x01) !== 0,
    topic,
    packetId,
    payload: p.body.subarray(pos),
  }
}

export function decodeSuback(p: RawPacket): { packetId: number; codes: number[] } {
  if (p.type !== PT.SUBACK) throw new Error(`expected SUBACK, got ${PT_NAME[p.type] ?? p.type}`)
  return { packetId: p.body.readUInt16BE(0), codes: [...p.body.subarray(2)] }
}

/** Packet id of a PUBACK / PUBREC / PUBREL / PUBCOMP / UNSUBACK. */
export function ackId(p: RawPacket): number {
  return p.body.readUInt16BE(0)
}

// ---------------------------------------------------------------------------------------------
// Raw client

/** A raw TCP connection with a tiny MQTT framer; packets are queued until read with next(). */
export class RawClient {
  readonly socket: net.Socket
  private buf: Buffer = Buffer.alloc(0)
  private readonly queue: RawPacket[] = []
  private readonly events = new EventEmitter()
  private ended = false
  /** Set when the bytes from the broker cannot be framed (a broker bug). */
  frameError: string | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.ended = true
      this.events.emit('change')
    })
  }

  static open(port: number, cleanup?: Cleanup): Promise<RawClient> {
    return openRaw(port, (socket) => new RawClient(socket), cleanup)
  }

  /** Opens a connection, sends CONNECT and returns the client with its CONNACK. */
  static async connect(
    port: number,
    spec: ConnectSpec,
    cleanup?: Cleanup,
  ): Promise<{ client: RawClient; connack: Connack }> {
    const client = await RawClient.open(port, cleanup)
    await client.send(connect(spec))
    const connack = decodeConnack(await client.next())
    return { client, connack }
  }

  get closed(): boolean {
    return this.ended
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    for (;;) {
      if (this.buf.length < 2) break
      let len = 0
      let mult = 1
      let i = 1
      let complete = false
      for (; i < this.buf.length && i <= 4; i++) {
        const b = defined(this.buf[i], 'this.buf[i]')
        len += (b & 0x7f) * mult
        mult *= 128
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete) {
        if (i > 4) this.frameError = 'remaining length longer than 4 bytes from the broker'
        break
      }
      const headerLen = i + 1
      if (this.buf.length < headerLen + len) break
      const raw = this.buf.subarray(0, headerLen + len)
      this.buf = this.buf.subarray(headerLen + len)
      const first = defined(raw[0], 'raw[0]')
      this.queue.push({ type: first >> 4, flags: first & 0x0f, body: raw.subarray(headerLen), raw })
    }
    this.events.emit('change')
  }

  send(data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()))
    })
  }

  /** Writes `data` one byte per write, waiting for each write to be flushed. */
  async sendBytewise(data: Buffer): Promise<void> {
    for (let i = 0; i < data.length; i++) {
      await this.send(data.subarray(i, i + 1))
      await new Promise((r) => setImmediate(r))
    }
  }

  /** The next packet from the broker; rejects when the connection closes or on timeout. */
  async next(timeoutMs = TIMEOUT): Promise<RawPacket> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const p = this.queue.shift()
      if (p) return p
      if (this.ended) throw new Error('connection closed by the broker while waiting for a packet')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a packet`)
      await waitFor(this.events, 'change', left).catch(() => undefined)
    }
  }

  /** The next packet, asserted to be of `type`. */
  async expect(type: number, timeoutMs = TIMEOUT): Promise<RawPacket> {
    const p = await this.next(timeoutMs)
    if (p.type !== type) {
      throw new Error(
        `expected ${PT_NAME[type]}, got ${PT_NAME[p.type] ?? `type ${p.type}`} (${p.raw.toString('hex')})`,
      )
    }
    return p
  }

  /** The next PUBLISH, decoded. */
  async nextPublish(timeoutMs = TIMEOUT): Promise<DecodedPublish> {
    return decodePublish(await this.expect(PT.PUBLISH, timeoutMs))
  }

  /**
   * Sends PINGREQ and returns every packet received before the PINGRESP: once the PINGRESP
   * arrives, the broker has processed everything sent before it.
   */
  async pingBarrier(timeoutMs = TIMEOUT): Promise<RawPacket[]> {
    await this.send(PINGREQ)
    const before: RawPacket[] = []
    for (;;) {
      const p = await this.next(timeoutMs)
      if (p.type === PT.PINGRESP) return before
      before.push(p)
    }
  }

  /** Packets already received and not yet read. */
  drain(): RawPacket[] {
    return this.queue.splice(0)
  }

  waitClosed(timeoutMs = TIMEOUT): Promise<void> {
    if (this.ended) return Promise.resolve()
    return waitClosed(this.socket, timeoutMs)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

// ---------------------------------------------------------------------------------------------
// MQTT.js

/** Connects an MQTT.js client (no auto-reconnect) and resolves on CONNACK; ended after the test. */
export async function mqttConnect(
  port: number,
  opts: IClientOptions = {},
  cleanup?: Cleanup,
): Promise<MqttClient> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT,
    ...opts,
  })
  cleanup?.after(() => client.end(true))
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
      client.once('close', () => reject(new Error('connection closed before CONNACK')))
    }),
    'CONNACK',
  )
  client.on('error', () => {})
  return client
}

/** Connects an MQTT.js client and resolves with the CONNACK error instead (e.g. code 4 or 5). */
export function mqttConnectRefused(
  port: number,
  opts: IClientOptions = {},
): Promise<{ code: number | undefined }> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT,
    ...opts,
  })
  return withTimeout(
    new Promise<{ code: number | undefined }>((resolve, reject) => {
      client.once('connect', () => {
        client.end(true)
        reject(new Error('connection was accepted'))
      })
      client.once('error', (err: Error & { code?: number | string }) => {
        client.end(true)
        resolve({ code: typeof err.code === 'number' ? err.code : undefined })
      })
    }),
    'the CONNACK refusal',
  )
}

export interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
  dup: boolean
}

/** Collects every message an MQTT.js client receives. */
export class Inbox {
  readonly messages: Received[] = []
  private readonly events = new EventEmitter()

  constructor(client: MqttClient) {
    client.on('message', (topic: string, payload: Buffer, pkt: IPublishPacket) => {
      this.messages.push({
        topic,
        payload: payload.toString(),
        qos: pkt.qos,
        retain: pkt.retain,
        dup: pkt.dup,
      })
      this.events.emit('message')
    })
  }

  /** Resolves with the first message (already received or future) passing `pred`. */
  async waitFor(
    pred: (m: Received) => boolean,
    what = 'a matching message',
    timeoutMs = TIMEOUT,
  ): Promise<Received> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = this.messages.find(pred)
      if (m) return m
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(0, 20))}`)
      }
      await waitFor(this.events, 'message', left).catch(() => undefined)
    }
  }

  /** Resolves once at least `n` messages were received. */
  async waitCount(n: number, timeoutMs = TIMEOUT): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs
    while (this.messages.length < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out with ${this.messages.length} of ${n} messages`)
      await waitFor(this.events, 'message', left).catch(() => undefined)
    }
    return this.messages
  }

  topics(): string[] {
    return this.messages.map((m) => m.topic)
  }
}

/**
 * Publishes a QoS 0 marker from `publisher` and waits until `inbox` has it: everything published
 * to the same subscriber before it was routed before it. Returns the messages before the marker.
 */
export async function markerBarrier(publisher: MqttClient, inbox: Inbox, topic: string): Promise<Received[]> {
  const id = `marker-${Math.random().toString(36).slice(2)}`
  await publisher.publishAsync(topic, id, { qos: 0 })
  await inbox.waitFor((m) => m.topic === topic && m.payload === id, `marker ${id} on ${topic}`)
  const idx = inbox.messages.findIndex((m) => m.topic === topic && m.payload === id)
  const before = inbox.messages.slice(0, idx)
  inbox.messages.splice(idx, 1)
  return before
}

/** A free TCP port on 127.0.0.1 (for the CLI, which needs one on its command line). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// A reference topic matcher (MQTT 3.1.1 §4.7), to compute what the broker should deliver

export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

/** Topics and filters with edge cases: empty levels, leading/trailing '/', '$', non-ASCII. */
export const MATRIX_TOPICS = [
  'a',
  'a/b',
  'a/b/c',
  'a//b',
  'a/',
  '/x',
  '/',
  'x/y/z',
  '$SYS/a',
  '$sys',
  'ü/ñ/日本',
  'A/b',
  'a b/c',
]
export const MATRIX_FILTERS = [
  '#',
  '+',
  '+/+',
  'a/#',
  'a/+',
  'a/+/b',
  'a/+/#',
  '+/x',
  '/#',
  '$SYS/#',
  '$SYS/+',
  '+/b',
  'a/b/c',
  'ü/+/日本',
  '+/+/+',
  'a b/+',
]

/** A child process whose stdout and stderr are collected; killed (SIGKILL) when the test ends if still running. */
export interface CollectingProcess {
  child: ChildProcess
  output: () => string
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>
}

export function spawnCollecting(t: Cleanup, command: string, args: string[], cwd: string): CollectingProcess {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, output: () => output, exited }
}
