// Issue 3, point 9: persistent sessions (clean session 0). Subscriptions kept, QoS 1/2 queued
// while offline and bounded by maxQueuedMessages (drops logged), the session-present flag.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ClientInfo } from '../src/broker/types.ts'
import type { Broker } from '../src/index.ts'
import { defined } from './defined.ts'
import {
  ackId,
  type Cleanup,
  connect,
  decodePublish,
  Inbox,
  LogCapture,
  mqttConnect,
  PT,
  puback,
  pubcomp,
  pubrec,
  RawClient,
  type RawPacket,
  recordText,
  startTestBroker,
  subscribe,
  unsubscribe,
  waitFor,
} from './helpers.ts'

/** Connects `clientId` raw and closes it abruptly, waiting until the broker has noticed. */
async function goOffline(broker: Broker, client: RawClient, clientId: string): Promise<void> {
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (i) => i.clientId === clientId,
  )
  client.destroy()
  await gone
}

/** Reads PUBLISHes, acknowledging each (QoS 1 and 2), until `n` were received and nothing more comes. */
async function receiveAll(client: RawClient, n: number): Promise<Array<{ payload: string; qos: number }>> {
  const got: Array<{ payload: string; qos: number }> = []
  let pending = 0
  const handle = async (p: RawPacket): Promise<void> => {
    if (p.type === PT.PUBREL) {
      await client.send(pubcomp(ackId(p)))
      pending--
      return
    }
    if (p.type !== PT.PUBLISH) throw new Error(`unexpected packet type ${p.type}`)
    const d = decodePublish(p)
    got.push({ payload: d.payload.toString(), qos: d.qos })
    if (d.qos === 1) await client.send(puback(defined(d.packetId, 'd.packetId')))
    if (d.qos === 2) {
      await client.send(pubrec(defined(d.packetId, 'd.packetId')))
      pending++
    }
  }
  while (got.length < n || pending > 0) await handle(await client.next())
  // Anything further would arrive before the PINGRESP.
  for (const p of await client.pingBarrier()) await handle(p)
  while (pending > 0) await handle(await client.next())
  return got
}

async function persistentRaw(
  port: number,
  clientId: string,
  t: Cleanup,
  filters: Array<{ topic: string; qos: number }> = [],
): Promise<{ client: RawClient; sessionPresent: boolean }> {
  const { client, connack } = await RawClient.connect(port, { clientId, clean: false }, t)
  assert.equal(connack.returnCode, 0)
  if (filters.length > 0) {
    await client.send(subscribe(1, filters))
    await client.expect(PT.SUBACK)
  }
  return { client, sessionPresent: connack.sessionPresent }
}

test('session-present flag: 0 on a new session, 1 on resume, 0 with clean session', async (t) => {
  const broker = await startTestBroker(t)
  const a = await persistentRaw(broker.port, 'sp', t, [{ topic: 'sp/t', qos: 1 }])
  assert.equal(a.sessionPresent, false, 'first connect: no session yet')
  await goOffline(broker, a.client, 'sp')

  const b = await persistentRaw(broker.port, 'sp', t)
  assert.equal(b.sessionPresent, true, 'resumed')
  await goOffline(broker, b.client, 'sp')

  // Clean session discards the state and always answers session present 0.
  const c = await RawClient.connect(broker.port, { clientId: 'sp', clean: true }, t)
  assert.deepEqual(c.connack, { sessionPresent: false, returnCode: 0 })
  await goOffline(broker, c.client, 'sp')

  const d = await persistentRaw(broker.port, 'sp', t)
  assert.equal(d.sessionPresent, false, 'the clean connection discarded the old session')
  // ...and its subscription: nothing is delivered.
  await broker.publish({ topic: 'sp/t', payload: 'x', qos: 1 })
  assert.deepEqual(await d.client.pingBarrier(), [])
})

test('subscriptions are kept across reconnects (MQTT.js, clean: false)', async (t) => {
  const broker = await startTestBroker(t)
  const first = await mqttConnect(broker.port, { clientId: 'keep', clean: false }, t)
  await first.subscribeAsync('keep/#', { qos: 1 })
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (i) => i.clientId === 'keep',
  )
  await first.endAsync()
  await gone

  const again = await mqttConnect(broker.port, { clientId: 'keep', clean: false }, t)
  const inbox = new Inbox(again)
  const pub = await mqttConnect(broker.port, { clientId: 'keep-pub' }, t)
  await pub.publishAsync('keep/x', 'still subscribed', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'keep/x')
  assert.equal(m.payload, 'still subscribed')
  assert.equal(m.qos, 1)
})

