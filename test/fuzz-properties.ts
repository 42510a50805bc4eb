/**
 * The fuzz properties of the MQTT input path, each with its run count for `npm test`;
 * test/protocol-fuzz.test.ts runs them bounded, scripts/fuzz.ts for as long as asked.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { encodeAck, encodePublish, encodePublish5 } from '../src/broker/protocol/encode.ts'
import type { ConnectPacket, PublishPacket } from '../src/broker/protocol/packets.ts'
import {
  assertFields,
  assertProtocolError,
  clientPacketArb,
  connectArb,
  consume,
  cutsArb,
  decodeOne,
  encode,
  frame,
  hostileStreamArb,
  largestAllocation,
  sessionArb,
  sessionBytes,
  split,
  VERSIONS,
} from './fuzz-packets.ts'

export interface FuzzProperty {
  name: string
  /** Runs in `npm test` (the whole file stays well under 20 s on a busy 2-core machine). */
  runs: number
  /** Checks the property; throws fast-check's report (seed, path, counterexample) on failure. */
  check(options: { seed: number; numRuns: number }): void
}

function fuzzProperty<T extends unknown[]>(
  name: string,
  runs: number,
  property: fc.IProperty<T>,
): FuzzProperty {
  return {
    name,
    runs,
    check: (options) => fc.assert(property, { ...options, endOnFailure: true, includeErrorInReport: true }),
  }
}

const roundTrips: FuzzProperty[] = VERSIONS.map((version) =>
  fuzzProperty(
    `MQTT ${version}: decode(encode(p)) gives back every field of every client packet`,
    400,
    fc.property(fc.oneof(connectArb(version), clientPacketArb(version)), (p) => {
      assertFields(decodeOne(encode(p, version), version), p)
    }),
  ),
)

const ownEncoderFields = fc.record({
  version: fc.constantFrom(...VERSIONS),
  topic: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\uFFFD')),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
  retain: fc.boolean(),
  dup: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 0xffff }),
  ack: fc.constantFrom(4, 5, 6, 7) as fc.Arbitrary<4 | 5 | 6 | 7>,
})

const clientSessionArb = fc.constantFrom(...VERSIONS).chain((v) =>
  fc.record({
    version: fc.constant(v),
    connect: connectArb(v),
    packets: fc.array(clientPacketArb(v), { maxLength: 6 }),
  }),
)

export const fuzzProperties: FuzzProperty[] = [
  ...roundTrips,
  fuzzProperty(
    "the broker's own PUBLISH and ack encoders round-trip through its decoder",
    300,
    fc.property(ownEncoderFields, ({ version, ack, ...p }) => {
      const publish = { ...p, dup: p.qos > 0 && p.dup, messageId: p.qos > 0 ? p.messageId : undefined }
      const wire = version === 5 ? encodePublish5(publish, undefined) : encodePublish(publish)
      assertFields(decodeOne(wire, version), { cmd: 'publish', ...publish })
      const cmd = ['', '', '', '', 'puback', 'pubrec', 'pubrel', 'pubcomp'][ack]
      assertFields(decodeOne(encodeAck(ack, p.messageId, version), version), { cmd, messageId: p.messageId })
    }),
  ),
  fuzzProperty(
    'any split of a stream of packets frames into the same packets',
    300,
    fc.property(fc.array(sessionArb, { minLength: 1, maxLength: 3 }), cutsArb, (sessions, cuts) => {
      const packets = sessions.flatMap(sessionBytes)
      const expected = packets.flatMap((p) => frame([p]))
      assert.equal(expected.length, packets.length)
      assert.deepEqual(frame(split(Buffer.concat(packets), cuts)), expected)
    }),
  ),
  fuzzProperty(
    'one byte per push and all at once frame alike',
    100,
    fc.property(sessionArb, (session) => {
      const stream = Buffer.concat(sessionBytes(session))
      const bytewise = [...stream].map((b) => Buffer.from([b]))
      assert.deepEqual(frame(bytewise), frame([stream]))
    }),
  ),
  fuzzProperty(
    'a split session of client packets decodes into the same packets as its parts',
    300,
    fc.property(clientSessionArb, cutsArb, (session, cuts) => {
      const { packets, error } = consume(split(Buffer.concat(sessionBytes(session)), cuts))
      assert.equal(error, undefined)
      assertFields(packets, [session.connect, ...session.packets])
    }),
  ),
  fuzzProperty(
    'random and mutated input never throws anything but ProtocolError',
    3000,
    fc.property(hostileStreamArb, cutsArb, fc.constantFrom(64, 1024, 2_000_000), (input, cuts, max) => {
      assertProtocolError(consume(split(input, cuts), max).error, input)
    }),
  ),
  fuzzProperty(
    'every PUBLISH and will the decoder accepts can be encoded again for an MQTT 5 subscriber',
    3000,
    fc.property(hostileStreamArb, (input) => {
      for (const packet of consume([input]).packets as (PublishPacket | ConnectPacket)[]) {
        const message = packet.cmd === 'publish' ? packet : packet.will
        if (message === undefined) continue
        // What the broker forwards: everything but the alias and subscription ids (handlers/publish.ts).
        const {
          topicAlias: _a,
          subscriptionIdentifier: _s,
          willDelayInterval: _w,
          ...properties
        } = (message.properties ?? {}) as Record<string, unknown>
        const fields = {
          topic: message.topic || 't',
          payload: message.payload,
          qos: 1 as const,
          retain: false,
          dup: false,
        }
        encodePublish5({ ...fields, messageId: 1 }, properties)
      }
    }),
  ),
  fuzzProperty(
    'after malformed input the decoder still decodes valid packets of every version',
    300,
    fc.property(hostileStreamArb, sessionArb, (input, session) => {
      consume([input])
      const { packets, error } = consume([encode(session.connect, session.version)])
      assert.equal(error, undefined)
      assertFields(packets, [session.connect])
    }),
  ),
  fuzzProperty(
    'nothing is allocated for a declared remaining length before its bytes arrive',
    500,
    fc.property(hostileStreamArb, cutsArb, (input, cuts) => {
      const chunks = split(input, cuts)
      const largest = largestAllocation(() => consume(chunks))
      // Reassembling a packet (plus the fixed header the library parse prepends) is the most.
      assert.ok(largest <= input.length + 5, `allocated ${largest} bytes for ${input.length} bytes of input`)
    }),
  ),
]
