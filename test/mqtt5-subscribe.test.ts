// Issue 5, points 7 and 8: subscription options (No Local, Retain As Published, Retain Handling
// 0/1/2), Subscription Identifiers (one copy carrying every matching identifier), and shared
// subscriptions `$share/<group>/<filter>` (round robin among the members online, 3.1.1 members
// too; queued for an offline persistent member only when none is online).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  Inbox5,
  mqtt5,
  type Packet,
  type PacketOf,
  Raw5,
  startTestBroker,
  TIMEOUT,
  uid,
} from './mqtt5-helpers.ts'

function publishes(packets: Packet[]): PacketOf<'publish'>[] {
  return packets.filter((p): p is PacketOf<'publish'> => p.cmd === 'publish')
}

function ids(p: PacketOf<'publish'>): number[] {
  const v = p.properties?.subscriptionIdentifier
  return v === undefined ? [] : (Array.isArray(v) ? [...v] : [v]).sort((a, b) => a - b)
}

// ---------------------------------------------------------------------------------------------
// Point 7: subscription options

test('No Local: a client does not get its own publications on that subscription, others do (MQTT.js)', async (t) => {
  const broker = await startTestBroker(t)
  const me = await mqtt5(broker.port, {}, t)
  const mine = new Inbox5(me)
  await me.subscribeAsync('nl/local', { qos: 1, nl: true })
  await me.subscribeAsync('nl/normal', { qos: 1 })
  const other = await mqtt5(broker.port, {}, t)
  await me.publishAsync('nl/local', 'own', { qos: 1 })
  await me.publishAsync('nl/normal', 'own-normal', { qos: 1 })
  await other.publishAsync('nl/local', 'theirs', { qos: 1 })
  await mine.waitFor((m) => m.payload.toString() === 'theirs', "the other client's message")
  await mine.waitFor((m) => m.payload.toString() === 'own-normal', 'own message without No Local')
  const before = await mine.barrier(other, 'nl/normal')
  assert.deepEqual(before.map((m) => m.payload.toString()).sort(), ['own-normal', 'theirs'])
})

test('No Local applies per subscription: an overlapping subscription without it still delivers', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.subscribe(1, [{ topic: 'nlo/a', qos: 0, nl: true }])
  client.publish({ topic: 'nlo/a', payload: 'x' })
  assert.deepEqual(publishes(await client.pingBarrier()), [], 'No Local alone: nothing')
  await client.subscribe(2, [{ topic: 'nlo/#', qos: 0 }])
  client.publish({ topic: 'nlo/a', payload: 'y' })
  const got = publishes(await client.pingBarrier())
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['y'],
  )
})

test('Retain As Published: the retain flag is kept on live delivery only when asked', async (t) => {
  const broker = await startTestBroker(t)
  const { client: rap } = await Raw5.connect(broker.port, {}, t)
  await rap.subscribe(1, [{ topic: 'rap', qos: 1, rap: true }])
  const { client: plain } = await Raw5.connect(broker.port, {}, t)
  await plain.subscribe(1, [{ topic: 'rap', qos: 1 }])
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rap', 'r', { qos: 1, retain: true })
  await pub.publishAsync('rap', 'n', { qos: 1, retain: false })
  const a = [await rap.expect('publish'), await rap.expect('publish')]
  const b = [await plain.expect('publish'), await plain.expect('publish')]
  assert.deepEqual(
    a.map((p) => [p.payload.toString(), p.retain]),
    [
      ['r', true],
      ['n', false],
    ],
  )
  assert.deepEqual(
    b.map((p) => [p.payload.toString(), p.retain]),
    [
      ['r', false],
      ['n', false],
    ],
  )
  // On subscribe, retained messages always carry the flag.
  const { client: late } = await Raw5.connect(broker.port, {}, t)
  await late.subscribe(1, [{ topic: 'rap', qos: 1 }])
  const r = await late.expect('publish')
  assert.equal(r.retain, true)
})

