/**
 * Fuzzing material for the MQTT input path, shared by test/protocol-fuzz.test.ts (bounded runs
 * in `npm test`), test/broker-fuzz-live.test.ts and scripts/fuzz.ts (long runs): fast-check
 * arbitraries for every packet type of MQTT 3.1, 3.1.1 and 5, encoded with mqtt-packet's
 * generator; mutations of encoded streams; and a harness that feeds bytes through the
 * broker's framer and decoder the way a connection does.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import { decodeConnect, decodePacket } from '../src/broker/protocol/decode.ts'
import { ProtocolError } from '../src/broker/protocol/errors.ts'
import { Framer } from '../src/broker/protocol/framer.ts'
import { PacketType } from '../src/broker/protocol/packets.ts'
import type { ProtocolVersion } from '../src/broker/types.ts'
import { defined } from './defined.ts'
import { encodeLength } from './helpers.ts'

export const VERSIONS: readonly ProtocolVersion[] = [3, 4, 5]

/** The largest remaining length MQTT can express (four 7-bit groups). */
export const MAX_REMAINING_LENGTH = 268_435_455

/** Seed and run count for `npm test`; FUZZ_SEED / FUZZ_RUNS replay or widen a run. */
export function fuzzSettings(defaultRuns: number): { seed: number; numRuns: number } {
  const seed = process.env.FUZZ_SEED === undefined ? 0x5eed : Number(process.env.FUZZ_SEED)
  const numRuns = process.env.FUZZ_RUNS === undefined ? defaultRuns : Number(process.env.FUZZ_RUNS)
  return { seed, numRuns }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/*
 * Strings: any code point but U+0000 (which MQTT forbids [MQTT-1.5.4-2]) and U+FFFD, which the
 * MQTT 5 decoder takes as mqtt-packet's mark for ill-formed UTF-8 and so refuses even when a
 * client sent it well-formed (see decode.ts, hasReplacementChar).
 */
const text = (maxLength = 12): fc.Arbitrary<string> =>
  fc
    .string({ unit: 'binary', maxLength })
    .filter((s) => !s.includes('\u0000') && !s.includes('\uFFFD') && Buffer.byteLength(s) < 65_536)
const nonEmptyText = (maxLength = 12): fc.Arbitrary<string> => text(maxLength).filter((s) => s.length > 0)
const bytes = (maxLength = 64): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((a) => Buffer.from(a))
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const messageId = fc.integer({ min: 1, max: 0xffff })
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>

/** Distinct plain keys, one string value each: mqtt-packet turns repeated keys into arrays. */
const userProperties = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), text(8), {
  minKeys: 1,
  maxKeys: 3,
})

/** An object of optional fields, with absent ones left out and none at all as undefined. */
function optionalRecord<T extends Record<string, unknown>>(
  model: {
    [K in keyof T]: fc.Arbitrary<T[K]>
  },
): fc.Arbitrary<Partial<T> | undefined> {
  const record = fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Partial<T>>
  return record.map((r) => (Object.keys(r).length === 0 ? undefined : r))
}

