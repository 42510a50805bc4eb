// Issue 3, point 5: PUBLISH QoS 0/1/2 in both directions with their acks (checked byte by byte),
// QoS 2 exactly-once, the outgoing in-flight window, re-sending on a persistent reconnect.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Message } from '../src/broker/types.ts'
import { defined } from './defined.ts'
import {
  ackId,
  decodePublish,
  Inbox,
  mqttConnect,
  PT,
  puback,
  pubcomp,
  publish,
  pubrec,
  pubrel,
  RawClient,
  startTestBroker,
  subscribe,
  until,
  waitFor,
} from './helpers.ts'

test('MQTT.js end to end: QoS 0, 1 and 2 arrive at the subscribed QoS', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqttConnect(broker.port, { clientId: 'e2e-sub' }, t)
  const pub = await mqttConnect(broker.port, { clientId: 'e2e-pub' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('e2e/#', { qos: 2 })
  for (const qos of [0, 1, 2] as const) await pub.publishAsync(`e2e/q${qos}`, `qos ${qos}`, { qos })
  await inbox.waitCount(3)
  assert.deepEqual(
    inbox.messages.map((m) => [m.topic, m.payload, m.qos, m.retain]),
    [
      ['e2e/q0', 'qos 0', 0, false],
      ['e2e/q1', 'qos 1', 1, false],
      ['e2e/q2', 'qos 2', 2, false],
    ],
  )
})

test('inbound QoS 0: delivered, nothing acknowledged', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('in0', (m) => got.push(m))
  const { client } = await RawClient.connect(broker.port, { clientId: 'in0' }, t)
  await client.send(publish({ topic: 'in0', payload: 'zero', qos: 0 }))
  assert.deepEqual(await client.pingBarrier(), [], 'no ack for QoS 0')
  await until(() => got.length === 1, 'the delivery')
  assert.equal(defined(got[0], 'got[0]').payload.toString(), 'zero')
  assert.equal(defined(got[0], 'got[0]').qos, 0)
})

test('inbound QoS 1: PUBACK with the packet id (bytes 40 02 id)', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('in1', (m) => got.push(m))
  const { client } = await RawClient.connect(broker.port, { clientId: 'in1' }, t)
  await client.send(publish({ topic: 'in1', payload: 'one', qos: 1, packetId: 0x1234 }))
  const ack = await client.expect(PT.PUBACK)
  assert.equal(ack.raw.toString('hex'), '40021234')
  await until(() => got.length === 1, 'the delivery')
  assert.equal(defined(got[0], 'got[0]').qos, 1)
  assert.equal(defined(got[0], 'got[0]').clientId, 'in1')
})

test('inbound QoS 2: PUBREC, PUBREL, PUBCOMP with the packet id (50 02 / 62 02 / 70 02)', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('in2', (m) => got.push(m))
  const { client } = await RawClient.connect(broker.port, { clientId: 'in2' }, t)
  await client.send(publish({ topic: 'in2', payload: 'two', qos: 2, packetId: 0xbeef }))
  assert.equal((await client.expect(PT.PUBREC)).raw.toString('hex'), '5002beef')
  await client.send(pubrel(0xbeef))
  assert.equal((await client.expect(PT.PUBCOMP)).raw.toString('hex'), '7002beef')
  await until(() => got.length === 1, 'the delivery')
  assert.equal(defined(got[0], 'got[0]').qos, 2)
  assert.equal(defined(got[0], 'got[0]').payload.toString(), 'two')
})

