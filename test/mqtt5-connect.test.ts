// Issue 5, points 11, 12 and 13 (and 1 for CONNACK): what CONNACK tells an MQTT 5 client, the
// refusal of enhanced authentication, and the reason codes of server-sent DISCONNECTs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { mqtt5, Raw5, startTestBroker, TIMEOUT, uid, withTimeout } from './mqtt5-helpers.ts'

test('CONNACK states the capabilities (defaults): Receive Maximum, Topic Alias Maximum, Maximum Packet Size, availability flags; Maximum QoS absent', async (t) => {
  const broker = await startTestBroker(t)
  const { connack } = await Raw5.connect(broker.port, { clientId: `caps-${uid()}` }, t)
  assert.equal(connack.reasonCode, 0)
  assert.equal(connack.sessionPresent, false)
  const p = connack.properties ?? {}
  // Absent Receive Maximum means 65535 [3.2.2.3.3]; the broker's default is 65535.
  assert.equal(p.receiveMaximum ?? 65_535, 65_535)
  assert.equal(p.topicAliasMaximum, 10)
  assert.equal(p.maximumPacketSize, 2_000_000)
  assert.equal(p.maximumQoS, undefined, 'Maximum QoS absent: QoS 2 supported')
  // Absent means available; the broker must not claim "not available" for what it supports.
  assert.notEqual(p.retainAvailable, false)
  assert.notEqual(p.wildcardSubscriptionAvailable, false)
  assert.notEqual(p.subscriptionIdentifiersAvailable, false)
  assert.notEqual(p.sharedSubscriptionAvailable, false)
  assert.equal(
    p.assignedClientIdentifier,
    undefined,
    'no Assigned Client Identifier when the client chose one',
  )
  assert.equal(p.serverKeepAlive, undefined, 'no Server Keep Alive without a cap')
  assert.equal(p.responseInformation, undefined, 'no Response Information unless requested')
})

test('CONNACK follows the configured receiveMaximum, topicAliasMaximum and maxPacketSize', async (t) => {
  const broker = await startTestBroker(t, { receiveMaximum: 7, topicAliasMaximum: 3, maxPacketSize: 4321 })
  const { connack } = await Raw5.connect(broker.port, {}, t)
  assert.equal(connack.reasonCode, 0)
  assert.equal(connack.properties?.receiveMaximum, 7)
  assert.equal(connack.properties?.topicAliasMaximum, 3)
  assert.equal(connack.properties?.maximumPacketSize, 4321)
})

test('CONNACK seen by MQTT.js 5 carries the same capabilities', async (t) => {
  const broker = await startTestBroker(t, { topicAliasMaximum: 5 })
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: `js-${uid()}`,
  })
  t.after(() => client.end(true))
  const [connack] = await withTimeout(
    new Promise<[mqtt.IConnackPacket]>((resolve, reject) => {
      client.once('connect', (p) => resolve([p]))
      client.once('error', reject)
    }),
    'CONNACK',
  )
  assert.equal(connack.reasonCode ?? 0, 0)
  assert.equal(connack.properties?.topicAliasMaximum, 5)
  assert.equal(connack.properties?.maximumQoS, undefined)
})

test('Assigned Client Identifier for an empty client id (raw and MQTT.js), and it is unique', async (t) => {
  const broker = await startTestBroker(t)
  const a = await Raw5.connect(broker.port, { clientId: '' }, t)
  const b = await Raw5.connect(broker.port, { clientId: '' }, t)
  assert.equal(a.connack.reasonCode, 0)
  const idA = a.connack.properties?.assignedClientIdentifier
  const idB = b.connack.properties?.assignedClientIdentifier
  assert.equal(typeof idA, 'string')
  assert.ok(idA && idA.length > 0)
  assert.notEqual(idA, idB)
  // Both stay connected: no takeover between the two assigned ids.
  assert.deepEqual(await a.client.pingBarrier(), [])
  assert.deepEqual(await b.client.pingBarrier(), [])

  const js = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: '',
  })
  t.after(() => js.end(true))
  const connack = await withTimeout(
    new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      js.once('connect', resolve)
      js.once('error', reject)
    }),
    'CONNACK',
  )
  assert.ok((connack.properties?.assignedClientIdentifier ?? '').length > 0)
})

