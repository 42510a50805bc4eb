// Several brokers as one on a real nats-server: routing across nodes (every QoS, wildcards both
// ways, the `$` rule, one copy per subscriber, order per publisher, interest-based delivery)
// and retained messages shared through JetStream (across nodes, deletes, ACL on read). Each
// node is a startBroker in this process with its own MQTT port and `cluster` settings.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { type Broker, clusterOf, MemoryStore, startBroker } from '../src/index.ts'
import { type Cleanup, LogCapture, mqttConnect, until, WARN, withTimeout } from './helpers.ts'
import { natsConnection, natsServerMissing, node, stack, startNatsServer } from './nats-helpers.ts'

interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
}

/** A connected client recording what it receives. */
async function client(
  t: Cleanup,
  broker: Broker,
  clientId: string,
): Promise<{ c: MqttClient; got: Received[] }> {
  const c = await mqttConnect(broker.port, { clientId }, t)
  const got: Received[] = []
  c.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }),
  )
  return { c, got }
}

async function sub(c: MqttClient, filter: string | string[], qos: 0 | 1 | 2 = 2): Promise<void> {
  // SUBACK waits until the node's NATS subscription has reached the server.
  await c.subscribeAsync(filter, { qos })
}

const payloads = (got: Received[], topic?: string): string[] =>
  got.filter((m) => topic === undefined || m.topic === topic).map((m) => m.payload)

async function arrived(got: Received[], topic: string, payload: string): Promise<void> {
  await until(() => got.some((m) => m.topic === topic && m.payload === payload), `${topic} ${payload}`)
}

async function cluster(t: Cleanup, n: number): Promise<Broker[]> {
  const server = await startNatsServer(t)
  const nodes: Broker[] = []
  for (let i = 0; i < n; i++) nodes.push(await node(t, server.url, `node${i}`))
  return nodes
}

test('cross-node delivery keeps each QoS, and wildcards match both ways', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b] = await cluster(c0, 2)
  assert.ok(a && b)
  const onA = await client(c0, a, 'sub-a')
  const onB = await client(c0, b, 'sub-b')
  await sub(onA.c, 'w/+/x')
  await sub(onB.c, 'w/#')
  const pubA = await client(c0, a, 'pub-a')
  const pubB = await client(c0, b, 'pub-b')

  for (const qos of [0, 1, 2] as const) await pubA.c.publishAsync(`w/q${qos}/y`, `q${qos}`, { qos })
  await arrived(onB.got, 'w/q2/y', 'q2')
  for (const qos of [0, 1, 2] as const) {
    const m = onB.got.find((r) => r.topic === `w/q${qos}/y`)
    assert.equal(m?.qos, qos, `QoS ${qos} across the hop`)
    assert.equal(m?.retain, false)
  }
  await pubB.c.publishAsync('w/1/x', 'from-b', { qos: 1 })
  await arrived(onA.got, 'w/1/x', 'from-b')
  assert.equal(onA.got.find((r) => r.topic === 'w/1/x')?.qos, 1)
  // A's `w/+/x` does not match what A's own publisher sent on w/q*/y.
  assert.deepEqual(payloads(onA.got), ['from-b'])
})

test('`#` does not match `$` topics across nodes; a `$` filter does', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b] = await cluster(c0, 2)
  assert.ok(a && b)
  const all = await client(c0, b, 'all')
  const dollar = await client(c0, b, 'dollar')
  await sub(all.c, '#')
  await sub(dollar.c, '$app/#')
  const pub = await client(c0, a, 'pub')
  await pub.c.publishAsync('$app/state', 'hidden', { qos: 1 })
  await pub.c.publishAsync('marker', 'done', { qos: 1 })
  await arrived(all.got, 'marker', 'done')
  await arrived(dollar.got, '$app/state', 'hidden')
  assert.deepEqual(payloads(all.got), ['done'], '`#` never sees $app/state')
})

