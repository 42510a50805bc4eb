// A retained QoS 1 publish on a cluster node is acknowledged only once the cluster's retained
// stream has it: right after the PUBACK a direct read of the stream finds it, and while NATS is
// down the PUBACK waits, then comes once the server is back and the write went through.
// Real nats-server.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterNames } from '../src/cluster/names.ts'
import { RetainedStore } from '../src/cluster/retained-store.ts'
import { type Cleanup, mqttConnect, until } from './helpers.ts'
import { natsConnection, natsServerMissing, node, stack, startNatsServer, twoNodes } from './nats-helpers.ts'

const skip = await natsServerMissing()

/** The cluster's retained stream read directly, as another process would. */
async function stream(t: Cleanup, url: string): Promise<RetainedStore> {
  const conn = await natsConnection(t, url)
  return RetainedStore.open(conn, clusterNames())
}

test('after the PUBACK of a retained QoS 1 message the retained stream has it', { skip }, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const a = await node(s, nats.url, 'a')
  const direct = await stream(s, nats.url)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  for (let i = 0; i < 50; i++) {
    const payload = `v${i}`
    await pub.publishAsync(`ack/${i % 5}`, payload, { qos: 1, retain: true })
    const stored = await direct.get(`ack/${i % 5}`)
    assert.equal(stored && Buffer.from(stored.payload).toString(), payload, `round ${i}`)
  }
})

test('while NATS is down a retained QoS 1 publish waits for its PUBACK, and is stored when it comes', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const a = await node(s, nats.url, 'a')
  const pub = await mqttConnect(a.port, { clientId: 'pub', reconnectPeriod: 0 }, s)
  await pub.publishAsync('outage/before', 'x', { qos: 1, retain: true })
  await nats.stop('SIGKILL')
  let acked = false
  const publish = pub.publishAsync('outage/during', 'kept', { qos: 1, retain: true }).then(() => {
    acked = true
  })
  // The ack can only come once the server is back: nothing can store the message before.
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(acked, false, 'no PUBACK while the retained stream is unreachable')
  await nats.start()
  await publish
  const direct = await stream(s, nats.url)
  const stored = await direct.get('outage/during')
  assert.equal(stored && Buffer.from(stored.payload).toString(), 'kept')
})

test('a retained publish acknowledged on A reaches a subscription made on B right after', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  const sub = await mqttConnect(b.port, { clientId: 'sub' }, s)
  const got = new Map<string, string>()
  sub.on('message', (topic, payload, packet) => {
    if (packet.retain) got.set(topic, payload.toString())
  })
  const missed: string[] = []
  for (let i = 0; i < 100; i++) {
    const topic = `ryw/${i}`
    await pub.publishAsync(topic, `v${i}`, { qos: 1, retain: true })
    await sub.subscribeAsync(topic, { qos: 1 })
    // Without it the message never comes: the bound only ends a failing round.
    await until(() => got.has(topic), topic, 5000).catch(() => undefined)
    if (got.get(topic) !== `v${i}`) missed.push(topic)
  }
  assert.deepEqual(missed, [])

  // A burst: every retained message acknowledged on A is there for a wildcard subscription on B.
  const burst = await Promise.all(
    Array.from({ length: 500 }, (_, i) => pub.publishAsync(`burst/${i}`, `b${i}`, { qos: 1, retain: true })),
  )
  assert.equal(burst.length, 500)
  const before = [...got.keys()].filter((k) => k.startsWith('burst/')).length
  assert.equal(before, 0)
  await sub.subscribeAsync('burst/#', { qos: 1 })
  await until(
    () => [...got.keys()].filter((k) => k.startsWith('burst/')).length === 500,
    'the burst',
    5000,
  ).catch(() => undefined)
  assert.equal([...got.keys()].filter((k) => k.startsWith('burst/')).length, 500)
})
