// A persistent session's QoS 1/2 messages across nodes, on a real nats-server: kept in
// JetStream for the session before the publisher's PUBACK, delivered once and in order on
// whichever node the client comes back to, deleted once the client has them, with what was in
// flight under its packet ids (a node killed with -9 too: a CLI child process). The sessions of
// dead nodes are in cluster-dead-node-sessions.test.ts.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { SessionQueue } from '../src/cluster/session-queue.ts'
import { type Broker, clusterOf, startBroker } from '../src/index.ts'
import {
  inflightBecomes,
  keptBecomes,
  persistent,
  queueReader,
  recordSeen,
  resumeThenLive,
} from './cluster-session-helpers.ts'
import {
  ackId,
  type Cleanup,
  DISCONNECT,
  mqttConnect,
  PT,
  pubcomp,
  pubrec,
  RawClient,
  subscribe,
  until,
} from './helpers.ts'
import {
  cliNode,
  natsServerMissing,
  node,
  received,
  stack,
  startNatsServer,
  twoNodes,
  twoNodesOneRelayed,
} from './nats-helpers.ts'

const skip = await natsServerMissing()

test('messages kept for an offline session follow it to another node, once and in order, and are deleted once delivered', {
  skip,
}, async (t) => {
  const { s, nats, a, b } = await twoNodes(t)
  const reader = await queueReader(s, nats.url)
  const sub = await mqttConnect(a.port, persistent('roamer'), s)
  await sub.subscribeAsync({ 'q/#': { qos: 2 } })
  await sub.endAsync()
  await recordSeen(a, 'roamer', 1, true)
  await recordSeen(b, 'roamer', 1, true)

  const onA = await mqttConnect(a.port, { clientId: 'pub-a' }, s)
  const onB = await mqttConnect(b.port, { clientId: 'pub-b' }, s)
  await onB.publishAsync('q/1', 'one', { qos: 1 })
  // Acknowledged means kept: the copy is in JetStream before the PUBACK.
  assert.deepEqual(
    (await reader.read('roamer')).map((m) => `${m.message.topic} ${m.message.qos}`),
    ['q/1 1'],
  )
  await onB.publishAsync('q/2', 'two', { qos: 2 })
  await onA.publishAsync('q/3', 'three', { qos: 1 })
  await onB.publishAsync('q/4', 'not kept', { qos: 0 })
  await onA.publishAsync('q/5', 'five', { qos: 2 })
  assert.equal((await reader.read('roamer')).length, 4)

  // Back on b: session present, the four QoS 1/2 messages in publish order, nothing twice.
  const { back, got } = await resumeThenLive(s, b.port, 'roamer', 4, onB, 'q/6')
  assert.deepEqual(got, ['q/1 one', 'q/2 two', 'q/3 three', 'q/5 five', 'q/6 live'])
  // Each delivered and acknowledged message's copy is deleted.
  await keptBecomes(reader, 'roamer', 0)
  await back.endAsync()
  await recordSeen(a, 'roamer', 1, true)

  // On a again: a's stale copy gives way, and nothing comes twice.
  const again = await mqttConnect(a.port, persistent('roamer'), s)
  const gotAgain = received(again)
  await onB.publishAsync('q/7', 'seven', { qos: 1 })
  await until(() => gotAgain.includes('q/7 seven'), 'q/7 on a')
  assert.deepEqual(gotAgain, ['q/7 seven'])
  await again.endAsync()

  // A clean start ends the session and deletes what was kept for it.
  await recordSeen(b, 'roamer', 1, true)
  await onB.publishAsync('q/8', 'eight', { qos: 1 })
  // q/8 kept; q/7's copy deleted once a had it (by subject, if b still named b its holder).
  await keptBecomes(reader, 'roamer', 1)
  const clean = await mqttConnect(b.port, { clientId: 'roamer', clean: true, reconnectPeriod: 0 }, s)
  await clean.endAsync()
  await keptBecomes(reader, 'roamer', 0)
})