test('one copy per subscriber: overlapping filters on a node, and a subscriber on the publishing node', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b] = await cluster(c0, 2)
  assert.ok(a && b)
  const overlap = await client(c0, b, 'overlap')
  await sub(overlap.c, ['d/#', 'd/+', 'd/x'])
  const other = await client(c0, b, 'other')
  await sub(other.c, 'd/+')
  const local = await client(c0, a, 'local')
  await sub(local.c, 'd/#')
  const pub = await client(c0, a, 'pub')
  await pub.c.publishAsync('d/x', 'one', { qos: 1 })
  await pub.c.publishAsync('d/end', 'end', { qos: 1 })
  await arrived(overlap.got, 'd/end', 'end')
  await arrived(other.got, 'd/end', 'end')
  await arrived(local.got, 'd/end', 'end')
  assert.deepEqual(payloads(overlap.got), ['one', 'end'])
  assert.deepEqual(payloads(other.got), ['one', 'end'])
  assert.deepEqual(payloads(local.got), ['one', 'end'], 'no echo back from NATS to the publishing node')
})

test('messages of one publisher arrive on another node in the order published', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b] = await cluster(c0, 2)
  assert.ok(a && b)
  const s = await client(c0, b, 'ordered')
  await sub(s.c, 'o/#', 1)
  const pub = await client(c0, a, 'pub')
  const sent: string[] = []
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < 300; i++) {
    sent.push(String(i))
    // Alternating topics: order per publisher holds across subjects too. One QoS, since MQTT
    // orders messages of one QoS only (a QoS 0 message may overtake queued QoS 1 ones).
    writes.push(pub.c.publishAsync(`o/${i % 3}`, String(i), { qos: 1 }))
  }
  await Promise.all(writes)
  await until(() => s.got.length === sent.length, 'all 300 messages')
  assert.deepEqual(payloads(s.got), sent)
})

test('a node receives only what its own subscribers subscribed to', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b, c] = await cluster(c0, 3)
  assert.ok(a && b && c)
  const s = await client(c0, b, 'interested')
  await sub(s.c, 'i/#')
  const idle = await client(c0, c, 'elsewhere')
  await sub(idle.c, 'other/topic')
  const pub = await client(c0, a, 'pub')
  for (let i = 0; i < 20; i++) await pub.c.publishAsync(`i/${i}`, String(i), { qos: 1 })
  await until(() => s.got.length === 20, '20 messages on b')
  // A message c did subscribe to, after the others from the same publisher: c has had its chance.
  await pub.c.publishAsync('other/topic', 'for-c', { qos: 1 })
  await arrived(idle.got, 'other/topic', 'for-c')
  const statusB = clusterOf(b)?.status()
  const statusC = clusterOf(c)?.status()
  assert.deepEqual(statusC?.filters, ['other/topic'])
  assert.equal(statusC?.received, 1, 'c got only the message it subscribed to')
  assert.equal(statusB?.received, 20)
  assert.deepEqual(clusterOf(a)?.status().filters, [], 'a has no subscribers, so no NATS subscriptions')

  // The last subscriber leaving ends the node's NATS subscription.
  await s.c.unsubscribeAsync('i/#')
  assert.deepEqual(clusterOf(b)?.status().filters, [])
  const second = await client(c0, b, 'second')
  await sub(second.c, ['i/#', 'i/+'])
  await s.c.subscribeAsync('i/#', { qos: 1 })
  assert.deepEqual(clusterOf(b)?.status().filters.sort(), ['i/#', 'i/+'])
  second.c.end(true)
  await until(() => clusterOf(b)?.status().filters.length === 1, 'the closed client’s filters to go')
  assert.deepEqual(clusterOf(b)?.status().filters, ['i/#'])
})