test('Server Keep Alive when maxKeepalive caps the client keepalive (larger, and 0)', async (t) => {
  const broker = await startTestBroker(t, { maxKeepalive: 30 })
  const big = await Raw5.connect(broker.port, { keepalive: 60 }, t)
  assert.equal(big.connack.properties?.serverKeepAlive, 30)
  const zero = await Raw5.connect(broker.port, { keepalive: 0 }, t)
  assert.equal(zero.connack.properties?.serverKeepAlive, 30)
  const small = await Raw5.connect(broker.port, { keepalive: 10 }, t)
  assert.equal(small.connack.properties?.serverKeepAlive, undefined, 'no Server Keep Alive within the cap')
})

test('the Server Keep Alive is enforced: silent past 1.5 × the granted value → DISCONNECT 0x8D', async (t) => {
  const broker = await startTestBroker(t, { maxKeepalive: 1 })
  const { client, connack } = await Raw5.connect(broker.port, { keepalive: 60 }, t)
  assert.equal(connack.properties?.serverKeepAlive, 1)
  const d = await client.expectDisconnect(TIMEOUT)
  assert.equal(d.reasonCode, 0x8d)
})

test('keepalive timeout → DISCONNECT 0x8D (Keep Alive timeout)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, { keepalive: 1 }, t)
  const d = await client.expectDisconnect(TIMEOUT)
  assert.equal(d.reasonCode, 0x8d)
})

test('Request Response Information 1 → Response Information in CONNACK; MQTT.js too', async (t) => {
  const broker = await startTestBroker(t)
  const { connack } = await Raw5.connect(
    broker.port,
    { clientId: 'rri', properties: { requestResponseInformation: true } },
    t,
  )
  const info = connack.properties?.responseInformation
  assert.equal(typeof info, 'string')
  assert.ok(info && info.length > 0)
  const off = await Raw5.connect(broker.port, { properties: { requestResponseInformation: false } }, t)
  assert.equal(off.connack.properties?.responseInformation, undefined)

  const js = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: `js-${uid()}`,
    properties: { requestResponseInformation: true },
  })
  t.after(() => js.end(true))
  const jsConnack = await withTimeout(
    new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      js.once('connect', resolve)
      js.once('error', reject)
    }),
    'CONNACK',
  )
  assert.ok((jsConnack.properties?.responseInformation ?? '').length > 0)
})

test('AUTH is not offered: CONNECT with an Authentication Method gets CONNACK 0x8C, then the close', async (t) => {
  const broker = await startTestBroker(t)
  const { client, connack } = await Raw5.connect(
    broker.port,
    { properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('x') } },
    t,
  )
  assert.equal(connack.reasonCode, 0x8c)
  await client.untilClosed()

  const js = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: `js-${uid()}`,
    properties: { authenticationMethod: 'SCRAM-SHA-1' },
  })
  t.after(() => js.end(true))
  const err = await withTimeout(
    new Promise<Error & { code?: number | string }>((resolve, reject) => {
      js.once('error', resolve)
      js.once('connect', () => reject(new Error('accepted')))
    }),
    'the refusal',
  )
  assert.equal(err.code, 0x8c)
})

test('CONNACK reason codes for refused credentials: 0x86 bad user name or password, 0x87 not authorized', async (t) => {
  const broker = await startTestBroker(t, { user: 'u', pass: 'p' })
  const bad = await Raw5.connect(broker.port, { username: 'u', password: Buffer.from('nope') }, t)
  assert.equal(bad.connack.reasonCode, 0x86)
  await bad.client.untilClosed()
  const none = await Raw5.connect(broker.port, {}, t)
  assert.equal(none.connack.reasonCode, 0x87)
  await none.client.untilClosed()
  const ok = await Raw5.connect(broker.port, { username: 'u', password: Buffer.from('p') }, t)
  assert.equal(ok.connack.reasonCode, 0)
})