test('messages read back on another node carry the Subscription Identifiers of the subscriptions they match', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const v5 = persistent('ids', { protocolVersion: 5, properties: { sessionExpiryInterval: 600 } })
  const sub = await mqttConnect(a.port, v5, s)
  await sub.subscribeAsync('i/+', { qos: 1, properties: { subscriptionIdentifier: 7 } })
  await sub.subscribeAsync('i/#', { qos: 1, properties: { subscriptionIdentifier: 9 } })
  await sub.subscribeAsync('j/#', { qos: 1 })
  await sub.endAsync()
  await recordSeen(b, 'ids', 3, true)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  await pub.publishAsync('i/x', 'both', { qos: 1 })
  await pub.publishAsync('i/x/y', 'nine', { qos: 1 })
  await pub.publishAsync('j/x', 'none', { qos: 1 })

  const back = await mqttConnect(b.port, v5, s)
  const got: string[] = []
  back.on('message', (topic, _payload, packet) => {
    const ids = packet.properties?.subscriptionIdentifier
    got.push(`${topic} ${JSON.stringify(ids === undefined ? null : [ids].flat().sort())}`)
  })
  await until(() => got.length === 3, 'the three kept messages on b')
  assert.deepEqual(got, ['i/x [7,9]', 'i/x/y [9]', 'j/x null'])
})

test('a node restarted on its data directory knows its queued messages as the ones the cluster kept', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const reader = await queueReader(s, nats.url)
  const data = await mkdtemp(join(tmpdir(), 'tinymqtt-cluster-data-'))
  t.after(() => rm(data, { recursive: true, force: true }))
  const durable = (): Promise<Broker> => node(s, nats.url, 'a', { data })
  let a = await durable()
  const b = await node(s, nats.url, 'b')
  const sub = await mqttConnect(a.port, persistent('stored'), s)
  await sub.subscribeAsync({ 's/#': { qos: 2 } })
  await sub.endAsync()
  await recordSeen(b, 'stored', 1, true)
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  await pub.publishAsync('s/1', 'one', { qos: 1 })
  await pub.publishAsync('s/2', 'two', { qos: 2 })
  await keptBecomes(reader, 'stored', 2)

  // a stops and starts again on its data directory: the session and its two messages are back
  // from the store, and the cluster still keeps its copies of them.
  await a.close()
  a = await durable()
  const { got } = await resumeThenLive(s, a.port, 'stored', 2, pub, 's/3')
  assert.deepEqual(got, ['s/1 one', 's/2 two', 's/3 live'])
  // Completed from the store's copies, the cluster's are deleted too.
  await keptBecomes(reader, 'stored', 0)
})

test('a session taken over on another node is dropped where it was, with its delayed will', {
  skip,
}, async (t) => {
  const { s, a, b } = await twoNodes(t)
  const watcher = await mqttConnect(b.port, { clientId: 'watch' }, s)
  const wills = received(watcher)
  await watcher.subscribeAsync({ 'will/#': { qos: 1 }, sentinel: { qos: 1 } })
  const options = persistent('delayed', {
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 3600 },
    will: {
      topic: 'will/delayed',
      payload: Buffer.from('gone'),
      qos: 1,
      retain: false,
      // Long enough that only the takeover, never the delay, decides what happens to it.
      properties: { willDelayInterval: 600 },
    },
  })
  const first = await mqttConnect(a.port, options, s)
  await first.subscribeAsync({ 'd/#': { qos: 1 } })
  // Gone without DISCONNECT: a keeps the session with the will pending.
  first.stream.destroy()
  await until(() => a.sessionInfo('delayed')?.connected === false, 'the session offline on a')
  assert.notEqual(a.sessionInfo('delayed')?.willAt, undefined)
  await recordSeen(b, 'delayed', 1, true)

  const back = await mqttConnect(b.port, { ...options, will: undefined }, s)
  await until(() => a.sessionInfo('delayed') === undefined, "a's copy dropped once b holds the session")
  await watcher.publishAsync('sentinel', 'after', { qos: 1 })
  await until(() => wills.includes('sentinel after'), 'the sentinel')
  assert.deepEqual(wills, ['sentinel after'])
  await back.endAsync()
})

