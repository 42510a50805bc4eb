// tinymqtt as the remote of a bridge: Mosquitto's bridge marker (`try_private`, protocol level
// 0x83 / 0x84) is accepted, and such a client neither gets its own messages back nor loses retain
// flags, so a tinymqtt-to-tinymqtt bridge with `direction: both` does not loop.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { type Broker, startBroker } from '../src/index.ts'
import { assertEachMessageOnceEachSide } from './bridge-loop.ts'
import {
  type Cleanup,
  connect,
  decodeConnack,
  decodePublish,
  Inbox,
  mqttConnect,
  PT,
  publish,
  RawClient,
  startTestBroker,
  subscribe,
  TIMEOUT,
  until,
} from './helpers.ts'

test('level 0x84 (3.1.1 with the bridge bit) → CONNACK 0, and the client is listed as a bridge', async (t) => {
  const broker = await startTestBroker(t)
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: 'bridge311', protocolLevel: 0x84 }))
  const p = await c.expect(PT.CONNACK)
  assert.equal(p.raw.toString('hex'), '20020000')
  assert.deepEqual(await c.pingBarrier(), [])
  const info = broker.clientList().find((ci) => ci.clientId === 'bridge311')
  assert.equal(info?.bridge, true)
  assert.equal(info?.protocolVersion, 4)
})

test('level 0x83 with MQIsdp (3.1 with the bridge bit) → CONNACK 0; a plain client is no bridge', async (t) => {
  const broker = await startTestBroker(t)
  const { connack } = await RawClient.connect(
    broker.port,
    { clientId: 'bridge31', protocolName: 'MQIsdp', protocolLevel: 0x83 },
    t,
  )
  assert.equal(connack.returnCode, 0)
  await RawClient.connect(broker.port, { clientId: 'plain' }, t)
  const byId = new Map(broker.clientList().map((ci) => [ci.clientId, ci]))
  assert.equal(byId.get('bridge31')?.bridge, true)
  assert.equal(byId.get('bridge31')?.protocolVersion, 3)
  assert.equal(byId.get('plain')?.bridge, false)
})

test('the bridge bit is refused with CONNACK 1 on MQTT 5 (0x85) and on a level the name does not have', async (t) => {
  const broker = await startTestBroker(t)
  const cases = [
    { protocolName: 'MQTT', protocolLevel: 0x85 },
    { protocolName: 'MQTT', protocolLevel: 0x83 },
    { protocolName: 'MQIsdp', protocolLevel: 0x84 },
    { protocolName: 'MQTT', protocolLevel: 0x80 },
  ]
  for (const spec of cases) {
    const c = await RawClient.open(broker.port, t)
    await c.send(connect({ clientId: 'refused', ...spec }))
    const p = await c.expect(PT.CONNACK)
    assert.equal(decodeConnack(p).returnCode, 1, `${spec.protocolName} level ${spec.protocolLevel}`)
    await c.waitClosed()
  }
})

test('a bridge client does not get its own messages back and keeps retain flags', async (t) => {
  const broker = await startTestBroker(t)
  const { client: bridge } = await RawClient.connect(broker.port, { clientId: 'b', protocolLevel: 0x84 }, t)
  const { client: plain } = await RawClient.connect(broker.port, { clientId: 'p' }, t)
  for (const c of [bridge, plain]) {
    await c.send(subscribe(1, [{ topic: 'x/#', qos: 1 }]))
    await c.expect(PT.SUBACK)
  }
  // The bridge's own message: acknowledged (so routed) before the other client publishes.
  await bridge.send(publish({ topic: 'x/own', payload: 'own', qos: 1, packetId: 2 }))
  await bridge.expect(PT.PUBACK)
  const own = decodePublish(await plain.expect(PT.PUBLISH))
  assert.equal(own.topic, 'x/own')
  await plain.send(publish({ topic: 'x/other', payload: 'other', retain: true }))
  const toBridge = decodePublish(await bridge.next())
  assert.equal(toBridge.topic, 'x/other', 'the first message the bridge gets is the other client’s')
  assert.equal(toBridge.retain, true, 'retain as published for the bridge')
  // A plain 3.1.1 subscriber gets its own message back, with the retain flag cleared.
  const toPlain = decodePublish(await plain.expect(PT.PUBLISH))
  assert.equal(toPlain.topic, 'x/other')
  assert.equal(toPlain.retain, false)
  assert.deepEqual(await bridge.pingBarrier(), [])
})

async function client(t: Cleanup, port: number): Promise<MqttClient> {
  return mqttConnect(port, {}, t)
}

/** Broker `local` bridged to broker `remote` (tinymqtt both), `sync/#` both ways, tryPrivate default. */
async function bridgedPair(t: Cleanup): Promise<{ local: Broker; remote: Broker }> {
  const remote = await startTestBroker(t)
  const local = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    bridges: [
      {
        name: 'twin',
        address: `127.0.0.1:${remote.port}`,
        reconnectDelay: 0.1,
        reconnectDelayMax: 0.5,
        topics: [{ pattern: 'sync/#', direction: 'both', qos: 1 }],
      },
    ],
  })
  t.after(() => local.close())
  const state: string[] = []
  local.subscribe('$SYS/broker/connection/twin/state', (m) => state.push(m.payload.toString()))
  await until(() => state.includes('1'), 'the bridge to connect', TIMEOUT)
  return { local, remote }
}

test('tinymqtt bridged to tinymqtt with tryPrivate and `both`: each message arrives once on each side', async (t) => {
  const { local: localBroker, remote: remoteBroker } = await bridgedPair(t)
  assert.equal(remoteBroker.clientList().find((ci) => ci.clientId !== '')?.bridge, true)
  await assertEachMessageOnceEachSide(t, localBroker.port, remoteBroker.port)
})

test('a retained message crosses a tinymqtt-to-tinymqtt bridge retained, both ways', async (t) => {
  const { local: localBroker, remote: remoteBroker } = await bridgedPair(t)
  const sides = [
    { from: remoteBroker, to: localBroker, topic: 'sync/retained/in' },
    { from: localBroker, to: remoteBroker, topic: 'sync/retained/out' },
  ]
  for (const { from, to, topic } of sides) {
    const watcher = await client(t, to.port)
    const watched = new Inbox(watcher)
    await watcher.subscribeAsync(topic, { qos: 1 })
    const publisher = await client(t, from.port)
    await publisher.publishAsync(topic, `kept ${topic}`, { qos: 1, retain: true })
    await watched.waitFor((m) => m.payload === `kept ${topic}`, `${topic} on the other side`)
    // A subscriber arriving afterwards gets it from the other broker's retained store.
    const late = await client(t, to.port)
    const lateInbox = new Inbox(late)
    await late.subscribeAsync(topic, { qos: 1 })
    const got = await lateInbox.waitFor((m) => m.topic === topic, `retained ${topic}`)
    assert.equal(got.payload, `kept ${topic}`)
    assert.equal(got.retain, true)
  }
})
