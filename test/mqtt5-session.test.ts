// Issue 5, points 2 and 3: Clean Start and Session Expiry Interval (also changed in DISCONNECT;
// an expired session is gone with its queued messages), and Message Expiry Interval (expired
// messages not delivered from queues nor as retained; the remaining interval forwarded).
// Expiry needs time to pass: intervals are 1 s, and the tests wait a bounded time past them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { defined } from './defined.ts'
import {
  Inbox5,
  mqtt5,
  type Packet,
  type PacketOf,
  Raw5,
  sleep,
  startTestBroker,
  uid,
} from './mqtt5-helpers.ts'

/** Past a 1 s interval: the broker's timers and its 0.5 s sweep have had time to act. */
const PAST_ONE_SECOND = 2200
/** A message expiry that a subscriber must still see before it passes. */
const SHORT_EXPIRY_S = 3

function publishes(packets: Packet[]): PacketOf<'publish'>[] {
  return packets.filter((p): p is PacketOf<'publish'> => p.cmd === 'publish')
}

async function persistent(port: number, id: string, expiry: number, t: Parameters<typeof Raw5.connect>[2]) {
  return Raw5.connect(port, { clientId: id, clean: false, properties: { sessionExpiryInterval: expiry } }, t)
}

async function disconnect(client: Raw5, sessionExpiryInterval?: number): Promise<void> {
  client.send({
    cmd: 'disconnect',
    reasonCode: 0,
    properties: sessionExpiryInterval === undefined ? undefined : { sessionExpiryInterval },
  })
  await client.untilClosed()
}

// ---------------------------------------------------------------------------------------------
// Point 2: Clean Start and Session Expiry Interval

test('Clean Start 0 + Session Expiry Interval: the session and its queued messages survive a disconnect within the interval', async (t) => {
  const broker = await startTestBroker(t)
  const id = `keep-${uid()}`
  const first = await persistent(broker.port, id, 60, t)
  assert.equal(first.connack.sessionPresent, false)
  await first.client.subscribe(1, [{ topic: 'keep/#', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('keep/1', 'a', { qos: 1 })
  await pub.publishAsync('keep/2', 'b', { qos: 1 })
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, true)
  const got = [await second.client.expect('publish'), await second.client.expect('publish')]
  assert.deepEqual(
    got.map((p) => `${p.topic}=${p.payload.toString()}`),
    ['keep/1=a', 'keep/2=b'],
  )
})

test('MQTT.js: clean false + sessionExpiryInterval keeps subscriptions across a reconnect', async (t) => {
  const broker = await startTestBroker(t)
  const id = `js-keep-${uid()}`
  const opts = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } }
  const a = await mqtt5(broker.port, opts, t)
  await a.subscribeAsync('jskeep', { qos: 1 })
  await a.endAsync()
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('jskeep', 'while away', { qos: 1 })
  const c = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...opts,
  })
  t.after(() => c.end(true))
  const inbox = new Inbox5(c)
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => c.once('connect', resolve))
  assert.equal(connack.sessionPresent, true)
  const m = await inbox.waitFor((x) => x.topic === 'jskeep', 'the queued message')
  assert.equal(m.payload.toString(), 'while away')
})