test('QoS 1 and 2 messages published while offline are delivered on reconnect, in order', async (t) => {
  const broker = await startTestBroker(t)
  const a = await persistentRaw(broker.port, 'offline', t, [{ topic: 'off/#', qos: 2 }])
  await goOffline(broker, a.client, 'offline')

  const pub = await mqttConnect(broker.port, { clientId: 'off-pub' }, t)
  const sent: Array<{ payload: string; qos: number }> = []
  for (let i = 0; i < 10; i++) {
    const qos = i % 2 === 0 ? 1 : 2
    await pub.publishAsync('off/t', `m${i}`, { qos })
    sent.push({ payload: `m${i}`, qos })
  }
  const b = await persistentRaw(broker.port, 'offline', t)
  assert.equal(b.sessionPresent, true)
  const got = await receiveAll(b.client, 10)
  assert.deepEqual(got, sent)
})

test('a queued QoS 2 message for a QoS 1 subscription is delivered at QoS 1', async (t) => {
  const broker = await startTestBroker(t)
  const a = await persistentRaw(broker.port, 'mixed', t, [{ topic: 'mx/one', qos: 1 }])
  await goOffline(broker, a.client, 'mixed')
  await broker.publish({ topic: 'mx/one', payload: 'q2-as-q1', qos: 2 })
  const b = await persistentRaw(broker.port, 'mixed', t)
  const got = await receiveAll(b.client, 1)
  assert.deepEqual(got, [{ payload: 'q2-as-q1', qos: 1 }])
})

test('the offline queue is bounded by maxQueuedMessages; the drops are logged', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { maxQueuedMessages: 5, maxInflight: 2, logger: log.logger })
  const a = await persistentRaw(broker.port, 'bounded', t, [{ topic: 'bq', qos: 1 }])
  await goOffline(broker, a.client, 'bounded')
  for (let i = 0; i < 30; i++) await broker.publish({ topic: 'bq', payload: String(i), qos: 1 })

  await log.waitFor(
    (r) => r.level >= 30 && /drop|discard|queue.*full|full.*queue/i.test(recordText(r)),
    'about dropped messages',
  )
  // 23+ drops in a burst make one line per client per second (two if the burst straddles one), not one per message.
  const dropLines = log.records.filter((r) => r.level >= 30 && /dropped/i.test(recordText(r)))
  assert.ok(dropLines.length <= 2, `drop reports are rate limited, got ${dropLines.length} lines`)
  const b = await persistentRaw(broker.port, 'bounded', t)
  assert.equal(b.sessionPresent, true)
  // What survives: the queue (5) and, depending on whether the broker assigns in-flight slots to an
  // offline client, up to maxInflight (2) more. Never all 30.
  const got: number[] = []
  for (;;) {
    const before = await b.client.pingBarrier()
    if (before.length === 0) break
    for (const p of before) {
      const d = decodePublish(p)
      got.push(Number(d.payload.toString()))
      await b.client.send(puback(defined(d.packetId, 'd.packetId')))
    }
  }
  assert.ok(got.length >= 5 && got.length <= 7, `received ${got.length}: ${got.join(',')}`)
  assert.deepEqual(
    got,
    [...got].sort((x, y) => x - y),
    'in publish order',
  )
  assert.equal(new Set(got).size, got.length, 'no duplicates')

  // The session still works afterwards.
  await broker.publish({ topic: 'bq', payload: 'after', qos: 1 })
  const p = await b.client.nextPublish()
  assert.equal(p.payload.toString(), 'after')
})

test('an online client that never acknowledges does not grow the queue without bound', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { maxQueuedMessages: 5, maxInflight: 2, logger: log.logger })
  const { client } = await persistentRaw(broker.port, 'slow', t, [{ topic: 'slow', qos: 1 }])
  for (let i = 0; i < 40; i++) await broker.publish({ topic: 'slow', payload: String(i), qos: 1 })
  const inflight = [await client.nextPublish(), await client.nextPublish()]
  assert.deepEqual(await client.pingBarrier(), [], 'only maxInflight are sent')
  await log.waitFor((r) => r.level >= 30 && /drop|discard|full/i.test(recordText(r)), 'about drops')
  // Acknowledge everything that comes: at most 2 + 5 messages in all.
  const got = inflight.map((p) => Number(p.payload.toString()))
  for (const p of inflight) await client.send(puback(defined(p.packetId, 'p.packetId')))
  for (;;) {
    const more = await client.pingBarrier()
    if (more.length === 0) break
    for (const raw of more) {
      const d = decodePublish(raw)
      got.push(Number(d.payload.toString()))
      await client.send(puback(defined(d.packetId, 'd.packetId')))
    }
  }
  assert.ok(got.length === 7, `received ${got.length}: ${got.join(',')}`)
})

test('an UNSUBSCRIBE is remembered by the persistent session', async (t) => {
  const broker = await startTestBroker(t)
  const a = await persistentRaw(broker.port, 'unsub-p', t, [
    { topic: 'us/a', qos: 1 },
    { topic: 'us/b', qos: 1 },
  ])
  await a.client.send(unsubscribe(2, ['us/a']))
  await a.client.expect(PT.UNSUBACK)
  await goOffline(broker, a.client, 'unsub-p')
  await broker.publish({ topic: 'us/a', payload: 'a', qos: 1 })
  await broker.publish({ topic: 'us/b', payload: 'b', qos: 1 })
  const b = await persistentRaw(broker.port, 'unsub-p', t)
  assert.deepEqual(await receiveAll(b.client, 1), [{ payload: 'b', qos: 1 }])
})

