// Issue 3, point 11: the embedding API. startBroker resolves once listening; close, publish,
// subscribe → unsubscribe (retained delivered on subscribe), events for connect / disconnect /
// message.
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import type { ClientInfo, Message } from '../src/broker/types.ts'
import { startBroker } from '../src/index.ts'
import { defined } from './defined.ts'
import {
  DISCONNECT,
  Inbox,
  markerBarrier,
  mqttConnect,
  PT,
  publish,
  RawClient,
  startTestBroker,
  subscribe,
  until,
  waitFor,
} from './helpers.ts'

test('startBroker resolves once listening: broker.port accepts MQTT connections at once', async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' })
  t.after(() => broker.close())
  assert.equal(typeof broker.port, 'number')
  assert.ok(broker.port > 0)
  const { connack } = await RawClient.connect(broker.port, { clientId: 'first' }, t)
  assert.equal(connack.returnCode, 0)
})

test('close() disconnects clients, frees the port, and can be called twice', async () => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' })
  const port = broker.port
  const { client } = await RawClient.connect(port, { clientId: 'closing' })
  await broker.close()
  await client.waitClosed()
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' })
      s.once('connect', () => {
        s.destroy()
        resolve()
      })
      s.once('error', reject)
    }),
    /ECONNREFUSED/,
  )
  await broker.close()
  // The port can be bound again.
  const again = await startBroker({ port, host: '127.0.0.1', logLevel: 'silent' })
  assert.equal(again.port, port)
  await again.close()
})