/**
 * A QoS 2 session with one message received by its client (a PUBREL owed) and one sent, leaves
 * node a (`how`; `kill`: a CLI node killed with -9) and resumes on b: b owes the PUBREL under
 * the same id, and sends the other again with DUP under its id.
 */
async function inflightMoves(t: Cleanup, how: 'disconnect' | 'takeover' | 'kill'): Promise<void> {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const b = await node(s, nats.url, 'b')
  const a = how === 'kill' ? await cliNode(t, nats.url, 'a') : { port: (await node(s, nats.url, 'a')).port }
  const spec = { clientId: 'q2', clean: false }
  const first = await RawClient.connect(a.port, spec, s)
  await first.client.send(subscribe(1, [{ topic: 'q2/#', qos: 2 }]))
  await first.client.expect(PT.SUBACK)
  await recordSeen(b, 'q2', 1, false)
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  await pub.publishAsync('q2/rec', 'received', { qos: 2 })
  await pub.publishAsync('q2/sent', 'not yet', { qos: 2 })
  // The client has the first (PUBREC, so a PUBREL is owed to it) but not the second.
  const received = await first.client.nextPublish()
  const sent = await first.client.nextPublish()
  assert.deepEqual([received.topic, sent.topic], ['q2/rec', 'q2/sent'])
  await first.client.send(pubrec(received.packetId as number))
  assert.equal(ackId(await first.client.expect(PT.PUBREL)), received.packetId)
  if (how === 'kill' && 'cli' in a) {
    // Nobody writes a record as the client goes: what is in flight is known from the list a
    // kept as it went (not confirmed, so waited for here).
    const reader = await queueReader(s, nats.url)
    await inflightBecomes(reader, 'q2', `${received.packetId} pubrel, ${sent.packetId} publish`)
    a.cli.child.kill('SIGKILL')
    await a.cli.exited
    await first.client.waitClosed()
  }
  if (how === 'disconnect') {
    await first.client.send(DISCONNECT)
    await first.client.waitClosed()
    await until(
      () => clusterOf(b)?.session('q2')?.disconnectedAt !== undefined,
      "b sees the session's record with what was in flight",
    )
  }
  // Taken over: the connection on a is still open, and b is told nothing beforehand.
  const second = await RawClient.connect(b.port, spec, s)
  assert.equal(second.connack.sessionPresent, true)
  if (how === 'takeover') await first.client.waitClosed()
  const owed = await second.client.next()
  assert.equal(owed.type, PT.PUBREL, `expected PUBREL, got packet type ${owed.type}`)
  assert.equal(ackId(owed), received.packetId)
  const again = await second.client.nextPublish()
  assert.deepEqual([again.topic, again.packetId, again.dup, again.qos], ['q2/sent', sent.packetId, true, 2])
  await second.client.send(pubcomp(received.packetId as number))
  await second.client.send(pubrec(sent.packetId as number))
  assert.equal(ackId(await second.client.expect(PT.PUBREL)), sent.packetId)
  await second.client.send(pubcomp(sent.packetId as number))
  // Nothing else is owed: the next packet is the answer to a PINGREQ.
  assert.deepEqual(await second.client.pingBarrier(), [])
}

test('QoS 2 messages in flight when a client leaves one node go on under their packet ids on the next', {
  skip,
}, async (t) => {
  await inflightMoves(t, 'disconnect')
})

test('QoS 2 messages in flight to a client on a node killed (-9) go on under their packet ids on another node', {
  skip,
}, async (t) => {
  await inflightMoves(t, 'kill')
})

test('QoS 2 messages in flight when a client is taken over from another node go on under their packet ids', {
  skip,
}, async (t) => {
  await inflightMoves(t, 'takeover')
})

