// Persistent sessions of a node killed with -9 (a CLI child process), on a real nats-server:
// what was queued or in flight for them reaches their client on another node, a session whose
// client never comes back expires, and one is taken in by a live node that holds its queue limit.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterOf } from '../src/index.ts'
import { keptBecomes, persistent, queueReader, recordSeen } from './cluster-session-helpers.ts'
import { mqttConnect, until, withTimeout } from './helpers.ts'
import { cliNode, natsServerMissing, node, received, stack, startNatsServer } from './nats-helpers.ts'

const skip = await natsServerMissing()

test('a message in flight to a client on a node killed (-9), and one published after, reach it on another node', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const b = await node(s, nats.url, 'b')
  const reader = await queueReader(s, nats.url)
  const { cli: a, port } = await cliNode(t, nats.url, 'a')

  const sub = await mqttConnect(port, persistent('keeper'), s)
  // This client takes messages in but never acknowledges them: they stay in flight on a.
  sub.handleMessage = () => undefined
  const inFlight = received(sub)
  await sub.subscribeAsync({ 'k/+': { qos: 1 } })
  await recordSeen(b, 'keeper', 1, false)
  // A session of the dead node whose client never comes back: it expires with nobody to hold it.
  const short = await mqttConnect(
    port,
    persistent('short', { protocolVersion: 5, properties: { sessionExpiryInterval: 1 } }),
    s,
  )
  await short.subscribeAsync({ 'k/+': { qos: 1 } })
  await recordSeen(b, 'short', 1, false)
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  await pub.publishAsync('k/1', 'in flight', { qos: 1 })
  await until(() => inFlight.includes('k/1 in flight'), 'k/1 delivered on a, not acknowledged')

  const gone = new Promise<void>((resolve) => sub.once('close', () => resolve()))
  a.child.kill('SIGKILL')
  await a.exited
  await gone
  await pub.publishAsync('k/2', 'while away', { qos: 1 })
  assert.deepEqual(
    (await reader.read('keeper')).map((m) => m.message.topic),
    ['k/1', 'k/2'],
  )

  const back = await mqttConnect(b.port, persistent('keeper'), s)
  const got = received(back)
  await until(() => got.length >= 2, 'both messages on b')
  await pub.publishAsync('k/3', 'live', { qos: 1 })
  await until(() => got.includes('k/3 live'), 'a live message after them')
  assert.deepEqual(got, ['k/1 in flight', 'k/2 while away', 'k/3 live'])
  await keptBecomes(reader, 'keeper', 0)

  // Presence TTL, the reconnect slack and a check: generous bound for a busy machine.
  await until(() => clusterOf(b)?.session('short') === undefined, "the dead node's session expired", 90_000)
  await keptBecomes(reader, 'short', 0)
  assert.notEqual(clusterOf(b)?.session('keeper'), undefined, 'the session that came back stays')
  await withTimeout(back.endAsync(), 'disconnect')
})

test("a dead node's session is taken in by a live node, which holds its queue limit on what was kept and what comes", {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const b = await node(s, nats.url, 'b', { maxQueuedMessages: 3 })
  const reader = await queueReader(s, nats.url)
  const { cli: a, port } = await cliNode(t, nats.url, 'a')
  const sub = await mqttConnect(port, persistent('hoard'), s)
  await sub.subscribeAsync({ 'h/+': { qos: 1 } })
  await sub.endAsync()
  await recordSeen(b, 'hoard', 1, true)
  a.child.kill('SIGKILL')
  await a.exited
  // Kept for a session nobody holds now.
  const pub = await mqttConnect(b.port, { clientId: 'pub' }, s)
  for (const n of [1, 2, 3, 4]) await pub.publishAsync(`h/${n}`, `m${n}`, { qos: 1 })
  await keptBecomes(reader, 'hoard', 4)

  // Presence TTL, the reconnect slack and a check: generous bound for a busy machine.
  await until(() => b.sessionInfo('hoard') !== undefined, "b takes in the dead node's session", 90_000)
  assert.equal(b.sessionInfo('hoard')?.connected, false)
  await pub.publishAsync('h/5', 'm5', { qos: 1 })
  // The limit of 3 holds on b, for what was kept and what comes, and what b drops the
  // cluster drops too.
  await keptBecomes(reader, 'hoard', 3)
  await until(() => b.sessionInfo('hoard')?.queued === 3, 'three queued on b')

  const back = await mqttConnect(b.port, persistent('hoard'), s)
  assert.equal(back.connected, true)
  const got = received(back)
  await until(() => got.length >= 3, 'the three queued messages')
  await pub.publishAsync('h/6', 'live', { qos: 1 })
  await until(() => got.includes('h/6 live'), 'a live message after them')
  assert.deepEqual(got, ['h/1 m1', 'h/2 m2', 'h/3 m3', 'h/6 live'])
  await keptBecomes(reader, 'hoard', 0)
})