test('broker.publish reaches MQTT subscribers with topic, payload, QoS and retain', async (t) => {
  const broker = await startTestBroker(t)
  const c = await mqttConnect(broker.port, { clientId: 'emb-sub' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync('emb/#', { qos: 2 })
  await broker.publish({ topic: 'emb/str', payload: 'text', qos: 1 })
  await broker.publish({ topic: 'emb/buf', payload: Buffer.from([1, 2, 3]), qos: 2 })
  await broker.publish({ topic: 'emb/u8', payload: new Uint8Array([65, 66]), qos: 0 })
  await broker.publish({ topic: 'emb/none' })
  await inbox.waitCount(4)
  // Sorted: MQTT.js itself emits a QoS 2 message only once it has the PUBREL.
  assert.deepEqual(inbox.messages.map((m) => [m.topic, m.payload, m.qos, m.retain]).sort(), [
    ['emb/buf', '\u0001\u0002\u0003', 2, false],
    ['emb/none', '', 0, false],
    ['emb/str', 'text', 1, false],
    ['emb/u8', 'AB', 0, false],
  ])
})

test('broker.publish with retain stores the message for later subscribers', async (t) => {
  const broker = await startTestBroker(t)
  await broker.publish({ topic: 'emb/ret', payload: 'kept', qos: 1, retain: true })
  const c = await mqttConnect(broker.port, { clientId: 'emb-late' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync('emb/ret', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'emb/ret')
  assert.deepEqual([m.payload, m.retain, m.qos], ['kept', true, 1])
})

test('broker.subscribe receives client publishes with a Buffer payload and the publisher id', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  const unsubscribe = broker.subscribe('stat/+/POWER', (msg) => got.push(msg))
  assert.equal(typeof unsubscribe, 'function')
  const c = await mqttConnect(broker.port, { clientId: 'tasmota-1' }, t)
  await c.publishAsync('stat/lamp/POWER', 'ON', { qos: 1 })
  await c.publishAsync('stat/lamp/OTHER', 'no', { qos: 1 })
  await c.publishAsync('stat/lamp/POWER', 'OFF', { qos: 2 })
  await until(() => got.length >= 2, 'two messages')
  assert.ok(Buffer.isBuffer(defined(got[0], 'got[0]').payload))
  assert.deepEqual(
    got.map((m) => [m.topic, m.payload.toString(), m.qos, m.retain, m.clientId]),
    [
      ['stat/lamp/POWER', 'ON', 1, false, 'tasmota-1'],
      ['stat/lamp/POWER', 'OFF', 2, false, 'tasmota-1'],
    ],
  )
})

test('broker.subscribe delivers matching retained messages on subscribe, with retain set', async (t) => {
  const broker = await startTestBroker(t)
  const c = await mqttConnect(broker.port, { clientId: 'ret-src' }, t)
  await c.publishAsync('dev/a/state', 'on', { qos: 1, retain: true })
  // QoS 1: publishAsync resolves on PUBACK, so the broker has stored them before we subscribe.
  await c.publishAsync('dev/b/state', 'off', { qos: 1, retain: true })
  await c.publishAsync('other/state', 'x', { qos: 1, retain: true })
  await broker.publish({ topic: '$SYS/x', payload: 'sys', retain: true })
  const got: Message[] = []
  broker.subscribe('dev/+/state', (m) => got.push(m))
  const all: Message[] = []
  broker.subscribe('#', (m) => all.push(m))
  await until(() => got.length >= 2, 'the retained messages')
  assert.deepEqual(got.map((m) => [m.topic, m.payload.toString(), m.retain]).sort(), [
    ['dev/a/state', 'on', true],
    ['dev/b/state', 'off', true],
  ])
  await until(() => all.length >= 3, 'the retained messages for #')
  assert.deepEqual(
    all.map((m) => m.topic).sort(),
    ['dev/a/state', 'dev/b/state', 'other/state'],
    'no $SYS via #',
  )

  // Live messages afterwards have retain cleared.
  await c.publishAsync('dev/a/state', 'live', { qos: 1, retain: true })
  await until(() => got.length >= 3, 'the live message')
  assert.deepEqual(
    [defined(got[2], 'got[2]').payload.toString(), defined(got[2], 'got[2]').retain],
    ['live', false],
  )
})

test('unsubscribe() stops delivery to that handler only', async (t) => {
  const broker = await startTestBroker(t)
  const a: string[] = []
  const b: string[] = []
  const unA = broker.subscribe('u/#', (m) => a.push(m.payload.toString()))
  broker.subscribe('u/#', (m) => b.push(m.payload.toString()))
  await broker.publish({ topic: 'u/1', payload: 'one' })
  await until(() => a.length === 1 && b.length === 1, 'both handlers')
  unA()
  unA() // idempotent
  await broker.publish({ topic: 'u/1', payload: 'two' })
  await until(() => b.length === 2, 'the second handler')
  assert.deepEqual(a, ['one'])
  assert.deepEqual(b, ['one', 'two'])
})

test('broker.subscribe sees messages from broker.publish (clientId undefined) and from other handlers', async (t) => {
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('relay/out', (m) => got.push(m))
  // A handler that publishes: delivered after it returns, not re-entrantly.
  let deliveredInside: number | undefined
  broker.subscribe('relay/in', (m) => {
    void broker.publish({ topic: 'relay/out', payload: m.payload, qos: 0 })
    deliveredInside = got.length
  })
  await broker.publish({ topic: 'relay/in', payload: 'hop' })
  await until(() => got.length === 1, 'the relayed message')
  assert.equal(deliveredInside, 0, 'not delivered re-entrantly, inside the publishing handler')
  assert.equal(defined(got[0], 'got[0]').payload.toString(), 'hop')
  assert.equal(defined(got[0], 'got[0]').clientId, undefined)
})

test('a throwing handler does not stop other subscribers or the broker', async (t) => {
  const broker = await startTestBroker(t)
  broker.subscribe('boom', () => {
    throw new Error('handler failure')
  })
  const got: string[] = []
  broker.subscribe('boom', (m) => got.push(m.payload.toString()))
  const c = await mqttConnect(broker.port, { clientId: 'boom-sub' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync('boom')
  await c.publishAsync('boom', 'x', { qos: 1 })
  await inbox.waitFor((m) => m.payload === 'x')
  await until(() => got.length === 1, 'the healthy handler')
})

test('events: clientConnect and clientDisconnect with ClientInfo and a reason', async (t) => {
  const broker = await startTestBroker(t, { user: 'u', pass: 'p' })
  const connects: ClientInfo[] = []
  const disconnects: Array<[string, string]> = []
  broker.on('clientConnect', (info) => connects.push(info))
  broker.on('clientDisconnect', (info, reason) => disconnects.push([info.clientId, reason]))

  // A refused client is neither connected nor disconnected.
  const refused = await RawClient.connect(
    broker.port,
    { clientId: 'refused', username: 'u', password: 'x' },
    t,
  )
  assert.equal(refused.connack.returnCode, 4)
  await refused.client.waitClosed()

  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'evt', username: 'u', password: 'p', keepalive: 30, clean: true },
    t,
  )
  await until(() => connects.length === 1, 'clientConnect')
  const info = defined(connects[0], 'connects[0]')
  assert.equal(info.clientId, 'evt')
  assert.equal(info.username, 'u')
  assert.equal(info.keepalive, 30)
  assert.equal(info.cleanSession, true)
  assert.equal(info.protocolVersion, 4)
  assert.match(info.address, /127\.0\.0\.1/)
  assert.equal(typeof info.port, 'number')
  assert.ok(info.connectedAt instanceof Date)

  const gone = waitFor<[ClientInfo, string]>(broker, 'clientDisconnect')
  await client.send(DISCONNECT)
  const [who, reason] = await gone
  assert.equal(who.clientId, 'evt')
  assert.equal(typeof reason, 'string')
  assert.ok(reason.length > 0)

  // Abrupt close and takeover give different reasons from a DISCONNECT.
  const a = await RawClient.connect(broker.port, { clientId: 'evt2', username: 'u', password: 'p' }, t)
  const gone2 = waitFor<[ClientInfo, string]>(broker, 'clientDisconnect')
  a.client.destroy()
  const [, reason2] = await gone2
  assert.notEqual(reason2, reason)
  await RawClient.connect(broker.port, { clientId: 'evt3', username: 'u', password: 'p' }, t)
  const gone3 = waitFor<[ClientInfo, string]>(broker, 'clientDisconnect')
  await RawClient.connect(broker.port, { clientId: 'evt3', username: 'u', password: 'p' }, t)
  const [who3, reason3] = await gone3
  assert.equal(who3.clientId, 'evt3')
  assert.match(reason3, /takeover|taken|replaced/i)
  assert.deepEqual(
    disconnects.map(([id]) => id),
    ['evt', 'evt2', 'evt3'],
  )
})

test("event 'message' reports every routed message, from clients and from broker.publish", async (t) => {
  const broker = await startTestBroker(t)
  const seen: Message[] = []
  broker.on('message', (m) => seen.push(m))
  const { client } = await RawClient.connect(broker.port, { clientId: 'evt-pub' }, t)
  await client.send(subscribe(1, [{ topic: 'nobody/listens/not', qos: 0 }]))
  await client.expect(PT.SUBACK)
  await client.send(publish({ topic: 'ev/a', payload: 'from-client', qos: 1, packetId: 1 }))
  await client.expect(PT.PUBACK)
  await broker.publish({ topic: 'ev/b', payload: 'from-broker', qos: 0 })
  await until(() => seen.length >= 2, 'two message events')
  assert.deepEqual(
    seen.map((m) => [m.topic, m.payload.toString(), m.clientId]),
    [
      ['ev/a', 'from-client', 'evt-pub'],
      ['ev/b', 'from-broker', undefined],
    ],
  )
})

test("'message' listeners: once fires once, off stops, and one that throws does not stop routing", async (t) => {
  const broker = await startTestBroker(t)
  const calls: string[] = []
  broker.once('message', (m) => calls.push(`once:${m.payload}`))
  const always = (m: Message): void => {
    calls.push(`always:${m.payload}`)
  }
  broker.on('message', always)
  broker.on('message', () => {
    throw new Error('listener bug')
  })
  const internal: string[] = []
  broker.subscribe('lst/#', (m) => internal.push(m.payload.toString()))
  await broker.publish({ topic: 'lst/a', payload: '1' })
  await broker.publish({ topic: 'lst/a', payload: '2' })
  broker.off('message', always)
  await broker.publish({ topic: 'lst/a', payload: '3' })
  await until(() => internal.length === 3, 'three deliveries')
  assert.deepEqual(calls, ['once:1', 'always:1', 'always:2'])
  assert.deepEqual(internal, ['1', '2', '3'])
  assert.equal(broker.listenerCount('message'), 1)
})

test('MQTT clients and internal subscribers see the same stream', async (t) => {
  const broker = await startTestBroker(t)
  const internal: string[] = []
  broker.subscribe('same/#', (m) => internal.push(m.payload.toString()))
  const c = await mqttConnect(broker.port, { clientId: 'same' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync('same/#')
  for (let i = 0; i < 20; i++) await broker.publish({ topic: 'same/x', payload: String(i) })
  const before = await markerBarrier(c, inbox, 'same/marker')
  assert.deepEqual(
    before.map((m) => m.payload),
    internal.slice(0, 20),
  )
})

test('setCredentials applies to new connections; connected clients stay', async (t) => {
  const broker = await startTestBroker(t)
  const before = await RawClient.connect(broker.port, { clientId: 'anon-before' }, t)
  assert.equal(before.connack.returnCode, 0)
  broker.setCredentials('admin', 'secret')
  const anon = await RawClient.connect(broker.port, { clientId: 'anon-after' }, t)
  assert.equal(anon.connack.returnCode, 5)
  const good = await RawClient.connect(
    broker.port,
    { clientId: 'good', username: 'admin', password: 'secret' },
    t,
  )
  assert.equal(good.connack.returnCode, 0)
  assert.deepEqual(await before.client.pingBarrier(), [], 'the earlier anonymous client is still connected')
  broker.setCredentials(undefined, undefined)
  const anonAgain = await RawClient.connect(broker.port, { clientId: 'anon-again' }, t)
  assert.equal(anonAgain.connack.returnCode, 0)
})

test('listen(port) moves the listener; connected clients stay; the old port is closed', async (t) => {
  const broker = await startTestBroker(t)
  const oldPort = broker.port
  const { client } = await RawClient.connect(oldPort, { clientId: 'stays' }, t)
  await client.send(subscribe(1, [{ topic: 'move', qos: 0 }]))
  await client.expect(PT.SUBACK)
  const moved = waitFor<[number]>(broker, 'listening')
  const newPort = await broker.listen(0)
  assert.equal((await moved)[0], newPort)
  assert.equal(broker.port, newPort)
  assert.notEqual(newPort, oldPort)
  const fresh = await RawClient.connect(newPort, { clientId: 'fresh' }, t)
  await fresh.client.send(publish({ topic: 'move', payload: 'across', qos: 0 }))
  assert.equal((await client.nextPublish()).payload.toString(), 'across')
  await assert.rejects(RawClient.open(oldPort), /ECONNREFUSED/)
})

test('isConnected and sessionInfo read the clients and sessions the broker holds', async (t) => {
  const broker = await startTestBroker(t)
  assert.equal(broker.isConnected('kept'), false)
  assert.equal(broker.sessionInfo('kept'), undefined)

  const { client } = await RawClient.connect(broker.port, { clientId: 'kept', clean: false }, t)
  assert.equal(broker.isConnected('kept'), true)
  const online = broker.sessionInfo('kept')
  assert.equal(online?.connected, true)
  assert.equal(online.expiresAt, undefined)
  assert.equal(online.willAt, undefined)

  const gone = waitFor(broker, 'clientDisconnect')
  await client.send(DISCONNECT)
  await gone
  assert.equal(broker.isConnected('kept'), false)
  // A 3.1.1 session without clean session outlives its connection and never expires.
  const offline = broker.sessionInfo('kept')
  assert.equal(offline?.connected, false)
  assert.equal(offline.expiryInterval, 0xffffffff)
  assert.equal(offline.expiresAt, undefined)

  // A clean session ends with its connection.
  const clean = await RawClient.connect(broker.port, { clientId: 'brief', clean: true }, t)
  assert.equal(broker.sessionInfo('brief')?.connected, true)
  const goneToo = waitFor(broker, 'clientDisconnect')
  await clean.client.send(DISCONNECT)
  await goneToo
  assert.equal(broker.sessionInfo('brief'), undefined)
})
