// Property tests of the MQTT input path (framer and decoder) over generated, split and
// mutated packets of MQTT 3.1, 3.1.1 and 5. Seeded: FUZZ_SEED=<n> replays a run, FUZZ_RUNS=<n>
// widens it; `npm run fuzz` runs the same properties for longer (scripts/fuzz.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodePacket } from '../src/broker/protocol/decode.ts'
import { ProtocolError } from '../src/broker/protocol/errors.ts'
import { Framer } from '../src/broker/protocol/framer.ts'
import { Reason } from '../src/broker/protocol/reason-codes.ts'
import { fuzzSettings, largestAllocation, MAX_REMAINING_LENGTH } from './fuzz-packets.ts'
import { fuzzProperties } from './fuzz-properties.ts'
import { encodeLength } from './helpers.ts'

for (const { name, runs, check } of fuzzProperties) {
  test(name, () => check(fuzzSettings(runs)))
}

test('a fixed header declaring 268,435,455 bytes buffers only what arrived', () => {
  for (const first of [0x10, 0x30, 0x82]) {
    const header = Buffer.concat([Buffer.from([first]), encodeLength(MAX_REMAINING_LENGTH)])
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
    () => framer.push(Buffer.concat([Buffer.from([0x30]), encodeLength(MAX_REMAINING_LENGTH)])),
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
