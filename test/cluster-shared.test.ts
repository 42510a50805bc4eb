// `$share` groups on a cluster: each message goes to one member of the group in the whole
// cluster, whichever node the members and the publisher are on; ordinary subscribers still
// get every message. Real nats-server.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MqttClient } from 'mqtt'
import pino from 'pino'
import type { FabricInlet, Message } from '../src/broker/types.ts'
import { encodeEnvelope } from '../src/cluster/envelope.ts'
import { clusterNames } from '../src/cluster/names.ts'
import { SharedQueues } from '../src/cluster/shared-queues.ts'
import { SubjectMapper } from '../src/cluster/subjects.ts'
import type { Broker } from '../src/index.ts'
import { type Cleanup, mqttConnect, until } from './helpers.ts'
import { natsConnection, natsServerMissing, stack, startNatsServer, twoNodes } from './nats-helpers.ts'

const skip = await natsServerMissing()

async function member(
  t: Cleanup,
  broker: Broker,
  clientId: string,
  filter: string,
): Promise<{ c: MqttClient; got: string[] }> {
  const c = await mqttConnect(broker.port, { clientId }, t)
  const got: string[] = []
  c.on('message', (_topic, payload) => got.push(payload.toString()))
  await c.subscribeAsync(filter, { qos: 1 })
  return { c, got }
}

test('a $share group with members on two nodes gets each message once in the cluster', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const m1 = await member(s, a, 'm1', '$share/g/work/#')
  const m2 = await member(s, b, 'm2', '$share/g/work/#')
  const m3 = await member(s, b, 'm3', '$share/g/work/#')
  const plain = await member(s, b, 'plain', 'work/#')
  const pubA = await mqttConnect(a.port, { clientId: 'pubA' }, s)
  const pubB = await mqttConnect(b.port, { clientId: 'pubB' }, s)
  const sent: string[] = []
  for (let i = 0; i < 150; i++) {
    const payload = `m${i}`
    sent.push(payload)
    await (i % 2 === 0 ? pubA : pubB).publishAsync(`work/${i % 7}`, payload, { qos: 1 })
  }
  await until(() => plain.got.length === sent.length, 'the plain subscriber to get every message')
  const members = [m1, m2, m3]
  await until(
    () => members.reduce((n, m) => n + m.got.length, 0) >= sent.length,
    'the group to get every message',
  )
  const all = members.flatMap((m) => m.got)
  assert.deepEqual([...all].sort(), [...sent].sort(), 'each message once, to one member')
  // The queue spreads the messages over both nodes' members.
  assert.ok(
    m1.got.length > 0 && m2.got.length + m3.got.length > 0,
    `spread: ${members.map((m) => m.got.length)}`,
  )
  // A flush round trip on each member's connection shows no late duplicate is on its way.
  for (const m of members) await m.c.publishAsync('flush/check', '', { qos: 1 })
  assert.equal(members.flatMap((m) => m.got).length, sent.length)
})

test('two groups on one filter each get every message once; a member leaving moves its share', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const g1a = await member(s, a, 'g1a', '$share/one/job')
  const g1b = await member(s, b, 'g1b', '$share/one/job')
  const g2b = await member(s, b, 'g2b', '$share/two/job')
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  for (let i = 0; i < 40; i++) await pub.publishAsync('job', `j${i}`, { qos: 1 })
  await until(() => g1a.got.length + g1b.got.length === 40 && g2b.got.length === 40, 'both groups')
  await g1a.c.unsubscribeAsync('$share/one/job')
  const before = g1b.got.length
  for (let i = 40; i < 60; i++) await pub.publishAsync('job', `j${i}`, { qos: 1 })
  await until(() => g1b.got.length === before + 20, 'the remaining member to get the rest')
  assert.equal(g2b.got.length, 60)
})

test("messages on their way to a node whose last member leaves go to the group's members on other nodes", {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const leaving = await member(s, a, 'leaving', '$share/g/burst')
  const staying = await member(s, b, 'staying', '$share/g/burst')
  // Another group on the same filter: what g hands back must not reach it a second time.
  const other = await member(s, a, 'other', '$share/other/burst')
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  const sent = Array.from({ length: 400 }, (_, i) => `m${i}`)
  const published = Promise.all(sent.map((p) => pub.publishAsync('burst', p, { qos: 1 })))
  // The member on a leaves while the burst is still being shared out between the two nodes.
  await until(() => leaving.got.length > 0, 'the first messages on a')
  await leaving.c.unsubscribeAsync('$share/g/burst')
  await published
  const all = (): string[] => [...leaving.got, ...staying.got]
  await until(() => all().length >= sent.length, 'every message to one of the members')
  await until(() => other.got.length >= sent.length, 'every message to the other group')
  // A flush round trip on each member's connection shows no late duplicate is on its way.
  for (const m of [staying, other]) await m.c.publishAsync('flush/check', '', { qos: 1 })
  assert.deepEqual(all().sort(), [...sent].sort(), 'each message once')
  assert.deepEqual([...other.got].sort(), [...sent].sort(), 'each message once to the other group')
})

test('a message handed back to its group reaches no other group on the same filter a second time', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const names = clusterNames()
  /** One node's shared queues, whose members take what `takes` says. */
  const queuesOf = async (name: string, takes: (group: string) => boolean) => {
    const conn = await natsConnection(s, nats.url, name)
    const queues = new SharedQueues(conn, names, pino({ level: 'silent' }))
    s.after(() => queues.stop())
    const got: string[] = []
    const inlet: Pick<FabricInlet, 'deliverShared'> = {
      deliverShared: (group, _filter, message) => {
        if (!takes(group)) return false
        got.push(`${group} ${message.payload.toString()}`)
        return true
      },
    }
    queues.connect(inlet as FabricInlet)
    return { conn, queues, got }
  }
  // Node a has lost its last member of g, the server not knowing yet: it hands back all it gets.
  const a = await queuesOf('a', (group) => group !== 'g')
  const b = await queuesOf('b', () => true)
  a.queues.interest('g', 'job', true)
  a.queues.interest('other', 'job', true)
  b.queues.interest('g', 'job', true)
  await Promise.all([a.queues.flush(), b.queues.flush()])

  const subject = new SubjectMapper(names.messagePrefix).topicToSubject('job')
  const sent = Array.from({ length: 40 }, (_, i) => `m${i}`)
  sent.forEach((payload, i) => {
    const message: Message = { topic: 'job', payload: Buffer.from(payload), qos: 1, retain: false }
    b.conn.connection.publish(subject, encodeEnvelope(message, Buffer.from('origin'), i + 1))
  })
  await until(
    () => b.got.length >= sent.length,
    () => `g to get every message on b; got ${b.got.length}`,
  )
  await until(
    () => a.got.length >= sent.length,
    () => `other to get every message; got ${a.got.length}`,
  )
  // Round trips on both connections: anything handed back is in by now.
  await Promise.all([a.conn.connection.flush(), b.conn.connection.flush()])
  await a.conn.connection.flush()
  assert.deepEqual([...b.got].sort(), sent.map((p) => `g ${p}`).sort(), 'g: each message once')
  assert.deepEqual([...a.got].sort(), sent.map((p) => `other ${p}`).sort(), 'other: each message once')
})
