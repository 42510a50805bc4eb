/**
 * Live-socket fuzzing, shared by test/broker-fuzz-live.test.ts (bounded) and scripts/fuzz.ts
 * (`--live`): hostile raw sockets — random bytes, mutated sessions, huge remaining lengths,
 * slowloris CONNECTs, MQTT 5 property garbage, PUBLISH before CONNECT — run against a broker
 * while a healthy MQTT.js pair exchanges QoS 1 messages.
 */
import net from 'node:net'
import fc from 'fast-check'
import mqtt, { type MqttClient } from 'mqtt'
import {
  type AnyPacket,
  connectArb,
  encode,
  garbageConnect5Arb,
  garbagePackets5Arb,
  MAX_REMAINING_LENGTH,
  mutate,
  mutationArb,
  packetOf,
  sessionArb,
  sessionBytes,
  split,
  VERSIONS,
} from './fuzz-packets.ts'
import { encodeLength } from './helpers.ts'

/** What one hostile socket does: write `chunks` with `pauseMs` between them, then wait. */
export interface HostilePlan {
  name: string
  chunks: Buffer[]
  pauseMs: number
}

/** Hostile CONNECTs ask for a 1 s keepalive, so one the broker accepts still goes away soon. */
const shortKeepalive = (p: AnyPacket): AnyPacket => ({ ...p, keepalive: 1 }) as AnyPacket

const validConnectArb = fc
  .constantFrom(...VERSIONS)
  .chain((v) => connectArb(v).map((c) => encode(shortKeepalive(c), v)))

const chunked = (name: string, pauseMs = 0) =>
  fc.tuple(fc.array(fc.nat(), { maxLength: 4 })).map(
    ([cuts]) =>
      (data: Buffer): HostilePlan => ({ name, chunks: split(data, cuts), pauseMs }),
  )

function plan(name: string, data: fc.Arbitrary<Buffer>, pauseMs = 0): fc.Arbitrary<HostilePlan> {
  return fc.tuple(data, chunked(name, pauseMs)).map(([bytes, make]) => make(bytes))
}

export const hostilePlanArb: fc.Arbitrary<HostilePlan> = fc.oneof(
  plan(
    'random bytes',
    fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((a) => Buffer.from(a)),
  ),
  plan(
    'mutated session',
    fc
      .record({ session: sessionArb, mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) })
      .map(({ session, mutations }) =>
        mutate(sessionBytes({ ...session, connect: shortKeepalive(session.connect) }), mutations),
      ),
  ),
  plan(
    'huge remaining length',
    fc
      .record({
        afterConnect: fc.option(validConnectArb, { nil: undefined }),
        tail: fc.uint8Array({ maxLength: 64 }),
      })
      .map(({ afterConnect, tail }) =>
        Buffer.concat([
          afterConnect ?? Buffer.alloc(0),
          Buffer.from([afterConnect ? 0x30 : 0x10]),
          encodeLength(MAX_REMAINING_LENGTH),
          tail,
        ]),
      ),
  ),
  plan(
    'large packet that never finishes',
    fc
      .record({
        afterConnect: fc.option(validConnectArb, { nil: undefined }),
        tail: fc.uint8Array({ maxLength: 2000 }),
      })
      .map(({ afterConnect, tail }) =>
        Buffer.concat([
          afterConnect ?? Buffer.alloc(0),
          Buffer.from([afterConnect ? 0x30 : 0x10]),
          encodeLength(1_500_000),
          tail,
        ]),
      ),
  ),
  // One byte at a time with pauses, stopping before the CONNECT is complete.
  fc
    .record({ connect: validConnectArb, keep: fc.nat(), pauseMs: fc.integer({ min: 10, max: 80 }) })
    .map(({ connect, keep, pauseMs }) => ({
      name: 'slowloris CONNECT',
      chunks: [...connect.subarray(0, Math.min(keep % connect.length, 30))].map((b) => Buffer.from([b])),
      pauseMs,
    })),
  plan('MQTT 5 CONNECT with garbage properties', garbageConnect5Arb),
  plan('MQTT 5 packets with garbage properties', garbagePackets5Arb),
  plan(
    'PUBLISH before CONNECT',
    fc
      .record({
        topic: fc.string({ minLength: 1, maxLength: 10 }),
        payload: fc.uint8Array({ maxLength: 50 }),
      })
      .map(({ topic, payload }) =>
        encode(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId: 1 } as AnyPacket,
          4,
        ),
      ),
  ),
  plan(
    'CONNECT of an unknown protocol level',
    fc
      .integer({ min: 0, max: 255 })
      .filter((l) => l < 3 || l > 5)
      .map((level) =>
        packetOf(
          0x10,
          Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([level, 2, 0, 1, 0, 0])]),
        ),
      ),
  ),
)