test('Retain Handling 0: retained messages on every subscribe, also a repeated one', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rh0/x', 'kept', { qos: 1, retain: true })
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.subscribe(1, [{ topic: 'rh0/#', qos: 1, rh: 0 }])
  assert.equal(publishes(await client.pingBarrier()).length, 1)
  await client.subscribe(2, [{ topic: 'rh0/#', qos: 1, rh: 0 }])
  const again = publishes(await client.pingBarrier())
  assert.equal(again.length, 1)
  assert.equal(defined(again[0], 'again[0]').retain, true)
})

test('Retain Handling 1: retained messages only when the subscription is new', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rh1/x', 'kept', { qos: 1, retain: true })
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.subscribe(1, [{ topic: 'rh1/#', qos: 1, rh: 1 }])
  const first = publishes(await client.pingBarrier())
  assert.deepEqual(
    first.map((p) => [p.topic, p.retain]),
    [['rh1/x', true]],
  )
  client.send({ cmd: 'puback', messageId: defined(first[0], 'first[0]').messageId })
  await client.subscribe(2, [{ topic: 'rh1/#', qos: 1, rh: 1 }])
  assert.deepEqual(publishes(await client.pingBarrier()), [], 'not again for an existing subscription')
  // After an unsubscribe the subscription is new again.
  client.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['rh1/#'] })
  await client.expect('unsuback')
  await client.subscribe(4, [{ topic: 'rh1/#', qos: 1, rh: 1 }])
  assert.equal(publishes(await client.pingBarrier()).length, 1)
})

test('Retain Handling 2: no retained messages on subscribe; live ones still arrive (MQTT.js)', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rh2/x', 'kept', { qos: 1, retain: true })
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('rh2/#', { qos: 1, rh: 2 })
  await pub.publishAsync('rh2/x', 'live', { qos: 1 })
  await inbox.waitFor((m) => m.payload.toString() === 'live', 'the live message')
  assert.deepEqual(
    inbox.messages.map((m) => m.payload.toString()),
    ['live'],
  )
})

test('Retain Handling 3 is a protocol error (DISCONNECT with an error reason)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  // SUBSCRIBE id 1, no properties, filter "a", options 0x31: QoS 1, Retain Handling 3.
  client.sendRaw(Buffer.from([0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x31]))
  const d = await client.expectDisconnect()
  assert.ok((d.reasonCode ?? 0) === 0x81 || d.reasonCode === 0x82, `reason ${d.reasonCode}`)
})

// ---------------------------------------------------------------------------------------------
// Point 7: Subscription Identifiers

test('Subscription Identifiers: one copy carries every matching identifier (raw)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.subscribe(1, [{ topic: 'sid/#', qos: 1 }], { subscriptionIdentifier: 1 })
  await client.subscribe(2, [{ topic: 'sid/+/x', qos: 0 }], { subscriptionIdentifier: 2 })
  await client.subscribe(3, [{ topic: 'sid/a/x', qos: 0 }])
  await client.subscribe(4, [{ topic: 'sid/a/+', qos: 0 }], { subscriptionIdentifier: 268_435_455 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('sid/a/x', 'm', { qos: 1 })
  const got = publishes(await client.pingBarrier())
  assert.equal(got.length, 1, 'one copy for overlapping subscriptions')
  assert.deepEqual(ids(defined(got[0], 'got[0]')), [1, 2, 268_435_455])
  assert.equal(defined(got[0], 'got[0]').qos, 1, 'at the highest granted QoS')
  await pub.publishAsync('sid/b/y', 'n', { qos: 1 })
  const only = publishes(await client.pingBarrier())
  assert.deepEqual(only.map(ids), [[1]])
})

test('Subscription Identifiers with MQTT.js; a retained message on subscribe carries that subscription id', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('sidr/x', 'retained', { qos: 1, retain: true })
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('sidr/#', { qos: 1, properties: { subscriptionIdentifier: 42 } })
  const r = await inbox.waitFor((m) => m.payload.toString() === 'retained', 'the retained message')
  assert.deepEqual(r.packet.properties?.subscriptionIdentifier, 42)
  await sub.subscribeAsync('sidr/+', { qos: 1, properties: { subscriptionIdentifier: 7 }, rh: 2 })
  await pub.publishAsync('sidr/x', 'live', { qos: 1 })
  const live = await inbox.waitFor((m) => m.payload.toString() === 'live', 'the live message')
  const v = live.packet.properties?.subscriptionIdentifier
  assert.deepEqual(
    (Array.isArray(v) ? [...v] : [v]).sort((a, b) => (a ?? 0) - (b ?? 0)),
    [7, 42],
  )
  assert.equal(inbox.messages.filter((m) => m.payload.toString() === 'live').length, 1)
})

