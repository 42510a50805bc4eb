/**
 * Helpers for the MQTT 5 black-box suite (issue 5): a raw MQTT 5 client over `net` that builds
 * and parses packets with mqtt-packet (so reason codes, properties and topic aliases can be
 * checked on the wire), MQTT.js conveniences for protocol version 5, and the mosquitto tool check.
 *
 * Nothing here imports the broker's internals; tests talk to it over TCP on 127.0.0.1.
 */
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket as MqttJsPublish } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import type { BrokerOptions } from '../src/broker/types.ts'
import { type Broker, startBroker } from '../src/index.ts'
import { openRaw } from './helpers.ts'

export type Packet = mqttPacket.Packet
export type Cmd = Packet['cmd']
export type PacketOf<C extends Cmd> = Extract<Packet, { cmd: C }>
export type ConnectProps = NonNullable<mqttPacket.IConnectPacket['properties']>
export type PublishProps = NonNullable<mqttPacket.IPublishPacket['properties']>
export type WillSpec = NonNullable<mqttPacket.IConnectPacket['will']>

/** A failure guard for every wait, never a timing assertion. */
export const TIMEOUT = 30_000

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A unique suffix so client ids and topics never clash between tests. */
export const uid = (): string => Math.random().toString(36).slice(2, 10)

export interface Cleanup {
  after(fn: () => unknown): void
}

/** Starts a silent broker on a free port of 127.0.0.1, closed after the test. */
export async function startTestBroker(t: Cleanup, options: BrokerOptions = {}): Promise<Broker> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...options })
  t.after(() => broker.close())
  return broker
}

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

const V5 = { protocolVersion: 5 }

/** Bytes of a whole packet (fixed header included) from mqtt-packet's remaining `length`. */
export function wireSize(p: Packet): number {
  const len = p.length ?? 0
  return 1 + (len < 128 ? 1 : len < 16_384 ? 2 : len < 2_097_152 ? 3 : 4) + len
}

export function encode(p: Packet): Buffer {
  return mqttPacket.generate(p, V5)
}