test('QoS 2 exactly once: a re-sent PUBLISH with the same id before PUBREL is not delivered again', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('once/#', (m) => got.push(m))
  const sub = await RawClient.connect(broker.port, { clientId: 'once-sub' }, t)
  await sub.client.send(subscribe(1, [{ topic: 'once/#', qos: 2 }]))
  await sub.client.expect(PT.SUBACK)

  const { client } = await RawClient.connect(broker.port, { clientId: 'once-pub' }, t)
  await client.send(publish({ topic: 'once/x', payload: 'first', qos: 2, packetId: 5 }))
  assert.equal(ackId(await client.expect(PT.PUBREC)), 5)
  // The publisher did not see the PUBREC (say) and sends the message again, twice, with DUP set.
  await client.send(publish({ topic: 'once/x', payload: 'first', qos: 2, packetId: 5, dup: true }))
  assert.equal(ackId(await client.expect(PT.PUBREC)), 5, 'the re-sent PUBLISH is acknowledged again')
  await client.send(publish({ topic: 'once/x', payload: 'first', qos: 2, packetId: 5, dup: true }))
  assert.equal(ackId(await client.expect(PT.PUBREC)), 5)
  await client.send(pubrel(5))
  assert.equal(ackId(await client.expect(PT.PUBCOMP)), 5)
  // A PUBREL re-sent after PUBCOMP is answered again without a delivery.
  await client.send(pubrel(5))
  assert.equal(ackId(await client.expect(PT.PUBCOMP)), 5)

  // After PUBCOMP the id is free: the same id now carries a new message.
  await client.send(publish({ topic: 'once/y', payload: 'second', qos: 2, packetId: 5 }))
  assert.equal(ackId(await client.expect(PT.PUBREC)), 5)
  await client.send(pubrel(5))
  await client.expect(PT.PUBCOMP)

  await until(() => got.length >= 2, 'both messages')
  // A barrier so that any duplicate would have been routed by now.
  await client.pingBarrier()
  await broker.publish({ topic: 'once/end', payload: 'end', qos: 0 })
  await until(() => got.some((m) => m.topic === 'once/end'), 'the end marker')
  assert.deepEqual(
    got.map((m) => `${m.topic}=${m.payload}`),
    ['once/x=first', 'once/y=second', 'once/end=end'],
  )

  // The MQTT subscriber, too, got exactly one copy of each.
  const topics: string[] = []
  let open = 0
  while (!topics.includes('once/end') || open > 0) {
    const p = await sub.client.next()
    if (p.type === PT.PUBREL) {
      await sub.client.send(pubcomp(ackId(p)))
      open--
    }
    if (p.type !== PT.PUBLISH) continue
    const d = decodePublish(p)
    topics.push(d.topic)
    if (d.qos === 2) {
      await sub.client.send(pubrec(defined(d.packetId, 'd.packetId')))
      open++
    }
  }
  assert.deepEqual(await sub.client.pingBarrier(), [])
  assert.deepEqual(topics, ['once/x', 'once/y', 'once/end'])
})

test('outbound QoS 1: the broker sends PUBLISH with a packet id and expects PUBACK', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'out1' }, t)
  await client.send(subscribe(1, [{ topic: 'out1', qos: 1 }]))
  await client.expect(PT.SUBACK)
  await broker.publish({ topic: 'out1', payload: 'p', qos: 1 })
  const raw = await client.expect(PT.PUBLISH)
  assert.equal(raw.flags, 0x02, 'QoS 1, no DUP, no RETAIN')
  const p = decodePublish(raw)
  assert.ok(p.packetId !== undefined && p.packetId > 0, 'non-zero packet id')
  await client.send(puback(defined(p.packetId, 'p.packetId')))
  assert.deepEqual(await client.pingBarrier(), [], 'nothing is re-sent after PUBACK')
})

test('outbound QoS 2: PUBLISH, then PUBREL (62 02 id) after PUBREC, done after PUBCOMP', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'out2' }, t)
  await client.send(subscribe(1, [{ topic: 'out2', qos: 2 }]))
  await client.expect(PT.SUBACK)
  await broker.publish({ topic: 'out2', payload: 'p', qos: 2 })
  const raw = await client.expect(PT.PUBLISH)
  assert.equal(raw.flags, 0x04, 'QoS 2, no DUP, no RETAIN')
  const id = defined(decodePublish(raw).packetId, 'decodePublish(raw).packetId')
  await client.send(pubrec(id))
  const rel = await client.expect(PT.PUBREL)
  assert.equal(rel.raw.toString('hex'), `6202${id.toString(16).padStart(4, '0')}`)
  await client.send(pubcomp(id))
  assert.deepEqual(await client.pingBarrier(), [])
})

test('in-flight window: default 20 unacknowledged QoS 1 messages, the rest queued and sent in order', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'window' }, t)
  await client.send(subscribe(1, [{ topic: 'win', qos: 1 }]))
  await client.expect(PT.SUBACK)
  for (let i = 0; i < 30; i++) await broker.publish({ topic: 'win', payload: String(i), qos: 1 })

  const first: number[] = []
  const ids: number[] = []
  for (let i = 0; i < 20; i++) {
    const p = await client.nextPublish()
    first.push(Number(p.payload.toString()))
    ids.push(defined(p.packetId, 'p.packetId'))
  }
  assert.deepEqual(await client.pingBarrier(), [], 'no 21st message while 20 are unacknowledged')
  assert.deepEqual(
    first,
    Array.from({ length: 20 }, (_, i) => i),
  )
  assert.equal(new Set(ids).size, 20, 'distinct packet ids in flight')

  // Each PUBACK frees one slot; the queued messages follow in order.
  const rest: number[] = []
  for (const id of ids) {
    await client.send(puback(id))
    if (rest.length < 10) {
      const p = await client.nextPublish()
      rest.push(Number(p.payload.toString()))
      ids.push(defined(p.packetId, 'p.packetId'))
    }
  }
  assert.deepEqual(
    rest,
    Array.from({ length: 10 }, (_, i) => 20 + i),
  )
  for (const id of ids.slice(20)) await client.send(puback(id))
  assert.deepEqual(await client.pingBarrier(), [])
})