test('Subscription Identifiers: re-subscribing replaces the identifier (and without one removes it)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.subscribe(1, [{ topic: 'sidre', qos: 0 }], { subscriptionIdentifier: 5 })
  await client.subscribe(2, [{ topic: 'sidre', qos: 0 }], { subscriptionIdentifier: 6 })
  client.publish({ topic: 'sidre', payload: 'a' })
  assert.deepEqual(publishes(await client.pingBarrier()).map(ids), [[6]])
  await client.subscribe(3, [{ topic: 'sidre', qos: 0 }])
  client.publish({ topic: 'sidre', payload: 'b' })
  assert.deepEqual(publishes(await client.pingBarrier()).map(ids), [[]])
})

// ---------------------------------------------------------------------------------------------
// Point 8: shared subscriptions

test('shared subscription: each message to one member, round robin among online members, 3.1.1 members too', async (t) => {
  const broker = await startTestBroker(t)
  const a = await mqtt5(broker.port, {}, t)
  const b = await mqtt5(broker.port, {}, t)
  const c = await mqtt5(broker.port, { protocolVersion: 4 }, t)
  const inboxes = [new Inbox5(a), new Inbox5(b), new Inbox5(c)]
  for (const m of [a, b, c]) await m.subscribeAsync('$share/g/sh/#', { qos: 1 })
  const everyone = await mqtt5(broker.port, {}, t)
  const all = new Inbox5(everyone)
  await everyone.subscribeAsync('sh/#', { qos: 1 })
  const other = await mqtt5(broker.port, {}, t)
  const otherGroup = new Inbox5(other)
  await other.subscribeAsync('$share/h/sh/#', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  const n = 9
  for (let i = 0; i < n; i++) await pub.publishAsync(`sh/${i}`, String(i), { qos: 1 })
  await all.waitFor((m) => m.payload.toString() === String(n - 1), 'the last message (non-shared)')
  await otherGroup.waitFor((m) => m.payload.toString() === String(n - 1), 'the last message (group h)')
  const until = Date.now() + TIMEOUT
  while (inboxes.reduce((s, x) => s + x.messages.length, 0) < n && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10))
  }
  const received = inboxes.flatMap((x) => x.messages.map((m) => m.payload.toString()))
  assert.deepEqual(
    received.sort((x, y) => Number(x) - Number(y)),
    Array.from({ length: n }, (_, i) => String(i)),
    'every message exactly once in group g',
  )
  assert.deepEqual(
    inboxes.map((x) => x.messages.length),
    [3, 3, 3],
    'round robin: three each',
  )
  assert.ok(defined(inboxes[2], 'inboxes[2]').messages.length > 0, 'the 3.1.1 member gets its turn')
  assert.equal(otherGroup.messages.length, n, 'another group gets its own copy of each')
  // Delivered to members under the real topic, not the $share filter.
  assert.ok(defined(inboxes[0], 'inboxes[0]').messages.every((m) => m.topic.startsWith('sh/')))
})