/** Drops keys whose value is undefined, so packets compare by the fields they really have. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

export type AnyPacket = mqttPacket.Packet

function connectArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  const v5 = version === 5
  const will = fc.record({
    topic: nonEmptyText(),
    payload: bytes(),
    qos,
    retain: fc.boolean(),
    properties: v5
      ? optionalRecord({
          willDelayInterval: u32,
          payloadFormatIndicator: fc.boolean(),
          messageExpiryInterval: u32,
          contentType: text(),
          responseTopic: nonEmptyText(),
          correlationData: bytes(16),
          userProperties,
        })
      : fc.constant(undefined),
  })
  return fc
    .record({
      // MQTT 3.1 wants a client id of 1 to 23 characters [MQTT 3.1, 3.1].
      clientId: version === 3 ? nonEmptyText(23) : text(23),
      clean: fc.boolean(),
      keepalive: u16,
      will: fc.option(will, { nil: undefined }),
      username: fc.option(text(), { nil: undefined }),
      password: fc.option(bytes(16), { nil: undefined }),
      properties: v5
        ? optionalRecord({
            sessionExpiryInterval: u32,
            receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
            maximumPacketSize: fc.integer({ min: 1, max: 0xffff_ffff }),
            topicAliasMaximum: u16,
            requestResponseInformation: fc.boolean(),
            requestProblemInformation: fc.boolean(),
            userProperties,
          })
        : fc.constant(undefined),
    })
    .map((r) =>
      compact({
        cmd: 'connect' as const,
        protocolId: version === 3 ? ('MQIsdp' as const) : ('MQTT' as const),
        protocolVersion: version,
        clientId: r.clientId,
        // An empty client id needs a clean session [MQTT-3.1.3-7].
        clean: r.clean || r.clientId === '',
        keepalive: r.keepalive,
        will: r.will ? compact(r.will) : undefined,
        username: r.username,
        // MQTT 3.x allows a password only with a user name [MQTT-3.1.2-22]; mqtt-packet's
        // generator insists on that for MQTT 5 too.
        password: r.username !== undefined ? r.password : undefined,
        properties: r.properties,
      }),
    )
}

const publishProperties = optionalRecord({
  payloadFormatIndicator: fc.boolean(),
  messageExpiryInterval: u32,
  topicAlias: fc.integer({ min: 1, max: 0xffff }),
  responseTopic: nonEmptyText(),
  correlationData: bytes(16),
  userProperties,
  contentType: text(),
})

function publishArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  return fc
    .record({
      topic: nonEmptyText(),
      payload: bytes(200),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId,
      properties: version === 5 ? publishProperties : fc.constant(undefined),
    })
    .map((r) =>
      compact({
        cmd: 'publish' as const,
        topic: r.topic,
        payload: r.payload,
        qos: r.qos,
        retain: r.retain,
        // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
        dup: r.qos > 0 && r.dup,
        messageId: r.qos > 0 ? r.messageId : undefined,
        properties: r.properties,
      }),
    )
}

const ackReasons = {
  puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0x00, 0x92],
  pubcomp: [0x00, 0x92],
} as const

function ackArb(cmd: keyof typeof ackReasons, version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  if (version !== 5) return messageId.map((id) => ({ cmd, messageId: id }) as AnyPacket)
  return fc
    .record({
      messageId,
      reasonCode: fc.constantFrom(...ackReasons[cmd]),
      properties: optionalRecord({ reasonString: text(), userProperties }),
    })
    .map((r) => compact({ cmd, ...r }) as AnyPacket)
}

function subscribeArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  const v5 = version === 5
  const subscription = v5
    ? fc.record({
        topic: nonEmptyText(),
        qos,
        nl: fc.boolean(),
        rap: fc.boolean(),
        rh: fc.constantFrom(0, 1, 2),
      })
    : fc.record({ topic: nonEmptyText(), qos })
  return fc
    .record({
      messageId,
      subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
      properties: v5
        ? optionalRecord({
            subscriptionIdentifier: fc.integer({ min: 1, max: MAX_REMAINING_LENGTH }),
            userProperties,
          })
        : fc.constant(undefined),
    })
    .map((r) => compact({ cmd: 'subscribe' as const, ...r }) as AnyPacket)
}

function unsubscribeArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  return fc
    .record({
      messageId,
      unsubscriptions: fc.array(nonEmptyText(), { minLength: 1, maxLength: 4 }),
      properties: version === 5 ? optionalRecord({ userProperties }) : fc.constant(undefined),
    })
    .map((r) => compact({ cmd: 'unsubscribe' as const, ...r }) as AnyPacket)
}

function disconnectArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  if (version !== 5) return fc.constant({ cmd: 'disconnect' } as AnyPacket)
  return fc
    .record({
      reasonCode: fc.constantFrom(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x90, 0x93, 0x95, 0x98),
      properties: optionalRecord({ sessionExpiryInterval: u32, reasonString: text(), userProperties }),
    })
    .map((r) => compact({ cmd: 'disconnect' as const, ...r }) as AnyPacket)
}

const authArb: fc.Arbitrary<AnyPacket> = fc
  .record({
    reasonCode: fc.constantFrom(0x00, 0x18, 0x19),
    properties: optionalRecord({
      authenticationMethod: nonEmptyText(),
      authenticationData: bytes(16),
      reasonString: text(),
      userProperties,
    }),
  })
  .map((r) => compact({ cmd: 'auth' as const, ...r }) as AnyPacket)

/** Every packet a client may send after CONNECT, for one protocol version. */
export function clientPacketArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  const arbs = [
    publishArb(version),
    ackArb('puback', version),
    ackArb('pubrec', version),
    ackArb('pubrel', version),
    ackArb('pubcomp', version),
    subscribeArb(version),
    unsubscribeArb(version),
    fc.constant({ cmd: 'pingreq' } as AnyPacket),
    disconnectArb(version),
  ]
  if (version === 5) arbs.push(authArb)
  return fc.oneof(...arbs)
}

