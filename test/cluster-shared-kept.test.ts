// `$share` groups with a persistent member, kept in JetStream on a real nats-server: a QoS 1/2
// message for the group is stored before its publisher's PUBACK and survives the group's
// nodes (closed, or killed with -9: a CLI child process); members online on several nodes
// still get each message once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { clusterNames } from '../src/cluster/names.ts'
import { SessionQueue } from '../src/cluster/session-queue.ts'
import {
  inflightBecomes,
  keptBecomes,
  persistent,
  queueReader,
  recordSeen,
  resumeThenLive,
} from './cluster-session-helpers.ts'
import { mqttConnect, PT, RawClient, subscribe, until } from './helpers.ts'
import {
  cliNode,
  natsConnection,
  natsServerMissing,
  node,
  received,
  stack,
  startNatsServer,
  twoNodes,
} from './nats-helpers.ts'

const skip = await natsServerMissing()

test("a $share group's messages published while its only node is down reach its persistent member on another node", {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const member = await mqttConnect(a.port, persistent('worker'), s)
  await member.subscribeAsync('$share/g/job/#', { qos: 1 })
  await member.endAsync()
  await recordSeen(b, 'worker', 1, true)
  // The group's only node goes: nobody has a queue subscription for the group any more.
  await a.close()
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  for (const n of [1, 2, 3]) await pub.publishAsync(`job/${n}`, `j${n}`, { qos: 1 })
  await pub.publishAsync('job/0', 'not kept', { qos: 0 })

  const { got } = await resumeThenLive(s, b.port, 'worker', 3, pub, 'job/4')
  assert.deepEqual(got, ['job/1 j1', 'job/2 j2', 'job/3 j3', 'job/4 live'])
})

test("a node killed (-9) with a $share group's messages in flight to its persistent member loses none", {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const b = await node(s, nats.url, 'b')
  const a = await cliNode(t, nats.url, 'a')
  const reader = await queueReader(s, nats.url)
  // A member that reads but never answers: what a takes from the group stays in flight to it.
  const member = await RawClient.connect(a.port, { clientId: 'worker', clean: false }, s)
  await member.client.send(subscribe(1, [{ topic: '$share/g/job/#', qos: 2 }]))
  await member.client.expect(PT.SUBACK)
  await recordSeen(b, 'worker', 1, false)
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  await pub.publishAsync('job/1', 'one', { qos: 1 })
  await pub.publishAsync('job/2', 'two', { qos: 2 })
  const first = await member.client.nextPublish()
  const second = await member.client.nextPublish()
  assert.deepEqual([first.topic, second.topic], ['job/1', 'job/2'])
  // Node a gave them to its member: they are that session's own copies now, not the group's.
  await keptBecomes(reader, 'worker', 2)
  // And the QoS 2 one is on a's list of what is in flight to the member (written as it went).
  await inflightBecomes(reader, 'worker', `${second.packetId} publish`)
  a.cli.child.kill('SIGKILL')
  await a.cli.exited
  await member.client.waitClosed()

  const { got } = await resumeThenLive(s, b.port, 'worker', 2, pub, 'job/3')
  // In the order a sent them: the QoS 2 one under its packet id from a's list of what was in
  // flight, and the QoS 1 one (never listed) before it, under a new id.
  assert.deepEqual(got, ['job/1 one', 'job/2 two', 'job/3 live'])
  // Completed, so nothing is kept for the session any more.
  await keptBecomes(reader, 'worker', 0)
})

test("a node whose members of a kept $share group are all offline leaves the group's messages to a node with one online", {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const sleeper = await mqttConnect(a.port, persistent('sleeper'), s)
  await sleeper.subscribeAsync('$share/g/job/+', { qos: 1 })
  await sleeper.endAsync()
  const awake = await mqttConnect(b.port, persistent('awake'), s)
  const got = received(awake)
  await awake.subscribeAsync('$share/g/job/+', { qos: 1 })
  await recordSeen(a, 'awake', 1, false)
  await recordSeen(b, 'sleeper', 1, true)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  const sent: string[] = []
  for (let n = 0; n < 10; n++) {
    sent.push(`job/${n} m${n}`)
    await pub.publishAsync(`job/${n}`, `m${n}`, { qos: 1 })
  }
  await until(
    () => got.length >= 10,
    () => `every message on the member online; got ${JSON.stringify(got)}`,
  )
  // Each once, so the offline member was given none.
  assert.deepEqual([...got].sort(), [...sent].sort())
})

test('a kept $share group with members online on two nodes gets each message once, and so does a clean group on its filter', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const members = await Promise.all(
    [
      { on: a, id: 'k1', clean: false },
      { on: b, id: 'k2', clean: false },
      { on: a, id: 'c1', clean: true },
      { on: b, id: 'c2', clean: true },
    ].map(async ({ on, id, clean }) => {
      const c = await mqttConnect(on.port, { ...persistent(id), clean }, s)
      const got = received(c)
      await c.subscribeAsync(clean ? '$share/clean/w/+' : '$share/kept/w/+', { qos: 1 })
      return got
    }),
  )
  await recordSeen(a, 'k2', 1, false)
  await recordSeen(b, 'k1', 1, false)
  const pubA = await mqttConnect(a.port, { clientId: 'pubA' }, s)
  const pubB = await mqttConnect(b.port, { clientId: 'pubB' }, s)
  const sent: string[] = []
  for (let i = 0; i < 40; i++) {
    sent.push(`w/${i % 3} m${i}`)
    await (i % 2 === 0 ? pubA : pubB).publishAsync(`w/${i % 3}`, `m${i}`, { qos: 1 })
  }
  const [k1, k2, c1, c2] = members as [string[], string[], string[], string[]]
  await until(
    () => k1.length + k2.length >= 40 && c1.length + c2.length >= 40,
    'both groups to get every message',
  )
  // Let any duplicate arrive before counting: a last message through each group.
  await pubA.publishAsync('w/end', 'end', { qos: 1 })
  await until(
    () => [...k1, ...k2].includes('w/end end') && [...c1, ...c2].includes('w/end end'),
    'the last message in both groups',
  )
  const kept = [...k1, ...k2].filter((m) => m !== 'w/end end')
  const clean = [...c1, ...c2].filter((m) => m !== 'w/end end')
  assert.deepEqual([...kept].sort(), [...sent].sort(), 'the kept group: each message once')
  assert.deepEqual([...clean].sort(), [...sent].sort(), 'the clean group: each message once')
})