test('retained messages are shared across nodes, deletes propagate, and reads obey the ACL', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const [a, b] = await cluster(c0, 2)
  assert.ok(a && b)
  b.setAccessControl({ canRead: (who, topic) => !(who.clientId === 'guest' && topic.startsWith('r/secret')) })
  const pub = await client(c0, a, 'pub')
  await pub.c.publishAsync('r/lamp', 'on', { qos: 1, retain: true })
  await pub.c.publishAsync('r/secret/code', '1234', { qos: 1, retain: true })
  await pub.c.publishAsync('r/gone', 'soon', { qos: 0, retain: true })
  const retainedOnB = (): string[] =>
    b
      .retainedMessages('r/#')
      .map((m) => m.topic)
      .sort()
  await until(() => retainedOnB().length === 3, 'the retained messages on b')

  const reader = await client(c0, b, 'reader')
  await sub(reader.c, 'r/#', 1)
  await until(() => reader.got.length === 3, 'three retained messages')
  assert.deepEqual(reader.got.map((m) => [m.topic, m.payload, m.retain]).sort(), [
    ['r/gone', 'soon', true],
    ['r/lamp', 'on', true],
    ['r/secret/code', '1234', true],
  ])
  assert.equal(reader.got.find((m) => m.topic === 'r/lamp')?.qos, 1)

  const guest = await client(c0, b, 'guest')
  await sub(guest.c, 'r/#', 1)
  await guest.c.publishAsync('r/marker', 'm', { qos: 1 })
  await arrived(guest.got, 'r/marker', 'm')
  assert.deepEqual(
    guest.got.map((m) => m.topic).sort(),
    ['r/gone', 'r/lamp', 'r/marker'],
    'no r/secret for guest',
  )

  // Last writer wins, from either node; an empty payload deletes everywhere.
  await reader.c.publishAsync('r/lamp', 'off', { qos: 1, retain: true })
  await pub.c.publishAsync('r/gone', '', { qos: 1, retain: true })
  await until(
    () =>
      a.retainedMessages('r/#').length === 2 && a.retainedMessages('r/lamp')[0]?.payload.toString() === 'off',
    'a to see the new lamp and the delete',
  )
  await until(() => retainedOnB().join() === 'r/lamp,r/secret/code', 'b to drop r/gone')
  const late = await client(c0, a, 'late')
  await sub(late.c, 'r/+', 1)
  await late.c.publishAsync('r/marker2', 'm', { qos: 1 })
  await arrived(late.got, 'r/marker2', 'm')
  assert.deepEqual(
    late.got.map((m) => [m.topic, m.payload]),
    [
      ['r/lamp', 'off'],
      ['r/marker2', 'm'],
    ],
  )
})

test('a node that joins later gets the retained messages published before it started', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const server = await startNatsServer(t)
  const a = await node(c0, server.url, 'first')
  await a.publish({ topic: 'early/one', payload: 'x', retain: true, qos: 1 })
  await a.publish({ topic: 'early/two', payload: 'y', retain: true })
  await a.publish({ topic: 'early/two', payload: '', retain: true })
  // The put and the delete reach JetStream asynchronously; a second node reads the stream.
  const probe = await node(c0, server.url, 'probe')
  await until(() => probe.retainedMessages('early/#').length === 1, 'the probe to see early/one only')
  const b = await withTimeout(node(c0, server.url, 'second'), 'the second node to start')
  assert.deepEqual(
    b.retainedMessages('early/#').map((m) => [m.topic, m.payload.toString(), m.qos]),
    [['early/one', 'x', 1]],
    'caught up before startBroker resolved',
  )
})

