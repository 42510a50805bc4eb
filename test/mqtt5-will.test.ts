// Issue 5, point 9: Will Delay Interval (the will goes out at the earlier of the delay and the
// session's end; a reconnect in time cancels it) and will properties forwarded.
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
  type WillSpec,
} from './mqtt5-helpers.ts'

function publishes(packets: Packet[]): PacketOf<'publish'>[] {
  return packets.filter((p): p is PacketOf<'publish'> => p.cmd === 'publish')
}

async function watcher(port: number, t: Parameters<typeof Raw5.connect>[2]): Promise<Raw5> {
  const { client } = await Raw5.connect(port, {}, t)
  await client.subscribe(1, [{ topic: 'will/#', qos: 1 }])
  return client
}

function will(topic: string, properties: WillSpec['properties'] = {}): WillSpec {
  return { topic, payload: Buffer.from('gone'), qos: 1, retain: false, properties }
}

/** A will delay a reconnect has to beat. */
const WILL_DELAY_S = 5

test('Will Delay Interval: the will goes out after the delay, not at the close', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(
    broker.port,
    {
      clientId: `wd-${uid()}`,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      // Long enough that the close, a probe connection and a barrier fit in it on a busy machine.
      will: will('will/delayed', { willDelayInterval: 5 }),
    },
    t,
  )
  await client.pingBarrier()
  client.destroy()
  await client.untilClosed()
  // The broker has seen the close once a later connection's packets are handled after it.
  const probe = await Raw5.connect(broker.port, {}, t)
  await probe.client.pingBarrier()
  assert.deepEqual(publishes(await w.pingBarrier()), [], 'not published at the close')
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/delayed')
  assert.equal(p.payload.toString(), 'gone')
})

test('Will Delay Interval longer than the session: the will goes out when the session ends', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(
    broker.port,
    {
      clientId: `wse-${uid()}`,
      clean: false,
      properties: { sessionExpiryInterval: 1 },
      will: will('will/session-end', { willDelayInterval: 30 }),
    },
    t,
  )
  await client.pingBarrier()
  client.destroy()
  // Guard well below the 30 s delay: only the session's end (1 s) can publish it in time.
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/session-end')
})

test('Will Delay Interval with Session Expiry 0: the session ends at the close, so the will goes out then', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(broker.port, { will: will('will/now', { willDelayInterval: 30 }) }, t)
  await client.pingBarrier()
  client.destroy()
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/now')
})

test('Will Delay Interval: a reconnect within the delay cancels the will', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const id = `wc-${uid()}`
  const spec = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } }
  const { client } = await Raw5.connect(
    broker.port,
    { ...spec, will: will('will/cancelled', { willDelayInterval: WILL_DELAY_S }) },
    t,
  )
  await client.pingBarrier()
  const closedAt = Date.now()
  client.destroy()
  await client.untilClosed()
  // The reconnect must come within the delay; 5 s leaves a busy machine ample room for it.
  const again = await Raw5.connect(broker.port, spec, t)
  assert.equal(again.connack.sessionPresent, true)
  // Past the delay, counted from before the close: a will still pending would have gone out.
  await sleep(closedAt + WILL_DELAY_S * 1000 + 700 - Date.now())
  assert.deepEqual(publishes(await w.pingBarrier()), [], 'no will after the reconnect')
})

test('DISCONNECT 0x04 (with will) publishes the will; DISCONNECT 0x00 does not', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const a = await Raw5.connect(broker.port, { will: will('will/with') }, t)
  a.client.send({ cmd: 'disconnect', reasonCode: 0x04 })
  await a.client.untilClosed()
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/with')
  const b = await Raw5.connect(broker.port, { will: will('will/without') }, t)
  b.client.send({ cmd: 'disconnect', reasonCode: 0x00 })
  await b.client.untilClosed()
  const probe = await Raw5.connect(broker.port, {}, t)
  await probe.client.pingBarrier()
  assert.deepEqual(publishes(await w.pingBarrier()), [])
})

test('will properties forwarded: payload format, content type, response topic, correlation data, user properties, expiry (MQTT.js)', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('will/props', { qos: 1 })
  const correlation = Buffer.from([1, 2, 3, 0])
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: `wp-${uid()}`,
    will: {
      topic: 'will/props',
      payload: Buffer.from('bye ✓'),
      qos: 1,
      retain: false,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'text/plain',
        responseTopic: 'will/reply',
        correlationData: correlation,
        userProperties: { reason: 'power', list: ['a', 'b'] },
        messageExpiryInterval: 300,
      },
    },
  })
  t.after(() => client.end(true))
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  client.stream.destroy()
  const m = await inbox.waitFor((x) => x.topic === 'will/props', 'the will')
  const p = m.packet.properties ?? {}
  assert.equal(m.payload.toString(), 'bye ✓')
  assert.equal(p.payloadFormatIndicator, true)
  assert.equal(p.contentType, 'text/plain')
  assert.equal(p.responseTopic, 'will/reply')
  assert.deepEqual(p.correlationData, correlation)
  assert.deepEqual({ ...p.userProperties }, { reason: 'power', list: ['a', 'b'] })
  assert.equal(typeof p.messageExpiryInterval, 'number')
  assert.ok(
    defined(p.messageExpiryInterval, 'p.messageExpiryInterval') <= 300 &&
      defined(p.messageExpiryInterval, 'p.messageExpiryInterval') > 0,
  )
})

test('a delayed will carries its Message Expiry Interval from when it is published (not expired on arrival)', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(
    broker.port,
    {
      clientId: `wexp-${uid()}`,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will('will/expiring', { willDelayInterval: 1, messageExpiryInterval: 1 }),
    },
    t,
  )
  await client.pingBarrier()
  client.destroy()
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/expiring')
  const remaining = p.properties?.messageExpiryInterval
  assert.equal(typeof remaining, 'number')
  assert.ok(
    defined(remaining, 'remaining') > 0 && defined(remaining, 'remaining') <= 1,
    `Message Expiry Interval ${remaining}: the will's lifetime starts when it is published`,
  )
})

test('a DISCONNECT with an error reason code (0x80) does not discard the will: only 0x00 does', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(broker.port, { will: will('will/error-disconnect') }, t)
  client.send({ cmd: 'disconnect', reasonCode: 0x80 })
  await client.untilClosed()
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/error-disconnect', '[MQTT-3.1.2-8] the will is deleted only by DISCONNECT 0x00')
})

test('a protocol error closes with its reason code and publishes the will', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await Raw5.connect(broker.port, { will: will('will/protocol-error') }, t)
  client.publish({ topic: 'x', payload: 'y', properties: { topicAlias: 0 } })
  assert.equal((await client.expectDisconnect()).reasonCode, 0x94)
  const p = await w.expect('publish')
  assert.equal(p.topic, 'will/protocol-error')
})