test('a queue stream made before $share groups were kept gains their subjects and keeps its settings', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const conn = await natsConnection(s, nats.url)
  const jsm = await conn.jetstreamManager()
  const republish = {
    src: 'tmq.queue.s.*.*.*.*',
    dest: 'tmq.queue.seq.{{wildcard(2)}}.{{wildcard(1)}}.{{wildcard(3)}}.{{wildcard(4)}}',
    headers_only: true,
  }
  await jsm.streams.add({
    name: 'tmq_queue',
    subjects: ['tmq.queue.s.>', 'tmq.queue.b.>'],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    max_bytes: 1024 ** 3,
    allow_direct: true,
    republish,
  })
  const queue = await SessionQueue.open(conn, clusterNames(), 'origin')
  const info = await jsm.streams.info('tmq_queue')
  assert.deepEqual(info.config.subjects, ['tmq.queue.s.>', 'tmq.queue.b.>', 'tmq.queue.g.>'])
  assert.deepEqual(info.config.republish, republish)
  assert.equal(info.config.max_msgs_per_subject, 1)
  // A group's copy is stored there now, and handed out by the group's consumer.
  const message = { topic: 'x/y', payload: Buffer.from('p'), qos: 1 as const, retain: false }
  queue.sendShare('abcdefghijkl', SessionQueue.keyOf('o', 1), message)
  await queue.confirm()
  const got: string[] = []
  const stop = await queue.followShare('abcdefghijkl', (copy) => {
    got.push(`${copy.key} ${copy.message.topic} ${copy.message.payload}`)
    copy.taken()
  })
  s.after(stop)
  await until(() => got.length > 0, 'the group copy')
  // Under the key a member keeps it by: its own, not the message's.
  assert.deepEqual(got, ['o==abcdefghijkl.1 x/y p'])
  // Taken, so deleted from the stream (not confirmed: read until it is gone).
  const deadline = Date.now() + 30_000
  while (await jsm.direct.getMessage('tmq_queue', { seq: 1, next_by_subj: 'tmq.queue.g.>' })) {
    assert.ok(Date.now() < deadline, 'the taken group copy is still in the stream')
    await new Promise((r) => setTimeout(r, 50))
  }
})

test("a group's copy one node refuses (its last member left) goes to another node of the group", {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const queues: SessionQueue[] = []
  for (const origin of ['a', 'b'])
    queues.push(await SessionQueue.open(await natsConnection(s, nats.url), clusterNames(), origin))
  const [a, b] = queues as [SessionQueue, SessionQueue]
  let refused = 0
  const taken: string[] = []
  s.after(
    await a.followShare('groupgroup12', (copy) => {
      refused++
      copy.refused(100)
    }),
  )
  for (let n = 1; n <= 5; n++)
    a.sendShare('groupgroup12', SessionQueue.keyOf('o', n), {
      topic: 't',
      payload: Buffer.from(String(n)),
      qos: 1,
      retain: false,
    })
  await a.confirm()
  // a alone first: it is handed each copy and refuses it.
  await until(() => refused >= 5, 'a to be offered the copies')
  s.after(await b.followShare('groupgroup12', (copy) => taken.push(copy.key) && copy.taken()))
  await until(
    () => taken.length === 5,
    () => `every copy on b; took ${JSON.stringify(taken)}, a refused ${refused}`,
  )
  assert.deepEqual(
    [...taken].sort(),
    [1, 2, 3, 4, 5].map((n) => `o==groupgroup12.${n}`),
  )
})

test('a persistent member with an ordinary subscription on the same topics gets both copies, as on one node', {
  skip,
}, async (t) => {
  const { s, nats, a, b } = await twoNodes(t)
  const reader = await queueReader(s, nats.url)
  const both = await mqttConnect(b.port, persistent('both'), s)
  const got = received(both)
  await both.subscribeAsync({ '$share/g/d/+': { qos: 1 }, 'd/+': { qos: 1 } })
  await recordSeen(a, 'both', 2, false)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  for (const n of [1, 2, 3]) await pub.publishAsync(`d/${n}`, `m${n}`, { qos: 1 })
  await until(
    () => got.length >= 6,
    () => `two copies of each; got ${JSON.stringify(got)}`,
  )
  assert.deepEqual([...got].sort(), ['d/1 m1', 'd/1 m1', 'd/2 m2', 'd/2 m2', 'd/3 m3', 'd/3 m3'])
  // Both copies completed, so neither is kept.
  await keptBecomes(reader, 'both', 0)
})