test('PUBACK of a QoS 1 message and SUBACK of a new filter wait until the NATS server has them', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const server = await startNatsServer(c0)
  const a = await node(c0, server.url, 'a')
  const local = await client(c0, a, 'local')
  await sub(local.c, 'marker', 0)
  const pub = await client(c0, a, 'pub')
  await pub.c.publishAsync('before', 'x', { qos: 1 })

  // Connected before the outage: while NATS is away a cluster node cannot claim a client id.
  const subscriber = await client(c0, a, 'subscriber')
  await server.stop('SIGKILL')
  await until(() => clusterOf(a)?.status().nats === 'disconnected', 'a to notice NATS is gone')
  // A SUBACK for a filter new to the node waits until its NATS subscription is in.
  let subacked = false
  const suback = subscriber.c.subscribeAsync('fresh/#', { qos: 1 }).then(() => {
    subacked = true
  })
  subscriber.c.publish('marker', 'm1', { qos: 0 })
  await arrived(local.got, 'marker', 'm1')
  assert.equal(subacked, false, 'no SUBACK while NATS cannot have the subscription')
  await server.start()
  await withTimeout(suback, 'the SUBACK after NATS is back')
  assert.equal(subacked, true)

  // Each check on its own: nothing else is waiting for NATS now.
  await server.stop('SIGKILL')
  await until(() => clusterOf(a)?.status().nats === 'disconnected', 'a to notice NATS is gone again')
  let acked = false
  const puback = pub.c.publishAsync('held/x', 'x', { qos: 1 }).then(() => {
    acked = true
  })
  // Same connection, after the QoS 1 message: once the marker is delivered, a PUBACK sent
  // without waiting for NATS would have been written before it.
  pub.c.publish('marker', 'm2', { qos: 0 })
  await arrived(local.got, 'marker', 'm2')
  assert.equal(acked, false, 'no PUBACK while NATS cannot have the message')

  await server.start()
  await withTimeout(puback, 'the PUBACK after NATS is back')
  assert.equal(acked, true)
})

test('a node drops retained messages from its own store that the cluster does not have', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const server = await startNatsServer(c0)
  const a = await node(c0, server.url, 'a')
  await a.publish({ topic: 'kept/one', payload: 'k', retain: true, qos: 1 })
  await until(() => a.retainedMessages('kept/#').length === 1, 'kept/one on a')
  // What a node's local store holds from before it joined (or from a delete it missed).
  const store = new MemoryStore()
  store.putRetained({ topic: 'stale/x', payload: Buffer.from('old'), qos: 0, retain: true })
  const b = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    store,
    cluster: { servers: [server.url], node: 'b' },
  })
  c0.after(() => b.close())
  await until(() => b.retainedMessages('kept/#').length === 1, 'kept/one on b')
  assert.deepEqual(b.retainedMessages('stale/#'), [], 'stale/x is not in the cluster, so it went')
})

test('bytes on a routed subject that are not a tinymqtt message are logged and dropped', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const server = await startNatsServer(c0)
  const logs = new LogCapture()
  const b = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logger: logs.logger,
    cluster: { servers: [server.url], node: 'b' },
  })
  c0.after(() => b.close())
  const a = await node(c0, server.url, 'a')
  const s = await client(c0, b, 's')
  await sub(s.c, 'g/#', 1)
  const raw = await natsConnection(c0, server.url)
  raw.connection.publish('tmq.msg.t.g.x', 'not an envelope')
  await raw.connection.flush()
  const pub = await client(c0, a, 'pub')
  await pub.c.publishAsync('g/after', 'fine', { qos: 1 })
  await arrived(s.got, 'g/after', 'fine')
  assert.deepEqual(payloads(s.got), ['fine'])
  await logs.waitFor(
    (r) => r.level === WARN && r.msg?.includes('not a tinymqtt envelope') === true,
    'warning of it',
  )
})

test('after a NATS restart nodes route again and their retained copies follow the stream', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const c0 = stack(t)
  const server = await startNatsServer(c0)
  const a = await node(c0, server.url, 'a')
  const b = await node(c0, server.url, 'b')
  const s = await client(c0, b, 's')
  await sub(s.c, 'n/#', 1)
  await server.stop('SIGKILL')
  await server.start()
  await until(
    () => clusterOf(a)?.status().nats === 'connected' && clusterOf(b)?.status().nats === 'connected',
    'both nodes to reconnect',
  )
  const pub = await client(c0, a, 'pub')
  // Core NATS drops what is published before b's subscription is back: probe until one arrives.
  const probe = setInterval(() => pub.c.publish('n/probe', 'p', { qos: 0 }), 20)
  c0.after(() => clearInterval(probe))
  await until(() => s.got.length > 0, 'a probe from a on b')
  clearInterval(probe)
  await pub.c.publishAsync('n/retained', 'r', { qos: 1, retain: true })
  await until(() => b.retainedMessages('n/retained').length === 1, "b's copy of n/retained")
  await arrived(s.got, 'n/retained', 'r')
})
