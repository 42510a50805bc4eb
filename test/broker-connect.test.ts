// Issue 3, point 3: CONNECT. Protocol names and levels, CONNACK return codes, client ids,
// a second CONNECT, client-id takeover.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClientInfo } from '../src/broker/types.ts'
import { installFakeClock } from './fake-clock.ts'
import {
  connect,
  decodeConnack,
  Inbox,
  markerBarrier,
  mqttConnect,
  PT,
  publish,
  RawClient,
  startTestBroker,
  subscribe,
  waitFor,
} from './helpers.ts'

test('MQTT 3.1.1: protocol name MQTT, level 4 → CONNACK 0 (bytes 20 02 00 00)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: 'v311', protocolName: 'MQTT', protocolLevel: 4 }))
  const p = await c.expect(PT.CONNACK)
  assert.equal(p.raw.toString('hex'), '20020000')
  assert.deepEqual(await c.pingBarrier(), [])
})

test('MQTT 3.1: protocol name MQIsdp, level 3 → CONNACK 0, and the session works', async (t) => {
  const broker = await startTestBroker(t)
  const { client, connack } = await RawClient.connect(
    broker.port,
    { clientId: 'v31', protocolName: 'MQIsdp', protocolLevel: 3 },
    t,
  )
  assert.equal(connack.returnCode, 0)
  assert.equal(connack.sessionPresent, false)
  await client.send(subscribe(1, [{ topic: 'v31/t', qos: 1 }]))
  await client.expect(PT.SUBACK)
  await client.send(publish({ topic: 'v31/t', payload: 'x', qos: 1, packetId: 2 }))
  const got = [await client.next(), await client.next()].map((p) => p.type).sort()
  assert.deepEqual(got, [PT.PUBLISH, PT.PUBACK].sort())
})

test('MQTT.js with protocolVersion 3 (MQIsdp) exchanges messages with a 3.1.1 client', async (t) => {
  const broker = await startTestBroker(t)
  const old = await mqttConnect(broker.port, { protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'old' }, t)
  const modern = await mqttConnect(broker.port, { protocolVersion: 4, clientId: 'modern' }, t)
  const inbox = new Inbox(old)
  await old.subscribeAsync('mix/#', { qos: 1 })
  await modern.publishAsync('mix/a', 'from 3.1.1', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'mix/a')
  assert.equal(m.payload, 'from 3.1.1')
  assert.equal(m.qos, 1)
})

test('CONNACK 1: unacceptable protocol level, then the connection is closed', async (t) => {
  const broker = await startTestBroker(t)
  for (const level of [2, 6, 7]) {
    const c = await RawClient.open(broker.port, t)
    await c.send(connect({ clientId: `lvl${level}`, protocolLevel: level }))
    const p = await c.expect(PT.CONNACK)
    assert.equal(decodeConnack(p).returnCode, 1, `level ${level}`)
    await c.waitClosed()
  }
})

test('CONNACK 2: zero-length client id without clean session is refused and closed', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: '', clean: false }))
  const p = await c.expect(PT.CONNACK)
  assert.deepEqual(decodeConnack(p), { sessionPresent: false, returnCode: 2 })
  await c.waitClosed()
})

test('zero-length client id with clean session is accepted and gets an assigned id', async (t) => {
  const broker = await startTestBroker(t)
  const connected = waitFor<[ClientInfo]>(broker, 'clientConnect')
  const { client, connack } = await RawClient.connect(broker.port, { clientId: '', clean: true }, t)
  assert.equal(connack.returnCode, 0)
  const [info] = await connected
  assert.equal(typeof info.clientId, 'string')
  assert.ok(info.clientId.length > 0, 'an id was assigned')
  // Two anonymous clients get different ids and do not take each other over.
  const connected2 = waitFor<[ClientInfo]>(broker, 'clientConnect')
  const second = await RawClient.connect(broker.port, { clientId: '', clean: true }, t)
  assert.equal(second.connack.returnCode, 0)
  const [info2] = await connected2
  assert.notEqual(info2.clientId, info.clientId)
  assert.deepEqual(await client.pingBarrier(), [])
  assert.deepEqual(await second.client.pingBarrier(), [])
})

test('a second CONNECT on the same connection closes it', async (t) => {
  const broker = await startTestBroker(t)
  const { client, connack } = await RawClient.connect(broker.port, { clientId: 'twice' }, t)
  assert.equal(connack.returnCode, 0)
  await client.send(connect({ clientId: 'twice' }))
  await client.waitClosed()
  // No second CONNACK was sent.
  assert.deepEqual(
    client.drain().map((p) => p.type),
    [],
  )
})