test('session taken over → the old connection gets DISCONNECT 0x8E', async (t) => {
  const broker = await startTestBroker(t)
  const id = `dup-${uid()}`
  const first = await Raw5.connect(broker.port, { clientId: id }, t)
  const second = await Raw5.connect(broker.port, { clientId: id }, t)
  assert.equal(second.connack.reasonCode, 0)
  const d = await first.client.expectDisconnect()
  assert.equal(d.reasonCode, 0x8e)
  assert.deepEqual(await second.client.pingBarrier(), [])
})

test('broker shutting down → DISCONNECT 0x8B', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  await client.pingBarrier()
  const closing = broker.close()
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x8b)
  await closing
})

test('a second CONNECT → DISCONNECT 0x82 (protocol error); other clients unaffected', async (t) => {
  const broker = await startTestBroker(t)
  const other = await Raw5.connect(broker.port, {}, t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: true,
    keepalive: 0,
    clientId: 'x',
  })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x82)
  assert.deepEqual(await other.client.pingBarrier(), [])
})

test('an AUTH packet after CONNECT (never offered) → DISCONNECT 0x82', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1' } })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x82)
})

test('malformed packet (PUBLISH property length beyond the packet) → DISCONNECT 0x81', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  // PUBLISH QoS 0, topic "a", Property Length 9 but only one property byte follows.
  client.sendRaw(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x09, 0x01]))
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x81)
})

test('Receive Maximum 0 in CONNECT is a protocol error (no CONNACK 0)', async (t) => {
  const broker = await startTestBroker(t)
  const client = await Raw5.open(broker.port, t)
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: true,
    keepalive: 0,
    clientId: `rm0-${uid()}`,
    properties: { receiveMaximum: 0 },
  })
  const got = await client.untilClosed()
  const connack = got.find((p) => p.cmd === 'connack')
  assert.ok(
    connack === undefined || (connack.reasonCode ?? 0) >= 0x80,
    `no successful CONNACK: ${JSON.stringify(got)}`,
  )
})

test('MQTT.js sees the server DISCONNECT reason code (takeover 0x8E)', async (t) => {
  const broker = await startTestBroker(t)
  const id = `js-dup-${uid()}`
  const first = await mqtt5(broker.port, { clientId: id }, t)
  const got = withTimeout(
    new Promise<mqtt.IDisconnectPacket>((resolve) => first.once('disconnect', resolve)),
    'DISCONNECT at MQTT.js',
  )
  await mqtt5(broker.port, { clientId: id }, t)
  const d = await got
  assert.equal(d.reasonCode, 0x8e)
})

test('a wildcard in a PUBLISH topic → DISCONNECT 0x90 (Topic Name invalid)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.send({ cmd: 'publish', topic: 'a/+', payload: 'x', qos: 0, dup: false, retain: false })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x90)
})

test('ill-formed UTF-8 in a string property (Content Type) is a malformed packet → DISCONNECT 0x81, not forwarded', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'a', qos: 0 }])
  const { client } = await Raw5.connect(broker.port, {}, t)
  // PUBLISH QoS 0, topic "a", properties: Content Type (0x03) = bytes ff fe; payload "x".
  client.sendRaw(Buffer.from([0x30, 0x0a, 0x00, 0x01, 0x61, 0x05, 0x03, 0x00, 0x02, 0xff, 0xfe, 0x78]))
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x81, '[MQTT-1.5.4-1] ill-formed UTF-8 makes the packet malformed')
  assert.deepEqual(await sub.pingBarrier(), [], 'not forwarded')
})

test('ill-formed UTF-8 in a User Property is a malformed packet → DISCONNECT 0x81', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  // PUBLISH QoS 0, topic "a", properties: User Property (0x26) name = ff, value = "v"; payload "x".
  client.sendRaw(
    Buffer.from([0x30, 0x0c, 0x00, 0x01, 0x61, 0x07, 0x26, 0x00, 0x01, 0xff, 0x00, 0x01, 0x76, 0x78]),
  )
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x81)
})