export interface HostileOutcome {
  name: string
  /** The broker closed the socket (FIN or reset) before the guard ran out. */
  closedByBroker: boolean
  /** The broker answered CONNACK with code 0: the bytes held a valid CONNECT. */
  accepted: boolean
}

/** Runs one hostile socket; never rejects. */
export function runHostile(port: number, p: HostilePlan, guardMs: number): Promise<HostileOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let received = Buffer.alloc(0)
    let closed = false
    let guard: NodeJS.Timeout | undefined
    const finish = (closedByBroker: boolean): void => {
      clearTimeout(guard)
      // CONNACK: 0x20, remaining length, flags, return/reason code.
      const accepted = received.length >= 4 && received[0] === 0x20 && received[3] === 0
      socket.destroy()
      resolve({ name: p.name, closedByBroker, accepted })
    }
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 16) received = Buffer.concat([received, chunk]).subarray(0, 16)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      closed = true
      finish(true)
    })
    socket.once('connect', async () => {
      for (const chunk of p.chunks) {
        if (closed) return
        socket.write(chunk)
        if (p.pauseMs > 0) await new Promise((r) => setTimeout(r, p.pauseMs))
      }
      if (!closed) guard = setTimeout(() => finish(false), guardMs)
    })
  })
}

/**
 * A healthy publisher/subscriber pair on its own topic: `count` QoS 1 messages, the payload
 * their index. Resolves with the payloads the subscriber got, in arrival order.
 */
export class HealthyPair {
  readonly received: string[] = []
  private constructor(
    readonly publisher: MqttClient,
    readonly subscriber: MqttClient,
    readonly topic: string,
  ) {
    subscriber.on('message', (t, payload) => {
      if (t === topic) this.received.push(payload.toString())
    })
  }

  static async open(port: number, topic: string, protocolVersion: 4 | 5 = 4): Promise<HealthyPair> {
    const options = { host: '127.0.0.1', port, reconnectPeriod: 0, protocolVersion, connectTimeout: 5000 }
    const subscriber = await mqtt.connectAsync({
      ...options,
      clientId: `healthy-sub-${process.pid}-${topic}`,
    })
    const publisher = await mqtt.connectAsync({ ...options, clientId: `healthy-pub-${process.pid}-${topic}` })
    await subscriber.subscribeAsync(topic, { qos: 1 })
    return new HealthyPair(publisher, subscriber, topic)
  }

  /** Publishes `count` messages one after another, yielding to the event loop every `every`. */
  async exchange(from: number, count: number, every = 10): Promise<void> {
    for (let i = from; i < from + count; i++) {
      await this.publisher.publishAsync(this.topic, String(i), { qos: 1 })
      if (i % every === 0) await new Promise((r) => setTimeout(r, 5))
    }
  }

  /** Resolves once `count` messages arrived (or the guard runs out; the caller checks). */
  async settle(count: number, guardMs: number): Promise<void> {
    const deadline = Date.now() + guardMs
    while (this.received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher.endAsync(), this.subscriber.endAsync()])
  }
}

/** What went wrong with the healthy messages 0 … count-1: lost, repeated or reordered. */
export function deliveryProblems(received: readonly string[], count: number): string[] {
  const problems: string[] = []
  const expected = Array.from({ length: count }, (_, i) => String(i))
  if (received.length !== count) problems.push(`received ${received.length} of ${count} messages`)
  const firstDiff = expected.findIndex((e, i) => received[i] !== e)
  if (firstDiff >= 0) problems.push(`message ${firstDiff} was ${JSON.stringify(received[firstDiff])}`)
  return problems
}