/** Packets only a server sends: a broker must refuse them (their bytes feed the mutations). */
export function serverPacketArb(version: ProtocolVersion): fc.Arbitrary<AnyPacket> {
  const v5 = version === 5
  return fc.oneof(
    fc
      .record({ sessionPresent: fc.boolean(), code: fc.constantFrom(0, 1, 2, 3, 4, 5) })
      .map(({ sessionPresent, code }) =>
        v5
          ? ({ cmd: 'connack', sessionPresent, reasonCode: code === 0 ? 0 : 0x80 } as AnyPacket)
          : ({ cmd: 'connack', sessionPresent, returnCode: code } as AnyPacket),
      ),
    fc
      .record({ messageId, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 4 }) })
      .map((r) => ({ cmd: 'suback', ...r }) as AnyPacket),
    messageId.map((id) => ({ cmd: 'unsuback', messageId: id, granted: v5 ? [0] : undefined }) as AnyPacket),
    fc.constant({ cmd: 'pingresp' } as AnyPacket),
  )
}

export { connectArb }

/** A CONNECT and what a client might send after it, for one version. */
export interface Session {
  version: ProtocolVersion
  connect: AnyPacket
  packets: AnyPacket[]
}

export const sessionArb: fc.Arbitrary<Session> = fc.constantFrom(...VERSIONS).chain((version) =>
  fc.record({
    version: fc.constant(version),
    connect: connectArb(version),
    packets: fc.array(
      fc.oneof({ weight: 6, arbitrary: clientPacketArb(version) }, serverPacketArb(version)),
      {
        maxLength: 6,
      },
    ),
  }),
)

export function encode(p: AnyPacket, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(p, { protocolVersion: version })
}

// ---------------------------------------------------------------------------------------------
// Mutations

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; value: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; count: number }
  /** Replaces the remaining length of the packet `packet` with `length`'s varint (or raw bytes). */
  | { kind: 'length'; packet: number; length: number | Uint8Array }

/** A remaining length worth trying: small, off by a little, the largest, or not a varint at all. */
const lengthField = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: MAX_REMAINING_LENGTH }),
  fc.constantFrom(MAX_REMAINING_LENGTH, 2_000_000, 16_384, 127, 128),
  fc.uint8Array({ minLength: 1, maxLength: 5 }),
)

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    value: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({ kind: fc.constant('length' as const), packet: fc.nat(), length: lengthField }),
)

/** The size of the fixed header of a well-formed packet. */
function fixedHeaderSize(p: Buffer): number {
  let i = 1
  while (i < p.length && i < 5 && (defined(p[i], 'p[i]') & 0x80) !== 0) i++
  return i + 1
}

/** Applies mutations to a stream of packets (length mutations first, while packets are known). */
export function mutate(packets: readonly Buffer[], mutations: readonly Mutation[]): Buffer {
  const list = [...packets]
  for (const m of mutations) {
    if (m.kind !== 'length' || list.length === 0) continue
    const i = m.packet % list.length
    const p = defined(list[i], 'list[i]')
    const field = typeof m.length === 'number' ? encodeLength(m.length) : Buffer.from(m.length)
    list[i] = Buffer.concat([p.subarray(0, 1), field, p.subarray(fixedHeaderSize(p))])
  }
  let out = Buffer.concat(list)
  for (const m of mutations) {
    if (out.length === 0) break
    const at = 'at' in m ? m.at % out.length : 0
    switch (m.kind) {
      case 'flip':
        out = Buffer.from(out)
        out[at] = defined(out[at], 'out[at]') ^ (1 << m.bit)
        break
      case 'set':
        out = Buffer.from(out)
        out[at] = m.value
        break
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.value, out.subarray(at)])
        break
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)])
        break
      case 'truncate':
        out = out.subarray(0, at)
        break
      case 'duplicate':
        out = Buffer.concat([out.subarray(0, at + m.count), out.subarray(at)])
        break
      case 'length':
        break
    }
  }
  return out
}

/** MQTT 5 property identifiers, with a few unknown ones. */
const propertyIds = [
  0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0x1f, 0x21,
  0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x00, 0x04, 0x7f, 0xff,
]