test('in-flight window is configurable (maxInflight 3) and counts QoS 2 until PUBCOMP', async (t) => {
  const broker = await startTestBroker(t, { maxInflight: 3 })
  const { client } = await RawClient.connect(broker.port, { clientId: 'window3' }, t)
  await client.send(subscribe(1, [{ topic: 'w3', qos: 2 }]))
  await client.expect(PT.SUBACK)
  for (let i = 0; i < 5; i++) await broker.publish({ topic: 'w3', payload: String(i), qos: 2 })
  const ps = [await client.nextPublish(), await client.nextPublish(), await client.nextPublish()]
  assert.deepEqual(
    ps.map((p) => p.payload.toString()),
    ['0', '1', '2'],
  )
  assert.deepEqual(await client.pingBarrier(), [])
  // PUBREC alone does not free the slot...
  await client.send(pubrec(defined(defined(ps[0], 'ps[0]').packetId, 'ps[0].packetId')))
  const before = await client.pingBarrier()
  assert.deepEqual(
    before.map((p) => p.type),
    [PT.PUBREL],
  )
  // ...PUBCOMP does.
  await client.send(pubcomp(defined(defined(ps[0], 'ps[0]').packetId, 'ps[0].packetId')))
  assert.equal((await client.nextPublish()).payload.toString(), '3')
})

test('persistent reconnect: unacknowledged PUBLISH re-sent with DUP, pending PUBREL re-sent', async (t) => {
  const broker = await startTestBroker(t)
  const spec = { clientId: 'resend', clean: false }
  const s1 = await RawClient.connect(broker.port, spec, t)
  assert.equal(s1.connack.returnCode, 0)
  await s1.client.send(
    subscribe(1, [
      { topic: 'rs/1', qos: 1 },
      { topic: 'rs/2', qos: 2 },
    ]),
  )
  await s1.client.expect(PT.SUBACK)

  await broker.publish({ topic: 'rs/1', payload: 'q1-unacked', qos: 1 })
  await broker.publish({ topic: 'rs/2', payload: 'q2-released', qos: 2 })
  await broker.publish({ topic: 'rs/2', payload: 'q2-unreceived', qos: 2 })
  const a = await s1.client.nextPublish()
  const b = await s1.client.nextPublish()
  const c = await s1.client.nextPublish()
  assert.deepEqual(
    [a, b, c].map((p) => [p.payload.toString(), p.dup]),
    [
      ['q1-unacked', false],
      ['q2-released', false],
      ['q2-unreceived', false],
    ],
  )
  // b gets PUBREC, so the broker owes a PUBREL; a and c are left unacknowledged.
  await s1.client.send(pubrec(defined(b.packetId, 'b.packetId')))
  assert.equal(ackId(await s1.client.expect(PT.PUBREL)), b.packetId)
  const gone = waitFor(broker, 'clientDisconnect')
  s1.client.destroy()
  await gone

  const s2 = await RawClient.connect(broker.port, spec, t)
  assert.deepEqual(s2.connack, { sessionPresent: true, returnCode: 0 })
  const resent = [await s2.client.next(), await s2.client.next(), await s2.client.next()]
  const pubs = resent.filter((p) => p.type === PT.PUBLISH)
  const rels = resent.filter((p) => p.type === PT.PUBREL)
  assert.equal(rels.length, 1, 'one PUBREL re-sent')
  assert.equal(
    defined(rels[0], 'rels[0]').raw.toString('hex'),
    `6202${defined(b.packetId, 'b.packetId').toString(16).padStart(4, '0')}`,
  )
  assert.equal(pubs.length, 2)
  assert.deepEqual(
    pubs.map(decodePublish).map((p) => [p.payload.toString(), p.qos, p.dup, p.packetId]),
    [
      ['q1-unacked', 1, true, a.packetId],
      ['q2-unreceived', 2, true, c.packetId],
    ],
  )
  assert.equal(defined(pubs[0], 'pubs[0]').flags, 0x0a, 'QoS 1 with DUP: first byte 0x3A')
  assert.equal(defined(pubs[1], 'pubs[1]').flags, 0x0c, 'QoS 2 with DUP: first byte 0x3C')

  // Completing the flows leaves nothing outstanding.
  await s2.client.send(puback(defined(a.packetId, 'a.packetId')))
  await s2.client.send(pubcomp(defined(b.packetId, 'b.packetId')))
  await s2.client.send(pubrec(defined(c.packetId, 'c.packetId')))
  assert.equal(ackId(await s2.client.expect(PT.PUBREL)), c.packetId)
  await s2.client.send(pubcomp(defined(c.packetId, 'c.packetId')))
  assert.deepEqual(await s2.client.pingBarrier(), [])
})

