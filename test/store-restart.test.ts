// Issue 6 points 1, 2, 6: with a data directory, retained messages and persistent sessions
// (subscriptions, queued QoS 1/2 messages) survive a restart; bad data and a second broker on
// the same directory stop start-up with a message naming the directory.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { open } from 'lmdb'
import { type Broker, type StartOptions, startBroker } from '../src/index.ts'
import { dbFileName } from '../src/store/lmdb.ts'
import { formatKey } from '../src/store/lmdb-keys.ts'
import { defined } from './defined.ts'
import {
  ackId,
  type Cleanup,
  decodePublish,
  PT,
  publish,
  pubrec,
  pubrel,
  RawClient,
  subscribe,
} from './helpers.ts'
import { connectCollecting, endClient, tempDataDir } from './store-helpers.ts'

async function start(t: Cleanup, options: StartOptions): Promise<Broker> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...options })
  t.after(() => broker.close())
  return broker
}

test('retained messages and an offline session with queued QoS 1/2 survive a restart', async (t) => {
  const data = tempDataDir(t)
  const first = await start(t, { data })
  const sub = await connectCollecting(first.port, { clientId: 'sub', clean: false }, t)
  await sub.client.subscribeAsync({ 'q/#': { qos: 2 }, 'once/+': { qos: 1 } })
  await endClient(sub.client)

  const pub = await connectCollecting(first.port, { clientId: 'pub' }, t)
  await pub.client.publishAsync('r/1', 'one', { qos: 1, retain: true })
  await pub.client.publishAsync('r/2', 'two', { qos: 0, retain: true })
  await pub.client.publishAsync('r/3', Buffer.from([0, 255, 1]), { qos: 2, retain: true })
  await pub.client.publishAsync('r/2', '', { qos: 1, retain: true })
  for (const [payload, qos] of [
    ['m1', 1],
    ['m2', 2],
    ['m3', 1],
    ['m4', 0],
    ['m5', 2],
  ] as const) {
    await pub.client.publishAsync('q/a', payload, { qos })
  }
  await endClient(pub.client)
  await first.close()

  const second = await start(t, { data })
  const back = await connectCollecting(second.port, { clientId: 'sub', clean: false }, t)
  assert.equal(back.sessionPresent, true)
  const got = await back.inbox.waitCount(4)
  // QoS 0 is not kept for an offline client; the rest arrive at their QoS, in order per QoS
  // (MQTT.js hands a QoS 2 message over on PUBREL, so the two QoS interleave differently).
  assert.deepEqual(got.map((m) => [m.topic, m.payload, m.qos]).sort(), [
    ['q/a', 'm1', 1],
    ['q/a', 'm2', 2],
    ['q/a', 'm3', 1],
    ['q/a', 'm5', 2],
  ])
  assert.deepEqual(
    got.filter((m) => m.qos === 2).map((m) => m.payload),
    ['m2', 'm5'],
  )
  // The subscriptions came back too: a new publish reaches the resumed session.
  const pub2 = await connectCollecting(second.port, { clientId: 'pub2' }, t)
  await pub2.client.publishAsync('once/x', 'live', { qos: 1 })
  await back.inbox.waitFor((m) => m.payload === 'live', 'the live message')

  const reader = await connectCollecting(second.port, { clientId: 'reader' }, t)
  await reader.client.subscribeAsync('r/#', { qos: 1 })
  const retained = await reader.inbox.waitCount(2)
  assert.deepEqual(retained.map((m) => [m.topic, m.payload, m.retain]).sort(), [
    ['r/1', 'one', true],
    ['r/3', Buffer.from([0, 255, 1]).toString(), true],
  ])
})

test('a session resumed after a restart is not delivered twice after a second restart', async (t) => {
  const data = tempDataDir(t)
  let broker = await start(t, { data })
  const sub = await connectCollecting(broker.port, { clientId: 'sub', clean: false }, t)
  await sub.client.subscribeAsync('q', { qos: 1 })
  await endClient(sub.client)
  const pub = await connectCollecting(broker.port, { clientId: 'pub' }, t)
  await pub.client.publishAsync('q', 'a', { qos: 1 })
  await endClient(pub.client)
  await broker.close()

  broker = await start(t, { data })
  const once = await connectCollecting(broker.port, { clientId: 'sub', clean: false }, t)
  await once.inbox.waitCount(1)
  // MQTT.js has acknowledged it once the DISCONNECT goes out after it.
  await endClient(once.client)
  await broker.close()

  broker = await start(t, { data })
  const again = await connectCollecting(broker.port, { clientId: 'sub', clean: false }, t)
  assert.equal(again.sessionPresent, true)
  const probe = await connectCollecting(broker.port, { clientId: 'probe' }, t)
  await probe.client.publishAsync('q', 'marker', { qos: 1 })
  const [first] = await again.inbox.waitCount(1)
  assert.equal(first?.payload, 'marker', 'the acknowledged message was not re-sent')
})