/** A property section of known identifiers followed by values of any length and content. */
export const propertyGarbageArb: fc.Arbitrary<Buffer> = fc
  .array(
    fc.record({
      id: fc.constantFrom(...propertyIds),
      value: fc.oneof(
        fc.uint8Array({ maxLength: 6 }),
        // A string or binary field whose length prefix may lie.
        fc
          .record({ length: u16, content: fc.uint8Array({ maxLength: 8 }) })
          .map(({ length, content }) => Uint8Array.from([length >> 8, length & 0xff, ...content])),
      ),
    }),
    { maxLength: 6 },
  )
  .map((props) => Buffer.concat(props.map(({ id, value }) => Buffer.from([id, ...value]))))

function mqttString(s: string): Buffer {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}

/** A whole packet from its first byte and body. */
export function packetOf(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), encodeLength(body.length), body])
}

/** An MQTT 5 CONNECT whose properties (or will properties) are garbage, then maybe more packets. */
export const garbageConnect5Arb: fc.Arbitrary<Buffer> = fc
  .record({
    props: propertyGarbageArb,
    willProps: fc.option(propertyGarbageArb, { nil: undefined }),
    flags: fc.constantFrom(0x02, 0x00, 0xc2),
    lieAboutLength: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
  })
  .map(({ props, willProps, flags, lieAboutLength }) => {
    const willFlags = willProps === undefined ? 0 : 0x04
    const parts = [
      mqttString('MQTT'),
      Buffer.from([5, flags | willFlags, 0, 10]),
      encodeLength(lieAboutLength ?? props.length),
      props,
      mqttString('garbage-props'),
    ]
    if (willProps !== undefined)
      parts.push(encodeLength(willProps.length), willProps, mqttString('w'), mqttString('x'))
    if (flags & 0x80) parts.push(mqttString('u'), mqttString('p'))
    return packetOf(0x10, Buffer.concat(parts))
  })

/** After a valid MQTT 5 CONNECT, packets whose property sections are garbage. */
export const garbagePackets5Arb: fc.Arbitrary<Buffer> = fc
  .record({
    connect: connectArb(5),
    packets: fc.array(
      fc.record({
        first: fc.constantFrom(0x30, 0x32, 0x40, 0x50, 0x62, 0x70, 0x82, 0xa2, 0xe0, 0xf0),
        props: propertyGarbageArb,
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ connect, packets }) => {
    const wire = packets.map(({ first, props }) => {
      const type = first >> 4
      const head =
        type === 3
          ? Buffer.concat([mqttString('t'), first & 0x06 ? Buffer.from([0, 1]) : Buffer.alloc(0)])
          : type === 14 || type === 15
            ? Buffer.from([0])
            : Buffer.from([0, 1, ...(type <= 7 ? [0] : [])])
      const tail =
        type === 8
          ? Buffer.concat([mqttString('t'), Buffer.from([1])])
          : type === 10
            ? mqttString('t')
            : Buffer.alloc(0)
      return packetOf(first, Buffer.concat([head, encodeLength(props.length), props, tail]))
    })
    return Buffer.concat([encode(connect, 5), ...wire])
  })

/** A byte stream a hostile client might send: random bytes, or a mutated valid session. */
export const hostileStreamArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 4,
    arbitrary: fc
      .record({ session: sessionArb, mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) })
      .map(({ session, mutations }) => mutate(sessionBytes(session), mutations)),
  },
  { weight: 1, arbitrary: garbageConnect5Arb },
  { weight: 1, arbitrary: garbagePackets5Arb },
)

export function sessionBytes(s: Session): Buffer[] {
  return [encode(s.connect, s.version), ...s.packets.map((p) => encode(p, s.version))]
}

/** Cuts `data` at the given points (taken modulo its length), for fragmentation properties. */
export function split(data: Buffer, cuts: readonly number[]): Buffer[] {
  if (data.length === 0) return [data]
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of points) {
    chunks.push(data.subarray(from, p))
    from = p
  }
  chunks.push(data.subarray(from))
  // Copies, so no chunk shares memory with another (the socket hands out fresh buffers too).
  return chunks.map((c) => Buffer.from(c))
}

export const cutsArb = fc.array(fc.nat(), { maxLength: 12 })

// ---------------------------------------------------------------------------------------------
// Harness

export interface Frame {
  header: number
  body: Buffer
}