/** A raw MQTT 5 connection: packets in are parsed by mqtt-packet and queued until read. */
export class Raw5 {
  readonly socket: net.Socket
  private readonly queue: Packet[] = []
  /** Every packet received, in order (also the ones already read). */
  readonly received: Packet[] = []
  private readonly events = new EventEmitter()
  private ended = false
  parseError: string | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    const parser = mqttPacket.parser(V5)
    parser.on('packet', (p: Packet) => {
      this.queue.push(p)
      this.received.push(p)
      this.events.emit('change')
    })
    parser.on('error', (e: Error) => {
      this.parseError = e.message
      this.events.emit('change')
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.ended = true
      this.events.emit('change')
    })
  }

  static open(port: number, cleanup?: Cleanup): Promise<Raw5> {
    return openRaw(port, (socket) => new Raw5(socket), cleanup)
  }

  /** Opens a connection, sends an MQTT 5 CONNECT and returns the client with its CONNACK. */
  static async connect(
    port: number,
    spec: Partial<Omit<mqttPacket.IConnectPacket, 'cmd'>> = {},
    cleanup?: Cleanup,
  ): Promise<{ client: Raw5; connack: PacketOf<'connack'> }> {
    const client = await Raw5.open(port, cleanup)
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 0,
      clientId: `raw-${uid()}`,
      ...spec,
    })
    const connack = await client.expect('connack')
    return { client, connack }
  }

  get closed(): boolean {
    return this.ended
  }

  send(p: Packet): void {
    this.socket.write(encode(p))
  }

  sendRaw(b: Buffer): void {
    this.socket.write(b)
  }

  async next(timeoutMs = TIMEOUT): Promise<Packet> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const p = this.queue.shift()
      if (p) return p
      if (this.parseError) throw new Error(`could not parse the broker's bytes: ${this.parseError}`)
      if (this.ended) throw new Error('connection closed by the broker while waiting for a packet')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a packet`)
      await once(this.events, 'change', left)
    }
  }

  async expect<C extends Cmd>(cmd: C, timeoutMs = TIMEOUT): Promise<PacketOf<C>> {
    const p = await this.next(timeoutMs)
    if (p.cmd !== cmd) throw new Error(`expected ${cmd}, got ${JSON.stringify(p)}`)
    return p as PacketOf<C>
  }

  /** PINGREQ, then every packet received before the PINGRESP (the broker handled all before it). */
  async pingBarrier(timeoutMs = TIMEOUT): Promise<Packet[]> {
    this.send({ cmd: 'pingreq' })
    const before: Packet[] = []
    for (;;) {
      const p = await this.next(timeoutMs)
      if (p.cmd === 'pingresp') return before
      before.push(p)
    }
  }

  /** Reads until the broker closes the connection; returns what came before the close. */
  async untilClosed(timeoutMs = TIMEOUT): Promise<Packet[]> {
    const got: Packet[] = []
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const p = this.queue.shift()
      if (p) {
        got.push(p)
        continue
      }
      if (this.ended) return got
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`the broker did not close the connection; got ${JSON.stringify(got)}`)
      await once(this.events, 'change', left)
    }
  }

  /** The DISCONNECT the broker sends before closing (asserts the connection then closes). */
  async expectDisconnect(timeoutMs = TIMEOUT): Promise<PacketOf<'disconnect'>> {
    const got = await this.untilClosed(timeoutMs)
    const d = got.find((p): p is PacketOf<'disconnect'> => p.cmd === 'disconnect')
    if (!d) throw new Error(`connection closed without DISCONNECT; got ${JSON.stringify(got)}`)
    return d
  }

  subscribe(
    messageId: number,
    subscriptions: mqttPacket.ISubscription[],
    properties?: mqttPacket.ISubscribePacket['properties'],
  ): Promise<PacketOf<'suback'>> {
    this.send({ cmd: 'subscribe', messageId, subscriptions, properties })
    return this.expect('suback')
  }

  publish(p: {
    topic: string
    payload: string | Buffer
    qos?: 0 | 1 | 2
    retain?: boolean
    dup?: boolean
    messageId?: number
    properties?: PublishProps
  }): void {
    this.send({ cmd: 'publish', dup: false, qos: 0, retain: false, ...p })
  }

  destroy(): void {
    this.socket.destroy()
  }
}

async function once(em: EventEmitter, event: string, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      em.off(event, done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    em.on(event, done)
  })
}

// ---------------------------------------------------------------------------------------------
// MQTT.js with protocolVersion 5

/** Connects MQTT.js with protocol version 5 (no auto-reconnect); ended after the test. */
export async function mqtt5(port: number, opts: IClientOptions = {}, cleanup?: Cleanup): Promise<MqttClient> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT,
    clientId: `js-${uid()}`,
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

export interface Msg {
  topic: string
  payload: Buffer
  packet: MqttJsPublish
}

/** Collects every PUBLISH an MQTT.js client receives, with its packet (properties included). */
export class Inbox5 {
  readonly messages: Msg[] = []
  private readonly events = new EventEmitter()

  constructor(client: MqttClient) {
    client.on('message', (topic: string, payload: Buffer, packet: MqttJsPublish) => {
      this.messages.push({ topic, payload, packet })
      this.events.emit('message')
    })
  }

  async waitFor(pred: (m: Msg) => boolean, what = 'a matching message', timeoutMs = TIMEOUT): Promise<Msg> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = this.messages.find(pred)
      if (m) return m
      const left = deadline - Date.now()
      if (left <= 0) {
        const got = this.messages.map((x) => `${x.topic}:${x.payload.toString()}`).slice(0, 20)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(got)}`)
      }
      await once(this.events, 'message', left)
    }
  }

  /** Publishes a marker from `publisher` and waits for it: all routed before it has arrived. */
  async barrier(publisher: MqttClient, topic: string): Promise<Msg[]> {
    const id = `marker-${uid()}`
    await publisher.publishAsync(topic, id, { qos: 0 })
    await this.waitFor((m) => m.topic === topic && m.payload.toString() === id, `marker on ${topic}`)
    const idx = this.messages.findIndex((m) => m.topic === topic && m.payload.toString() === id)
    const before = this.messages.slice(0, idx)
    this.messages.splice(idx, 1)
    return before
  }
}

export { hasMosquitto, requireMosquitto, runTool, type ToolResult } from './tools.ts'