test('QoS 2 exactly once across a reconnect: the PUBREC state survives in a persistent session', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('xo/#', (m) => got.push(m))
  const spec = { clientId: 'xo-pub', clean: false }
  const a = await RawClient.connect(broker.port, spec, t)
  await a.client.send(publish({ topic: 'xo/t', payload: 'once', qos: 2, packetId: 77 }))
  assert.equal(ackId(await a.client.expect(PT.PUBREC)), 77)
  const gone = waitFor(broker, 'clientDisconnect')
  a.client.destroy()
  await gone

  // The publisher never saw the PUBREC: it re-sends the PUBLISH with DUP on the new connection.
  const b = await RawClient.connect(broker.port, spec, t)
  assert.equal(b.connack.sessionPresent, true)
  await b.client.send(publish({ topic: 'xo/t', payload: 'once', qos: 2, packetId: 77, dup: true }))
  assert.equal(ackId(await b.client.expect(PT.PUBREC)), 77)
  await b.client.send(pubrel(77))
  assert.equal(ackId(await b.client.expect(PT.PUBCOMP)), 77)
  await broker.publish({ topic: 'xo/end', payload: 'end' })
  await until(() => got.some((m) => m.topic === 'xo/end'), 'the end marker')
  assert.deepEqual(
    got.map((m) => m.payload.toString()),
    ['once', 'end'],
  )
})

test('persistent reconnect: in-flight messages are re-sent first, then the queue, all in order', async (t) => {
  const broker = await startTestBroker(t, { maxInflight: 2 })
  const spec = { clientId: 'order', clean: false }
  const a = await RawClient.connect(broker.port, spec, t)
  await a.client.send(subscribe(1, [{ topic: 'ord', qos: 1 }]))
  await a.client.expect(PT.SUBACK)
  for (let i = 0; i < 4; i++) await broker.publish({ topic: 'ord', payload: String(i), qos: 1 })
  // Two in flight, unacknowledged; two queued behind them.
  const first = [await a.client.nextPublish(), await a.client.nextPublish()]
  assert.deepEqual(
    first.map((p) => p.payload.toString()),
    ['0', '1'],
  )
  const gone = waitFor(broker, 'clientDisconnect')
  a.client.destroy()
  await gone
  for (let i = 4; i < 6; i++) await broker.publish({ topic: 'ord', payload: String(i), qos: 1 })

  const b = await RawClient.connect(broker.port, spec, t)
  const got: Array<[string, boolean]> = []
  while (got.length < 6) {
    const p = await b.client.nextPublish()
    got.push([p.payload.toString(), p.dup])
    await b.client.send(puback(defined(p.packetId, 'p.packetId')))
  }
  assert.deepEqual(got, [
    ['0', true],
    ['1', true],
    ['2', false],
    ['3', false],
    ['4', false],
    ['5', false],
  ])
  assert.deepEqual(await b.client.pingBarrier(), [])
})

test('outgoing packet ids wrap past 65535 without ever using 0 or an id still in flight', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'wrap' }, t)
  await client.send(subscribe(1, [{ topic: 'wrap', qos: 1 }]))
  await client.expect(PT.SUBACK)
  const total = 70_000
  const inflight = new Set<number>()
  let received = 0
  let maxId = 0
  const reader = (async () => {
    while (received < total) {
      const p = await client.nextPublish(20_000)
      const id = defined(p.packetId, 'p.packetId')
      assert.notEqual(id, 0, 'packet id 0 is not allowed')
      assert.ok(!inflight.has(id), `id ${id} reused while in flight`)
      assert.equal(Number(p.payload.toString()), received, 'in order')
      maxId = Math.max(maxId, id)
      received++
      inflight.add(id)
      // Acknowledge with a small lag so several ids are in flight at any time.
      if (inflight.size >= 10) {
        for (const old of inflight) {
          await client.send(puback(old))
          inflight.delete(old)
          if (inflight.size < 5) break
        }
      }
    }
    for (const old of inflight) await client.send(puback(old))
  })()
  let readerError: unknown
  reader.catch((e: unknown) => {
    readerError = e
  })
  // Publish in batches below maxQueuedMessages so nothing is dropped.
  for (let sent = 0; sent < total; ) {
    const batch = Math.min(500, total - sent)
    for (let i = 0; i < batch; i++) await broker.publish({ topic: 'wrap', payload: String(sent + i), qos: 1 })
    sent += batch
    await until(() => readerError !== undefined || received >= sent - 200, `delivery of ${sent}`, 20_000)
    if (readerError !== undefined) throw readerError
  }
  await reader
  assert.equal(received, total)
  assert.ok(maxId <= 65535)
  assert.deepEqual(await client.pingBarrier(), [])
})