/** Feeds chunks through a framer and returns the packets it delivered (bodies copied). */
export function frame(chunks: readonly Buffer[], maxPacketSize = MAX_REMAINING_LENGTH + 5): Frame[] {
  const frames: Frame[] = []
  const framer = new Framer(maxPacketSize, (header, body) => frames.push({ header, body: Buffer.from(body) }))
  for (const c of chunks) framer.push(c)
  return frames
}

/**
 * What a connection does with a byte stream: frame it, decode the first packet as CONNECT
 * (refusing anything else) and the rest at the CONNECT's version. Stops at the first error
 * like a connection that closes; returns it, or undefined.
 */
export function consume(
  chunks: readonly Buffer[],
  maxPacketSize = MAX_REMAINING_LENGTH + 5,
): { packets: unknown[]; error: unknown } {
  const packets: unknown[] = []
  let version: ProtocolVersion | undefined
  const framer = new Framer(maxPacketSize, (header, body) => {
    if (version === undefined) {
      if (header >> 4 !== PacketType.connect) throw new ProtocolError('first packet must be CONNECT')
      const connect = decodeConnect(header, body)
      version = connect.protocolVersion
      packets.push(connect)
    } else {
      packets.push(decodePacket(header, body, version))
    }
  })
  try {
    for (const c of chunks) framer.push(c)
  } catch (error) {
    framer.stop()
    return { packets, error }
  }
  return { packets, error: undefined }
}

/** Decodes one encoded packet on its own, as the broker would at `version`. */
export function decodeOne(bytes: Buffer, version: ProtocolVersion): unknown {
  const frames = frame([bytes])
  assert.equal(frames.length, 1, 'one packet framed')
  const { header, body } = defined(frames[0], 'frames[0]')
  return header >> 4 === PacketType.connect
    ? decodeConnect(header, body)
    : decodePacket(header, body, version)
}

/**
 * Asserts every field of `expected` is in `actual` with the same value (extra fields the
 * decoder adds, such as mqtt-packet's `length`, are ignored).
 */
export function assertFields(actual: unknown, expected: unknown, path = 'packet'): void {
  if (Buffer.isBuffer(expected) || expected instanceof Uint8Array) {
    assert.ok(Buffer.isBuffer(actual), `${path} is a Buffer`)
    assert.ok(Buffer.from(expected).equals(actual as Buffer), `${path} bytes`)
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is an array`)
    assert.equal(actual.length, expected.length, `${path} length`)
    for (const [i, e] of expected.entries()) assertFields((actual as unknown[])[i], e, `${path}[${i}]`)
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${path} is an object`)
    for (const [key, value] of Object.entries(expected)) {
      if (value === undefined) continue
      assertFields((actual as Record<string, unknown>)[key], value, `${path}.${key}`)
    }
  } else {
    assert.equal(actual, expected, path)
  }
}

/** The broker's own error type is the only thing allowed out of the input path. */
export function assertProtocolError(error: unknown, input: Buffer): void {
  if (error === undefined || error instanceof ProtocolError) return
  const e = error as Error
  assert.fail(`non-protocol error ${e?.name}: ${e?.message} for input ${input.toString('hex')}\n${e?.stack}`)
}

/**
 * Records the largest buffer the Buffer allocators are asked for while `fn` runs, so a test
 * can check nothing is sized from a declared length before the bytes arrive.
 */
export function largestAllocation(fn: () => void): number {
  let largest = 0
  const note = (n: unknown): void => {
    if (typeof n === 'number' && n > largest) largest = n
  }
  const { alloc, allocUnsafe, allocUnsafeSlow, concat } = Buffer
  Buffer.alloc = ((size: number, ...rest: never[]) => {
    note(size)
    return alloc(size, ...rest)
  }) as typeof Buffer.alloc
  Buffer.allocUnsafe = ((size: number) => {
    note(size)
    return allocUnsafe(size)
  }) as typeof Buffer.allocUnsafe
  Buffer.allocUnsafeSlow = ((size: number) => {
    note(size)
    return allocUnsafeSlow(size)
  }) as typeof Buffer.allocUnsafeSlow
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    note(total ?? list.reduce((n, b) => n + b.length, 0))
    return concat(list, total)
  }) as typeof Buffer.concat
  try {
    fn()
  } finally {
    Object.assign(Buffer, { alloc, allocUnsafe, allocUnsafeSlow, concat })
  }
  return largest
}