test('a clean session is not kept across a restart', async (t) => {
  const data = tempDataDir(t)
  let broker = await start(t, { data })
  const c = await connectCollecting(broker.port, { clientId: 'c', clean: false }, t)
  await c.client.subscribeAsync('x', { qos: 1 })
  await endClient(c.client)
  // Clean session 1 discards the stored one.
  const clean = await connectCollecting(broker.port, { clientId: 'c', clean: true }, t)
  await endClient(clean.client)
  await broker.close()
  broker = await start(t, { data })
  const back = await connectCollecting(broker.port, { clientId: 'c', clean: false }, t)
  assert.equal(back.sessionPresent, false)
})

test('without data (and with memory: true) nothing is written to disk', async (t) => {
  const data = tempDataDir(t)
  const broker = await start(t, { data, memory: true })
  const c = await connectCollecting(broker.port, { clientId: 'c' }, t)
  await c.client.publishAsync('r', 'x', { qos: 1, retain: true })
  await broker.close()
  const { readdirSync } = await import('node:fs')
  assert.deepEqual(readdirSync(data), [])
})

test('a second broker on the same data directory is refused, naming it', async (t) => {
  const data = tempDataDir(t)
  await start(t, { data })
  await assert.rejects(start(t, { data }), (error: Error) => {
    assert.ok(error.message.includes(data), error.message)
    assert.match(error.message, /in use by another tinymqtt broker \(pid \d+/)
    assert.match(error.message, /--data/)
    return true
  })
})

test('a lock left by a dead process is taken over', async (t) => {
  const data = tempDataDir(t)
  // No process has pid 2^22 + 1 (above Linux's pid_max).
  writeFileSync(join(data, 'tinymqtt.lock'), `${2 ** 22 + 1}\n`)
  const broker = await start(t, { data })
  await broker.close()
  // Released on close: another broker can start.
  await (await start(t, { data })).close()
})

test('a damaged store stops start-up with the path and what to do', async (t) => {
  const data = tempDataDir(t)
  writeFileSync(join(data, dbFileName), Buffer.alloc(64 * 1024, 0x5a))
  await assert.rejects(start(t, { data }), (error: Error) => {
    assert.ok(error.message.includes(data), error.message)
    assert.match(error.message, /reset-data/)
    return true
  })
  // Refused start-up did not touch the file and released the lock.
  await assert.rejects(start(t, { data }), /reset-data/)
})

test('a store written by a newer tinymqtt stops start-up', async (t) => {
  const data = tempDataDir(t)
  await (await start(t, { data })).close()
  const db = open<unknown, Buffer>({
    path: join(data, dbFileName),
    encoding: 'msgpack',
    keyEncoding: 'binary',
  })
  await db.put(formatKey, { version: 99 })
  await db.close()
  await assert.rejects(start(t, { data }), (error: Error) => {
    assert.ok(error.message.includes(data), error.message)
    assert.match(error.message, /newer tinymqtt \(store format 99/)
    return true
  })
})

test('an LMDB file that is not a tinymqtt store stops start-up', async (t) => {
  const data = tempDataDir(t)
  const db = open<string, string>({ path: join(data, dbFileName), encoding: 'string' })
  await db.put('somebody', 'else')
  await db.close()
  await assert.rejects(start(t, { data }), (error: Error) => {
    assert.ok(error.message.includes(data), error.message)
    assert.match(error.message, /no format marker/)
    return true
  })
})

test('a store whose values cannot be decoded stops start-up instead of starting empty', async (t) => {
  const data = tempDataDir(t)
  let broker = await start(t, { data })
  const c = await connectCollecting(broker.port, { clientId: 'c' }, t)
  await c.client.publishAsync('r', 'x', { qos: 1, retain: true })
  await endClient(c.client)
  await broker.close()
  const db = open<Buffer, Buffer>({ path: join(data, dbFileName), encoding: 'binary', keyEncoding: 'binary' })
  await db.put(Buffer.from('r/r'), Buffer.from([0xc1, 0xc1]))
  await db.close()
  await assert.rejects(start(t, { data }), (error: Error) => {
    assert.ok(error.message.includes(data), error.message)
    assert.match(error.message, /cannot be read at key "r\/r"/)
    return true
  })
  broker = await start(t, { data: tempDataDir(t) })
})

test('MQTT 5: queued messages keep their properties and subscription identifiers across a restart', async (t) => {
  const data = tempDataDir(t)
  let broker = await start(t, { data })
  const v5 = { protocolVersion: 5 as const }
  const sub = await connectCollecting(
    broker.port,
    { ...v5, clientId: 'sub5', clean: false, properties: { sessionExpiryInterval: 3600 } },
    t,
  )
  await sub.client.subscribeAsync('p/#', { qos: 1, properties: { subscriptionIdentifier: 7 } })
  await endClient(sub.client)
  const pub = await connectCollecting(broker.port, { ...v5, clientId: 'pub5' }, t)
  await pub.client.publishAsync('p/1', Buffer.from([1, 2, 3]), {
    qos: 1,
    properties: {
      contentType: 'application/x-test',
      responseTopic: 'reply/1',
      correlationData: Buffer.from([0xca, 0xfe]),
      userProperties: { room: 'kitchen' },
      messageExpiryInterval: 3600,
    },
  })
  await endClient(pub.client)
  await broker.close()

  broker = await start(t, { data })
  const back = await connectCollecting(
    broker.port,
    { ...v5, clientId: 'sub5', clean: false, properties: { sessionExpiryInterval: 3600 } },
    t,
  )
  assert.equal(back.sessionPresent, true)
  await back.inbox.waitCount(1)
  const packet = defined(back.packets[0], 'back.packets[0]')
  assert.deepEqual([...(packet.payload as Buffer)], [1, 2, 3])
  const p = packet.properties ?? {}
  assert.equal(p.contentType, 'application/x-test')
  assert.equal(p.responseTopic, 'reply/1')
  assert.deepEqual([...(p.correlationData ?? [])], [0xca, 0xfe])
  assert.deepEqual({ ...p.userProperties }, { room: 'kitchen' })
  assert.deepEqual(p.subscriptionIdentifier, 7)
  assert.ok(p.messageExpiryInterval !== undefined && p.messageExpiryInterval <= 3600)
})

test('in-flight messages keep their packet ids and handshake state; incoming QoS 2 ids are kept', async (t) => {
  const data = tempDataDir(t)
  let broker = await start(t, { data })
  // A subscriber that takes two messages and does not finish: QoS 1 unacknowledged, QoS 2 PUBREC'd.
  const { client: sub } = await RawClient.connect(broker.port, { clientId: 'raw-sub', clean: false }, t)
  await sub.send(subscribe(1, [{ topic: 'f/#', qos: 2 }]))
  await sub.expect(PT.SUBACK)
  // A publisher whose QoS 2 exchange stops after PUBREC.
  const { client: pub } = await RawClient.connect(broker.port, { clientId: 'raw-pub', clean: false }, t)
  await pub.send(publish({ topic: 'f/1', payload: 'one', qos: 1, packetId: 1 }))
  await pub.expect(PT.PUBACK)
  await pub.send(publish({ topic: 'f/2', payload: 'two', qos: 2, packetId: 9 }))
  assert.equal(ackId(await pub.expect(PT.PUBREC)), 9)
  const first = decodePublish(await sub.expect(PT.PUBLISH))
  const second = decodePublish(await sub.expect(PT.PUBLISH))
  assert.deepEqual([first.payload.toString(), second.payload.toString()], ['one', 'two'])
  await sub.send(pubrec(defined(second.packetId, 'second.packetId')))
  assert.equal(ackId(await sub.expect(PT.PUBREL)), second.packetId)
  await broker.close()

  broker = await start(t, { data })
  // The subscriber gets the QoS 1 message again with DUP and the same id, and the PUBREL again.
  const resumed = await RawClient.connect(broker.port, { clientId: 'raw-sub', clean: false }, t)
  assert.equal(resumed.connack.sessionPresent, true)
  const again = decodePublish(await resumed.client.expect(PT.PUBLISH))
  assert.deepEqual([again.payload.toString(), again.dup, again.packetId], ['one', true, first.packetId])
  assert.equal(ackId(await resumed.client.expect(PT.PUBREL)), second.packetId)
  // The publisher re-sends its QoS 2 PUBLISH (DUP): acknowledged, not delivered a second time.
  const { client: pub2 } = await RawClient.connect(broker.port, { clientId: 'raw-pub', clean: false }, t)
  await pub2.send(publish({ topic: 'f/2', payload: 'two', qos: 2, packetId: 9, dup: true }))
  assert.equal(ackId(await pub2.expect(PT.PUBREC)), 9)
  await pub2.send(pubrel(9))
  assert.equal(ackId(await pub2.expect(PT.PUBCOMP)), 9)
  // A marker behind it shows nothing else was queued for the subscriber.
  await pub2.send(publish({ topic: 'f/marker', payload: 'marker', qos: 0 }))
  const next = decodePublish(await resumed.client.expect(PT.PUBLISH))
  assert.equal(next.payload.toString(), 'marker')
})

test('session expiry counts from the disconnect, not from the restart', async (t) => {
  const data = tempDataDir(t)
  const first = await start(t, { data })
  const session = { clientId: 'expiring', clean: false, protocolVersion: 5 as const }
  const sub = await connectCollecting(first.port, { ...session, properties: { sessionExpiryInterval: 1 } }, t)
  await sub.client.subscribeAsync('x/#', { qos: 1 })
  await endClient(sub.client)
  await first.close()
  // Offline for longer than its 1 s expiry, partly while the broker was down.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const second = await start(t, { data })
  const back = await connectCollecting(second.port, session, t)
  assert.equal(back.sessionPresent, false, 'the session expired while the broker was down')
})