test('takeover: a new connection with an existing client id closes the old one', async (t) => {
  const broker = await startTestBroker(t)
  const first = await RawClient.connect(broker.port, { clientId: 'same-id' }, t)
  assert.equal(first.connack.returnCode, 0)
  const second = await RawClient.connect(broker.port, { clientId: 'same-id' }, t)
  assert.equal(second.connack.returnCode, 0)
  await first.client.waitClosed()
  // The new connection is the live one: it subscribes and receives.
  await second.client.send(subscribe(1, [{ topic: 'tk', qos: 0 }]))
  await second.client.expect(PT.SUBACK)
  await broker.publish({ topic: 'tk', payload: 'to-new', qos: 0 })
  const p = await second.client.nextPublish()
  assert.equal(p.payload.toString(), 'to-new')
})

test('takeover with MQTT.js: the old client sees its connection closed, the new one keeps working', async (t) => {
  const broker = await startTestBroker(t)
  const old = await mqttConnect(broker.port, { clientId: 'dup' }, t)
  const closed = waitFor(old, 'close')
  const fresh = await mqttConnect(broker.port, { clientId: 'dup' }, t)
  await closed
  const inbox = new Inbox(fresh)
  await fresh.subscribeAsync('dup/t')
  const before = await markerBarrier(fresh, inbox, 'dup/t')
  assert.deepEqual(before, [])
})

test('clientConnect reports protocol level, clean session, keepalive and address', async (t) => {
  const broker = await startTestBroker(t)
  const connected = waitFor<[ClientInfo]>(broker, 'clientConnect')
  await RawClient.connect(
    broker.port,
    { clientId: 'info', clean: false, keepalive: 42, protocolName: 'MQIsdp', protocolLevel: 3 },
    t,
  )
  const [info] = await connected
  assert.equal(info.clientId, 'info')
  assert.equal(info.protocolVersion, 3)
  assert.equal(info.cleanSession, false)
  assert.equal(info.keepalive, 42)
  assert.match(info.address, /127\.0\.0\.1/)
})

test('a connection that sends no CONNECT within connectTimeout is closed', async (t) => {
  // On a clock the test moves, so the client below connects "in time" however slow the machine.
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t, { connectTimeout: 1 })
  const c = await RawClient.open(broker.port, t)
  await clock.advance(1600)
  await c.waitClosed()
  assert.deepEqual(c.drain(), [])
  // A client that did connect in time is not affected by the timer.
  const { client } = await RawClient.connect(broker.port, { clientId: 'in-time', keepalive: 0 }, t)
  const idle = await RawClient.open(broker.port, t)
  await clock.advance(1600)
  await idle.waitClosed()
  assert.deepEqual(await client.pingBarrier(), [])
  // Let the close grace of the sockets closed here run out on the same clock.
  await clock.advance(2500)
})

test('an unknown protocol name is refused: the connection is closed without CONNACK 0', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: 'strange', protocolName: 'MQTX', protocolLevel: 4 }))
  await c.waitClosed()
  for (const p of c.drain()) {
    if (p.type === PT.CONNACK) assert.notEqual(decodeConnack(p).returnCode, 0)
  }
})

test('takeover of a persistent session: the new connection resumes it (session present, subscriptions)', async (t) => {
  const broker = await startTestBroker(t)
  const first = await RawClient.connect(broker.port, { clientId: 'resume', clean: false }, t)
  await first.client.send(subscribe(1, [{ topic: 'resume/t', qos: 1 }]))
  await first.client.expect(PT.SUBACK)
  const second = await RawClient.connect(broker.port, { clientId: 'resume', clean: false }, t)
  assert.deepEqual(second.connack, { sessionPresent: true, returnCode: 0 })
  await first.client.waitClosed()
  await broker.publish({ topic: 'resume/t', payload: 'for the new one', qos: 1 })
  const p = await second.client.nextPublish()
  assert.equal(p.payload.toString(), 'for the new one')
})

test('a clean-session connection taking over a persistent one discards the old session', async (t) => {
  const broker = await startTestBroker(t)
  const first = await RawClient.connect(broker.port, { clientId: 'discard', clean: false }, t)
  await first.client.send(subscribe(1, [{ topic: 'discard/t', qos: 1 }]))
  await first.client.expect(PT.SUBACK)
  const second = await RawClient.connect(broker.port, { clientId: 'discard', clean: true }, t)
  assert.deepEqual(second.connack, { sessionPresent: false, returnCode: 0 })
  await first.client.waitClosed()
  await broker.publish({ topic: 'discard/t', payload: 'old subscription', qos: 1 })
  assert.deepEqual(await second.client.pingBarrier(), [], 'the old subscription went with the session')
})

test('a connection that stalls in the middle of its CONNECT is closed after connectTimeout', async (t) => {
  const broker = await startTestBroker(t, { connectTimeout: 1 })
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: 'stalled-connect' }).subarray(0, 7))
  await c.waitClosed()
  assert.deepEqual(c.drain(), [])
})