test('shared subscription: not queued for an offline persistent member while another is online; queued when none is', async (t) => {
  const broker = await startTestBroker(t)
  const id = `shared-off-${uid()}`
  const offline = await Raw5.connect(
    broker.port,
    { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  await offline.client.subscribe(1, [{ topic: '$share/g/so', qos: 1 }])
  offline.client.send({ cmd: 'disconnect', reasonCode: 0 })
  await offline.client.untilClosed()
  const online = await mqtt5(broker.port, {}, t)
  const onlineInbox = new Inbox5(online)
  await online.subscribeAsync('$share/g/so', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  for (let i = 0; i < 4; i++) await pub.publishAsync('so', `on-${i}`, { qos: 1 })
  await onlineInbox.waitFor((m) => m.payload.toString() === 'on-3', 'the fourth message')
  assert.equal(onlineInbox.messages.length, 4, 'all four to the online member')
  await online.endAsync()
  await pub.publishAsync('so', 'while-none-online', { qos: 1 })
  const back = await Raw5.connect(
    broker.port,
    { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  assert.equal(back.connack.sessionPresent, true)
  const got = publishes([await back.client.next(), ...(await back.client.pingBarrier())])
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['while-none-online'],
  )
})

test('shared subscription between 3.1.1 clients only', async (t) => {
  const broker = await startTestBroker(t)
  const a = await mqtt5(broker.port, { protocolVersion: 4 }, t)
  const b = await mqtt5(broker.port, { protocolVersion: 4 }, t)
  const ia = new Inbox5(a)
  const ib = new Inbox5(b)
  await a.subscribeAsync('$share/g311/s311', { qos: 0 })
  await b.subscribeAsync('$share/g311/s311', { qos: 0 })
  const pub = await mqtt5(broker.port, { protocolVersion: 4 }, t)
  for (let i = 0; i < 4; i++) await pub.publishAsync('s311', String(i), { qos: 1 })
  const until = Date.now() + TIMEOUT
  while (ia.messages.length + ib.messages.length < 4 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 10))
  assert.equal(ia.messages.length + ib.messages.length, 4)
  assert.deepEqual([ia.messages.length, ib.messages.length], [2, 2])
})

test('shared subscription: retained messages are not sent on subscribe', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('shr/x', 'retained', { qos: 1, retain: true })
  const { client } = await Raw5.connect(broker.port, {}, t)
  const suback = await client.subscribe(1, [{ topic: '$share/g/shr/#', qos: 1 }])
  assert.deepEqual(suback.granted, [1])
  assert.deepEqual(publishes(await client.pingBarrier()), [])
})

test('shared subscription: invalid share names fail their entry with 0x8F; No Local on a shared subscription → DISCONNECT 0x82', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  const suback = await client.subscribe(1, [
    { topic: '$share/g', qos: 0 },
    { topic: '$share//x', qos: 0 },
    { topic: '$share/a+b/x', qos: 0 },
    { topic: '$share/ok/x', qos: 0 },
  ])
  assert.deepEqual(suback.granted, [0x8f, 0x8f, 0x8f, 0])
  client.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/g/x', qos: 0, nl: true }] })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x82)
})

test('Subscription Identifier 0 is a protocol error (DISCONNECT with an error reason)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  // SUBSCRIBE id 1, properties: Subscription Identifier (0x0B) = 0, filter "a", QoS 0.
  client.sendRaw(Buffer.from([0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 0x61, 0x00]))
  const d = await client.expectDisconnect()
  assert.ok(d.reasonCode === 0x81 || d.reasonCode === 0x82, `reason ${d.reasonCode}`)
})

test('reserved bits in the subscription options are a malformed packet → DISCONNECT 0x81', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  // SUBSCRIBE id 1, no properties, filter "a", options 0xC1: QoS 1 with the two reserved bits set.
  client.sendRaw(Buffer.from([0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0xc1]))
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x81, '[MQTT-3.8.3-5] reserved bits must be 0')
})

test('QoS 3 in the subscription options is a malformed packet → DISCONNECT 0x81', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.sendRaw(Buffer.from([0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x03]))
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x81)
})