test('a subscriber that stops reading does not make the broker buffer QoS 0 traffic without bound', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'stalled' }, t)
  await client.send(subscribe(1, [{ topic: 'flood/#', qos: 0 }]))
  await client.expect(PT.SUBACK)
  client.socket.pause() // stop reading: the TCP window fills, the broker's writes back up
  // Measure what stays reachable after a full GC: garbage must not count, only what is held.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const held = (): number => {
    gc()
    const m = process.memoryUsage()
    return m.heapUsed + m.arrayBuffers
  }
  const before = held()
  const payload = Buffer.alloc(10_000, 0x61) // one buffer, shared: the test itself holds 10 KB
  let peak = 0
  // 200 MB in all, far more than any sane per-client buffer. The sequence number is in the topic.
  for (let i = 0; i < 20_000; i++) {
    await broker.publish({ topic: `flood/${i}`, payload, qos: 0 })
    if (i % 2000 === 1999) {
      await new Promise((r) => setImmediate(r))
      peak = Math.max(peak, held() - before)
    }
  }
  t.diagnostic(`peak memory held for the stalled client: ${(peak / 1e6).toFixed(1)} MB`)
  assert.ok(peak < 100_000_000, `the broker holds ${(peak / 1e6).toFixed(0)} MB for a stalled client`)

  // The client resumes: it gets an ordered subset (or is disconnected), never garbage.
  client.socket.resume()
  let packets: RawPacket[] = []
  try {
    packets = await client.pingBarrier(20_000)
  } catch (error) {
    if (!client.closed) throw error // disconnecting a stalled client is fine too
  }
  const seen = packets.map((p) => Number(decodePublish(p).topic.split('/')[1]))
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'what arrives arrives in order',
  )
})

test('maxQueuedMessages defaults to 1000 (plus at most the in-flight window of 20)', async (t) => {
  const broker = await startTestBroker(t)
  const a = await persistentRaw(broker.port, 'default-cap', t, [{ topic: 'cap', qos: 1 }])
  await goOffline(broker, a.client, 'default-cap')
  for (let i = 0; i < 1100; i++) await broker.publish({ topic: 'cap', payload: String(i), qos: 1 })
  const b = await persistentRaw(broker.port, 'default-cap', t)
  const got: number[] = []
  for (;;) {
    const batch = await b.client.pingBarrier()
    if (batch.length === 0) break
    for (const p of batch) {
      const d = decodePublish(p)
      got.push(Number(d.payload.toString()))
      await b.client.send(puback(defined(d.packetId, 'd.packetId')))
    }
  }
  assert.ok(got.length >= 1000 && got.length <= 1020, `received ${got.length}`)
  assert.deepEqual(
    got,
    [...got].sort((x, y) => x - y),
  )
})

test('MQTT 3.1 (MQIsdp): a resumed session works, but CONNACK byte 1 stays 0 (no session-present flag in 3.1)', async (t) => {
  const broker = await startTestBroker(t)
  const spec = { clientId: 'old-persistent', clean: false, protocolName: 'MQIsdp', protocolLevel: 3 }
  const a = await RawClient.connect(broker.port, spec, t)
  await a.client.send(subscribe(1, [{ topic: 'old/t', qos: 1 }]))
  await a.client.expect(PT.SUBACK)
  await goOffline(broker, a.client, 'old-persistent')
  await broker.publish({ topic: 'old/t', payload: 'kept for 3.1', qos: 1 })

  const c = await RawClient.open(broker.port, t)
  await c.send(connect(spec))
  // 3.1's CONNACK has a reserved byte here; strict 3.1 clients refuse a non-zero value.
  assert.equal((await c.expect(PT.CONNACK)).raw.toString('hex'), '20020000')
  const p = await c.nextPublish()
  assert.equal(p.payload.toString(), 'kept for 3.1')
})

test('resuming a session does not replay retained messages (no new SUBSCRIBE was sent)', async (t) => {
  const broker = await startTestBroker(t)
  await broker.publish({ topic: 'rr/state', payload: 'retained', qos: 1, retain: true })
  const a = await persistentRaw(broker.port, 'no-replay', t, [{ topic: 'rr/#', qos: 1 }])
  const first = await a.client.nextPublish()
  assert.deepEqual([first.payload.toString(), first.retain], ['retained', true])
  await a.client.send(puback(defined(first.packetId, 'first.packetId')))
  await a.client.pingBarrier()
  await goOffline(broker, a.client, 'no-replay')
  await broker.publish({ topic: 'rr/live', payload: 'queued', qos: 1 })
  const b = await persistentRaw(broker.port, 'no-replay', t)
  assert.deepEqual(await receiveAll(b.client, 1), [{ payload: 'queued', qos: 1 }])
})
