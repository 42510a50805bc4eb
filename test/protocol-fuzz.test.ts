// Property tests of the MQTT input path (framer and decoder) over generated, split and
// mutated packets of MQTT 3.1, 3.1.1 and 5. Seeded: FUZZ_SEED=<n> replays a run, FUZZ_RUNS=<n>
// widens it; `npm run fuzz` runs the same properties for longer (scripts/fuzz.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodePacket } from '../src/broker/protocol/decode.ts'
import { encodeAck, encodePublish, encodePublish5 } from '../src/broker/protocol/encode.ts'
import { ProtocolError, Reason } from '../src/broker/protocol/errors.ts'
import { Framer } from '../src/broker/protocol/framer.ts'
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
  fuzzSettings,
  hostileStreamArb,
  largestAllocation,
  MAX_REMAINING_LENGTH,
  sessionArb,
  sessionBytes,
  split,
  VERSIONS,
  varint,
} from './fuzz-packets.ts'

const settings = (runs: number): fc.Parameters<unknown> => ({
  ...fuzzSettings(runs),
  endOnFailure: true,
  includeErrorInReport: true,
})

for (const version of VERSIONS) {
  test(`MQTT ${version}: decode(encode(p)) gives back every field of every client packet`, () => {
    fc.assert(
      fc.property(fc.oneof(connectArb(version), clientPacketArb(version)), (p) => {
        assertFields(decodeOne(encode(p, version), version), p)
      }),
      settings(400),
    )
  })
}

test("the broker's own PUBLISH and ack encoders round-trip through its decoder", () => {
  const fields = fc.record({
    version: fc.constantFrom(...VERSIONS),
    topic: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\uFFFD')),
    payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    retain: fc.boolean(),
    dup: fc.boolean(),
    messageId: fc.integer({ min: 1, max: 0xffff }),
    ack: fc.constantFrom(4, 5, 6, 7) as fc.Arbitrary<4 | 5 | 6 | 7>,
  })
  fc.assert(
    fc.property(fields, ({ version, ack, ...p }) => {
      const publish = { ...p, dup: p.qos > 0 && p.dup, messageId: p.qos > 0 ? p.messageId : undefined }
      const wire = version === 5 ? encodePublish5(publish, undefined) : encodePublish(publish)
      assertFields(decodeOne(wire, version), { cmd: 'publish', ...publish })
      const ackCmd = ['', '', '', '', 'puback', 'pubrec', 'pubrel', 'pubcomp'][ack]
      assertFields(decodeOne(encodeAck(ack, p.messageId, version), version), {
        cmd: ackCmd,
        messageId: p.messageId,
      })
    }),
    settings(300),
  )
})

test('any split of a stream of packets frames into the same packets', () => {
  fc.assert(
    fc.property(fc.array(sessionArb, { minLength: 1, maxLength: 3 }), cutsArb, (sessions, cuts) => {
      const packets = sessions.flatMap(sessionBytes)
      const expected = packets.flatMap((p) => frame([p]))
      assert.equal(expected.length, packets.length)
      assert.deepEqual(frame(split(Buffer.concat(packets), cuts)), expected)
    }),
    settings(300),
  )
})

test('one byte per push and all at once frame alike', () => {
  fc.assert(
    fc.property(sessionArb, (session) => {
      const stream = Buffer.concat(sessionBytes(session))
      const bytewise = [...stream].map((b) => Buffer.from([b]))
      assert.deepEqual(frame(bytewise), frame([stream]))
    }),
    settings(100),
  )
})

test('a split session of client packets decodes into the same packets as its parts', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...VERSIONS).chain((v) =>
        fc.record({
          version: fc.constant(v),
          connect: connectArb(v),
          packets: fc.array(clientPacketArb(v), { maxLength: 6 }),
        }),
      ),
      cutsArb,
      (session, cuts) => {
        const { packets, error } = consume(split(Buffer.concat(sessionBytes(session)), cuts))
        assert.equal(error, undefined)
        assertFields(packets, [session.connect, ...session.packets])
      },
    ),
    settings(300),
  )
})

test('random and mutated input never throws anything but ProtocolError', () => {
  fc.assert(
    fc.property(hostileStreamArb, cutsArb, fc.constantFrom(64, 1024, 2_000_000), (input, cuts, max) => {
      assertProtocolError(consume(split(input, cuts), max).error, input)
    }),
    settings(3000),
  )
})

test('after malformed input the decoder still decodes valid packets of every version', () => {
  fc.assert(
    fc.property(hostileStreamArb, sessionArb, (input, session) => {
      consume([input])
      const { packets, error } = consume([encode(session.connect, session.version)])
      assert.equal(error, undefined)
      assertFields(packets, [session.connect])
    }),
    settings(300),
  )
})

test('nothing is allocated for a declared remaining length before its bytes arrive', () => {
  fc.assert(
    fc.property(hostileStreamArb, cutsArb, (input, cuts) => {
      const chunks = split(input, cuts)
      const largest = largestAllocation(() => consume(chunks))
      // Reassembling a packet (plus the fixed header the library parse prepends) is the most.
      assert.ok(largest <= input.length + 5, `allocated ${largest} bytes for ${input.length} bytes of input`)
    }),
    settings(500),
  )
})

test('a fixed header declaring 268,435,455 bytes buffers only what arrived', () => {
  for (const first of [0x10, 0x30, 0x82]) {
    const header = Buffer.concat([Buffer.from([first]), varint(MAX_REMAINING_LENGTH)])
    const delivered: number[] = []
    const framer = new Framer(MAX_REMAINING_LENGTH + 5, (h) => delivered.push(h))
    const largest = largestAllocation(() => {
      framer.push(header)
      for (let i = 0; i < 100; i++) framer.push(Buffer.alloc(1000, i))
    })
    assert.deepEqual(delivered, [])
    assert.ok(largest <= 1000, `allocated ${largest} bytes while 100,005 bytes arrived`)
  }
  // With the broker's default limit the same header is refused as soon as it is complete.
  const framer = new Framer(2_000_000, () => assert.fail('no packet'))
  assert.throws(
    () => framer.push(Buffer.concat([Buffer.from([0x30]), varint(MAX_REMAINING_LENGTH)])),
    (e: unknown) => e instanceof ProtocolError && e.reason === Reason.packetTooLarge,
  )
})

test('decodePacket refuses a CONNECT, and server-only packets in 3.x, with ProtocolError', () => {
  for (const version of [3, 4] as const) {
    for (const header of [0x10, 0x20, 0x90, 0xb0, 0xd0, 0xf0]) {
      assert.throws(() => decodePacket(header, Buffer.alloc(2), version), ProtocolError)
    }
  }
  assert.throws(() => decodePacket(0x10, Buffer.alloc(2), 5), ProtocolError)
})