test('Session Expiry Interval 0 (the default) with Clean Start 0: the session ends with the connection', async (t) => {
  const broker = await startTestBroker(t)
  const id = `zero-${uid()}`
  const first = await Raw5.connect(broker.port, { clientId: id, clean: false }, t)
  await first.client.subscribe(1, [{ topic: 'zero', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('zero', 'lost', { qos: 1 })
  const second = await Raw5.connect(broker.port, { clientId: id, clean: false }, t)
  assert.equal(second.connack.sessionPresent, false)
  assert.deepEqual(publishes(await second.client.pingBarrier()), [])
})

test('Clean Start 1 discards a stored session and its queued messages', async (t) => {
  const broker = await startTestBroker(t)
  const id = `clean-${uid()}`
  const first = await persistent(broker.port, id, 60, t)
  await first.client.subscribe(1, [{ topic: 'clean', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('clean', 'queued', { qos: 1 })
  const second = await Raw5.connect(
    broker.port,
    { clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  assert.equal(second.connack.sessionPresent, false)
  assert.deepEqual(publishes(await second.client.pingBarrier()), [])
  await pub.publishAsync('clean', 'after', { qos: 1 })
  assert.deepEqual(publishes(await second.client.pingBarrier()), [], 'the old subscription is gone')
})

test('a session past its Session Expiry Interval is gone, with its queued messages', async (t) => {
  const broker = await startTestBroker(t)
  const id = `expire-${uid()}`
  const first = await persistent(broker.port, id, 1, t)
  await first.client.subscribe(1, [{ topic: 'expire', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('expire', 'queued-1', { qos: 1 })
  await pub.publishAsync('expire', 'queued-2', { qos: 2 })
  await sleep(PAST_ONE_SECOND)
  // Freed: the broker no longer holds the session (nor, with it, its queue).
  assert.equal(broker.sessionInfo(id), undefined, 'the expired session is still held by the broker')
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, false)
  assert.deepEqual(publishes(await second.client.pingBarrier()), [], 'no queued message survives')
  await pub.publishAsync('expire', 'later', { qos: 1 })
  assert.deepEqual(publishes(await second.client.pingBarrier()), [], 'no subscription survives')
})

test('a new Session Expiry Interval in DISCONNECT: 0 ends the session at once', async (t) => {
  const broker = await startTestBroker(t)
  const id = `disc0-${uid()}`
  const first = await persistent(broker.port, id, 60, t)
  await first.client.subscribe(1, [{ topic: 'disc0', qos: 1 }])
  await disconnect(first.client, 0)
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, false)
})

test('a new Session Expiry Interval in DISCONNECT: raised from 1 s, the session outlives the old interval', async (t) => {
  const broker = await startTestBroker(t)
  const id = `discup-${uid()}`
  const first = await persistent(broker.port, id, 1, t)
  await first.client.subscribe(1, [{ topic: 'discup', qos: 1 }])
  await disconnect(first.client, 60)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('discup', 'kept', { qos: 1 })
  await sleep(PAST_ONE_SECOND)
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, true)
  const p = await second.client.expect('publish')
  assert.equal(p.payload.toString(), 'kept')
})

test('MQTT.js: a new Session Expiry Interval in DISCONNECT (lowered to 1 s) makes the session expire', async (t) => {
  const broker = await startTestBroker(t)
  const id = `js-disc-${uid()}`
  const opts = { clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } }
  const a = await mqtt5(broker.port, opts, t)
  await a.subscribeAsync('jsdisc', { qos: 1 })
  await new Promise<void>((resolve) =>
    a.end(false, { reasonCode: 0, properties: { sessionExpiryInterval: 1 } }, () => resolve()),
  )
  await sleep(PAST_ONE_SECOND)
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, false)
})

test('Session Expiry Interval 0 in CONNECT, non-zero in DISCONNECT → DISCONNECT 0x82, session not kept', async (t) => {
  const broker = await startTestBroker(t)
  const id = `disc-bad-${uid()}`
  const { client } = await Raw5.connect(broker.port, { clientId: id, clean: false }, t)
  await client.subscribe(1, [{ topic: 'discbad', qos: 1 }])
  client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x82)
  const again = await persistent(broker.port, id, 60, t)
  assert.equal(again.connack.sessionPresent, false)
})

// ---------------------------------------------------------------------------------------------
// Point 3: Message Expiry Interval

test('Message Expiry: an expired message is not delivered from an offline queue; live ones are, with the remaining interval', async (t) => {
  const broker = await startTestBroker(t)
  const id = `mexp-${uid()}`
  const first = await persistent(broker.port, id, 60, t)
  await first.client.subscribe(1, [{ topic: 'mexp/#', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('mexp/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } })
  await pub.publishAsync('mexp/long', 'long', { qos: 1, properties: { messageExpiryInterval: 60 } })
  await pub.publishAsync('mexp/none', 'none', { qos: 2 })
  await sleep(PAST_ONE_SECOND)
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, true)
  const got = [await second.client.expect('publish'), await second.client.expect('publish')]
  got.push(...publishes(await second.client.pingBarrier()))
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['long', 'none'],
  )
  // Queued at least 2.2 s of its 60: what is forwarded is what is left, so at most 58.
  const remaining = defined(got[0], 'got[0]').properties?.messageExpiryInterval
  assert.ok(typeof remaining === 'number', 'the remaining interval is forwarded')
  assert.ok(remaining <= 58 && remaining >= 1, `remaining ${remaining} within 1..58`)
  assert.equal(defined(got[1], 'got[1]').properties?.messageExpiryInterval, undefined, 'no expiry invented')
})

test('Message Expiry: a message waiting behind a full Receive Maximum window expires there', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, { properties: { receiveMaximum: 1 } }, t)
  await sub.subscribe(1, [{ topic: 'window', qos: 1 }])
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('window', 'first', { qos: 1 })
  await pub.publishAsync('window', 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } })
  const [first] = publishes(await sub.pingBarrier())
  assert.equal(first?.payload.toString(), 'first')
  await sleep(PAST_ONE_SECOND)
  await pub.publishAsync('window', 'third', { qos: 1 })
  sub.send({ cmd: 'puback', messageId: first.messageId })
  const next = await sub.expect('publish')
  assert.equal(next.payload.toString(), 'third')
})

test('Message Expiry: an expired retained message is not delivered on subscribe', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  // Connected beforehand, so only one SUBSCRIBE round trip has to fit in the short interval,
  // and that interval is 3 s: a busy machine still gets the message before it expires.
  const early = await mqtt5(broker.port, {}, t)
  const earlyInbox = new Inbox5(early)
  const publishedAt = Date.now()
  await pub.publishAsync('rexp/short', 'short', {
    qos: 1,
    retain: true,
    properties: { messageExpiryInterval: SHORT_EXPIRY_S },
  })
  await pub.publishAsync('rexp/long', 'long', {
    qos: 1,
    retain: true,
    properties: { messageExpiryInterval: 60 },
  })
  // Before the interval passes, it is delivered.
  await early.subscribeAsync('rexp/#', { qos: 1 })
  await earlyInbox.waitFor((m) => m.topic === 'rexp/short', 'the retained message before expiry')
  await sleep(publishedAt + SHORT_EXPIRY_S * 1000 + 200 - Date.now())
  const { client: late } = await Raw5.connect(broker.port, {}, t)
  await late.subscribe(1, [{ topic: 'rexp/#', qos: 1 }])
  const got = publishes(await late.pingBarrier())
  assert.deepEqual(
    got.map((p) => p.topic),
    ['rexp/long'],
  )
  assert.equal(defined(got[0], 'got[0]').retain, true)
})

test('Message Expiry: a retained message carries its remaining interval, less than the original', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rrem', 'x', { qos: 0, retain: true, properties: { messageExpiryInterval: 30 } })
  await sleep(1100)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('rrem', { qos: 0 })
  const m = await inbox.waitFor((x) => x.topic === 'rrem', 'the retained message')
  // Retained at least 1.1 s of its 30: what is forwarded is what is left, so at most 29.
  const remaining = m.packet.properties?.messageExpiryInterval
  assert.ok(typeof remaining === 'number', 'the remaining interval is forwarded')
  assert.ok(remaining <= 29 && remaining > 0, `remaining ${remaining} within 1..29`)
})

test('Message Expiry: live delivery forwards the interval (≤ the original)', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('live/exp', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('live/exp', 'x', { qos: 1, properties: { messageExpiryInterval: 120 } })
  const m = await inbox.waitFor((x) => x.topic === 'live/exp', 'the message')
  const remaining = m.packet.properties?.messageExpiryInterval
  assert.ok(typeof remaining === 'number', 'the remaining interval is forwarded')
  assert.ok(remaining <= 120 && remaining > 0)
})

test('properties and subscription identifiers survive the offline queue and the retained store', async (t) => {
  const broker = await startTestBroker(t)
  const id = `props-q-${uid()}`
  const first = await persistent(broker.port, id, 60, t)
  await first.client.subscribe(1, [{ topic: 'pq/#', qos: 1 }], { subscriptionIdentifier: 77 })
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  const properties = {
    contentType: 'application/json',
    responseTopic: 'pq/reply',
    correlationData: Buffer.from([9, 8, 7]),
    userProperties: { k: 'v' },
    payloadFormatIndicator: true,
  }
  await pub.publishAsync('pq/queued', '{}', { qos: 1, properties })
  await pub.publishAsync('pq/retained', '[]', { qos: 1, retain: true, properties })
  const second = await persistent(broker.port, id, 60, t)
  const got = [await second.client.expect('publish'), await second.client.expect('publish')]
  const { client: late } = await Raw5.connect(broker.port, {}, t)
  await late.subscribe(1, [{ topic: 'pq/retained', qos: 1 }])
  got.push(await late.expect('publish'))
  for (const p of got) {
    const q = p.properties ?? {}
    assert.equal(q.contentType, 'application/json', p.topic)
    assert.equal(q.responseTopic, 'pq/reply')
    assert.deepEqual(q.correlationData, Buffer.from([9, 8, 7]))
    assert.deepEqual({ ...q.userProperties }, { k: 'v' })
    assert.equal(q.payloadFormatIndicator, true)
  }
  assert.deepEqual(
    defined(got[0], 'got[0]').properties?.subscriptionIdentifier,
    77,
    'the queued copy keeps its subscription id',
  )
})

test('Clean Start 1 with a Session Expiry Interval: a fresh session that outlives the connection', async (t) => {
  const broker = await startTestBroker(t)
  const id = `cs1-${uid()}`
  const first = await Raw5.connect(
    broker.port,
    { clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  assert.equal(first.connack.sessionPresent, false)
  await first.client.subscribe(1, [{ topic: 'cs1', qos: 1 }])
  await disconnect(first.client)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('cs1', 'kept', { qos: 1 })
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, true)
  assert.equal((await second.client.expect('publish')).payload.toString(), 'kept')
})

test('an Assigned Client Identifier names a session that can be resumed', async (t) => {
  const broker = await startTestBroker(t)
  const first = await Raw5.connect(
    broker.port,
    { clientId: '', clean: true, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  const id = first.connack.properties?.assignedClientIdentifier
  assert.ok(id)
  await first.client.subscribe(1, [{ topic: 'assigned', qos: 1 }])
  await disconnect(first.client)
  const second = await persistent(broker.port, id, 60, t)
  assert.equal(second.connack.sessionPresent, true)
})