test('a connected persistent client gets what its node missed while it was away from NATS, once it is back', {
  skip,
}, async (t) => {
  const { s, link, a, b } = await twoNodesOneRelayed(t)
  const sub = await mqttConnect(b.port, persistent('stays'), s)
  const got = received(sub)
  await sub.subscribeAsync({ 'm/#': { qos: 1 } })
  await recordSeen(a, 'stays', 1, false)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)

  await link.cut()
  await until(() => clusterOf(b)?.status().nats !== 'connected', 'b to lose NATS')
  // Routed while b is away: b never gets the routed copy, only the one kept for the session.
  await pub.publishAsync('m/1', 'while b was away', { qos: 1 })
  await link.restore()
  await until(() => clusterOf(b)?.status().nats === 'connected', 'b to be back')
  await until(() => got.includes('m/1 while b was away'), 'the missed message on b')
  await pub.publishAsync('m/2', 'after', { qos: 1 })
  await until(() => got.includes('m/2 after'), 'a live message after it')
  assert.deepEqual(got, ['m/1 while b was away', 'm/2 after'])
  assert.equal(sub.connected, true)
})

test("a message dropped at the holder's queue limit is dropped from the cluster's copy too", {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const a = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    maxQueuedMessages: 2,
    cluster: { servers: [nats.url], node: 'a' },
  })
  s.after(() => a.close())
  const b = await node(s, nats.url, 'b')
  const reader = await queueReader(s, nats.url)
  const sub = await mqttConnect(a.port, persistent('small'), s)
  await sub.subscribeAsync({ 'l/+': { qos: 1 } })
  await sub.endAsync()
  await recordSeen(a, 'small', 1, true)
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  for (const n of [1, 2, 3, 4]) await pub.publishAsync(`l/${n}`, `m${n}`, { qos: 1 })
  // a queues two; the other two are dropped there, and their copies with them.
  await keptBecomes(reader, 'small', 2)
  const back = await mqttConnect(b.port, persistent('small'), s)
  const got = received(back)
  await pub.publishAsync('l/5', 'live', { qos: 1 })
  await until(
    () => got.includes('l/5 live'),
    () => `a live message on b; got ${JSON.stringify(got)}, b: ${JSON.stringify(clusterOf(b)?.status())}`,
  )
  assert.deepEqual(got, ['l/1 m1', 'l/2 m2', 'l/5 live'])
})

test("a session that moved reads the cluster's copy again: a copy stored just after its first read reaches its client", {
  skip,
}, async (t) => {
  const { s, nats, a, b } = await twoNodes(t)
  const reader = await queueReader(s, nats.url)
  const sub = await mqttConnect(a.port, persistent('mover'), s)
  await sub.subscribeAsync({ 'v/+': { qos: 1 } })
  await sub.endAsync()
  await recordSeen(b, 'mover', 1, true)
  const back = await mqttConnect(b.port, persistent('mover'), s)
  const got = received(back)
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  // A live message comes only once the resume's first read is in (the session sends nothing before).
  await pub.publishAsync('v/1', 'live', { qos: 1 })
  await until(() => got.includes('v/1 live'), 'the live message on b')
  // What the race leaves behind: a copy for the session, stored after that read, whose routed
  // message never reached b (its origin routed it before b's NATS subscription was in).
  const holder = clusterOf(b)?.nodeId as string
  const message = { topic: 'v/2', payload: Buffer.from('late copy'), qos: 1 as const, retain: false }
  await reader.store('mover', holder, SessionQueue.keyOf('elsewhere#1', 1), message)
  await until(
    () => got.includes('v/2 late copy'),
    () => `the late copy; got ${JSON.stringify(got)}`,
  )
  assert.deepEqual(got, ['v/1 live', 'v/2 late copy'])
  // Acknowledged, so deleted from the stream like any other.
  await keptBecomes(reader, 'mover', 0)
})
