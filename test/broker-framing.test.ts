// Issue 3, point 2: framing. Fragmentation, coalescing, 4-byte remaining length, maxPacketSize.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  connect,
  DISCONNECT,
  decodeConnack,
  decodePublish,
  decodeSuback,
  encodeLength,
  LogCapture,
  PINGREQ,
  PT,
  puback,
  publish,
  RawClient,
  recordText,
  startTestBroker,
  subscribe,
  WARN,
} from './helpers.ts'

test('a whole session written one byte per write is understood', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  const session = Buffer.concat([
    connect({ clientId: 'bytewise' }),
    subscribe(1, [{ topic: 'frag/+', qos: 1 }]),
    publish({ topic: 'frag/a', payload: 'hello', qos: 0 }),
    publish({ topic: 'frag/b', payload: 'world', qos: 1, packetId: 7 }),
    PINGREQ,
  ])
  await c.sendBytewise(session)

  assert.equal(decodeConnack(await c.expect(PT.CONNACK)).returnCode, 0)
  assert.deepEqual(decodeSuback(await c.expect(PT.SUBACK)), { packetId: 1, codes: [1] })
  // The rest may interleave (PUBACK for our publish, the broker's deliveries to us), so collect.
  const rest = [await c.next(), await c.next(), await c.next(), await c.next()]
  const types = rest.map((p) => p.type)
  assert.equal(types.filter((x) => x === PT.PUBLISH).length, 2)
  assert.equal(types.filter((x) => x === PT.PUBACK).length, 1)
  assert.equal(types.at(-1), PT.PINGRESP)
  const pubs = rest.filter((p) => p.type === PT.PUBLISH).map(decodePublish)
  assert.deepEqual(
    pubs.map((p) => [p.topic, p.payload.toString(), p.qos]),
    [
      ['frag/a', 'hello', 0],
      ['frag/b', 'world', 1],
    ],
  )
  // Acknowledge the delivery byte by byte too, then a clean DISCONNECT.
  await c.sendBytewise(puback(defined(defined(pubs[1], 'pubs[1]').packetId, 'pubs[1].packetId')))
  assert.deepEqual(await c.pingBarrier(), [])
  await c.sendBytewise(DISCONNECT)
  await c.waitClosed()
})

test('CONNECT + SUBSCRIBE + PUBLISH + PINGREQ coalesced in one write (PubSubClient style)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  await c.send(
    Buffer.concat([
      connect({ clientId: 'coalesced' }),
      subscribe(3, [{ topic: 'co/x', qos: 0 }]),
      publish({ topic: 'co/x', payload: 'one-write', qos: 0 }),
      PINGREQ,
    ]),
  )
  assert.equal(decodeConnack(await c.expect(PT.CONNACK)).returnCode, 0)
  // Every packet is answered; the publish reaches the subscription made just before it.
  const rest = [await c.next(), await c.next(), await c.next()]
  const byType = new Map(rest.map((p) => [p.type, p]))
  assert.deepEqual([...byType.keys()].sort(), [PT.PUBLISH, PT.SUBACK, PT.PINGRESP].sort())
  assert.deepEqual(decodeSuback(defined(byType.get(PT.SUBACK), 'byType.get(PT.SUBACK)')), {
    packetId: 3,
    codes: [0],
  })
  const p = decodePublish(defined(byType.get(PT.PUBLISH), 'byType.get(PT.PUBLISH)'))
  assert.equal(p.topic, 'co/x')
  assert.equal(p.payload.toString(), 'one-write')
})

test('many packets coalesced and split at arbitrary points are all processed in order', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  const pubs: Buffer[] = []
  for (let i = 0; i < 200; i++)
    pubs.push(publish({ topic: 'split/t', payload: `m${i}`, qos: 1, packetId: i + 1 }))
  const all = Buffer.concat([
    connect({ clientId: 'split' }),
    subscribe(1, [{ topic: 'split/t', qos: 0 }]),
    ...pubs,
  ])
  // Chunks of varying size (1..37 bytes) so boundaries fall inside headers, lengths and bodies.
  let pos = 0
  let size = 1
  while (pos < all.length) {
    await c.send(all.subarray(pos, pos + size))
    pos += size
    size = (size * 7 + 3) % 37 || 1
  }
  assert.equal(decodeConnack(await c.expect(PT.CONNACK)).returnCode, 0)
  const got: string[] = []
  const acks: number[] = []
  let subacks = 0
  while (got.length < 200 || acks.length < 200 || subacks < 1) {
    const p = await c.next()
    if (p.type === PT.PUBLISH) got.push(decodePublish(p).payload.toString())
    else if (p.type === PT.PUBACK) acks.push(p.body.readUInt16BE(0))
    else if (p.type === PT.SUBACK) subacks++
    else assert.fail(`unexpected packet type ${p.type}`)
  }
  assert.deepEqual(
    got,
    pubs.map((_, i) => `m${i}`),
  )
  assert.deepEqual(
    acks,
    pubs.map((_, i) => i + 1),
  )
})

test('one large write of thousands of packets, read in chunks that cut packets anywhere, is delivered whole and in order', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await RawClient.open(broker.port, t)
  await sub.send(
    Buffer.concat([connect({ clientId: 'bulk-sub' }), subscribe(1, [{ topic: 'bulk/#', qos: 0 }])]),
  )
  await sub.expect(PT.CONNACK)
  await sub.expect(PT.SUBACK)
  const pub = await RawClient.open(broker.port, t)
  // Payload sizes from 0 to 3,000 bytes, so the socket's reads end inside headers, lengths and bodies.
  const count = 3000
  const packets = [connect({ clientId: 'bulk-pub' })]
  for (let i = 0; i < count; i++) {
    packets.push(publish({ topic: `bulk/${i % 7}`, payload: `${i}:`.padEnd((i * 37) % 3001, 'x') }))
  }
  await pub.send(Buffer.concat(packets))
  for (let i = 0; i < count; i++) {
    const p = decodePublish(await sub.expect(PT.PUBLISH))
    assert.equal(p.topic, `bulk/${i % 7}`)
    assert.equal(p.payload.toString(), `${i}:`.padEnd((i * 37) % 3001, 'x'))
  }
})

test('a packet with a 4-byte remaining length is received and delivered', async (t) => {
  const broker = await startTestBroker(t, { maxPacketSize: 3_000_000 })
  const sub = await RawClient.connect(broker.port, { clientId: 'big-sub' }, t)
  await sub.client.send(subscribe(1, [{ topic: 'big', qos: 0 }]))
  await sub.client.expect(PT.SUBACK)
  const pub = await RawClient.connect(broker.port, { clientId: 'big-pub' }, t)

  const payload = Buffer.alloc(2_200_000)
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251
  const pkt = publish({ topic: 'big', payload, qos: 1, packetId: 9 })
  assert.equal(encodeLength(pkt.length - 5).length, 4, 'the test packet needs a 4-byte length')
  assert.equal(defined(pkt[4], 'pkt[4]') & 0x80, 0, 'fourth length byte ends the varint')
  await pub.client.send(pkt)
  const ack = await pub.client.expect(PT.PUBACK)
  assert.equal(ack.body.readUInt16BE(0), 9)

  const got = await sub.client.expect(PT.PUBLISH, 15_000)
  // The broker's own encoding uses 4 length bytes as well.
  assert.equal(got.raw.length - got.body.length, 5)
  const d = decodePublish(got)
  assert.equal(d.topic, 'big')
  assert.ok(d.payload.equals(payload), 'payload delivered intact')
})

test('maxPacketSize: a packet larger than the limit is refused from its header alone', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { logger: log.logger })
  const { client, connack } = await RawClient.connect(broker.port, { clientId: 'huge-header' }, t)
  assert.equal(connack.returnCode, 0)
  // Only the fixed header of a PUBLISH claiming 268,435,455 bytes; no body ever follows.
  await client.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))
  await client.waitClosed()
  await log.waitFor(
    (r) => r.level === WARN && /size|large|big|limit|max/i.test(recordText(r)),
    'at warn about size',
  )
})

test('maxPacketSize default is 2,000,000: a header claiming 2,000,001 bytes closes the connection', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'just-over' }, t)
  // 2,000,001 total = 1 + 3 length bytes + 1,999,997 remaining.
  const header = Buffer.concat([Buffer.from([0x30]), encodeLength(1_999_997)])
  assert.equal(header.length, 4)
  await client.send(Buffer.concat([header, Buffer.from([0x00, 0x01, 0x61])]))
  await client.waitClosed()
})

test('maxPacketSize is configurable and counts the whole packet: limit accepted, limit + 1 refused', async (t) => {
  const broker = await startTestBroker(t, { maxPacketSize: 1000 })
  const { client } = await RawClient.connect(broker.port, { clientId: 'limit' }, t)
  // topic 't' → 2 + 1 bytes; 1000 total = 1 header + 2 length bytes + 997 remaining → payload 994.
  const ok = publish({ topic: 't', payload: Buffer.alloc(994, 0x61) })
  assert.equal(ok.length, 1000)
  await client.send(ok)
  assert.deepEqual(await client.pingBarrier(), [], 'the connection survives a packet of exactly the limit')

  const over = publish({ topic: 't', payload: Buffer.alloc(995, 0x61) })
  assert.equal(over.length, 1001)
  await client.send(over.subarray(0, 3)) // header only
  await client.waitClosed()
})
