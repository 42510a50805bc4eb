// QoS 1/2 messages routed while a node was away from NATS, sent again by the node that routed
// them once it is back (route-replay.ts): on a real nats-server, with one node's link cut
// through a TCP relay the test controls, and with the server itself killed and restarted.
// The history they come from (route-history.ts) is checked against a plain list.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RouteHistory } from '../src/cluster/route-history.ts'
import { clusterOf } from '../src/index.ts'
import { LogCapture, mqttConnect, until } from './helpers.ts'
import {
  natsServerMissing,
  node,
  received,
  stack,
  startNatsServer,
  twoNodesOneRelayed,
} from './nats-helpers.ts'

const skip = await natsServerMissing()

test('a clean-session client on a node cut off from NATS gets the QoS 1/2 messages published meanwhile, once and in order', {
  skip,
}, async (t) => {
  const { s, link, a, b } = await twoNodesOneRelayed(t)
  const sub = await mqttConnect(b.port, { clientId: 'clean', clean: true, reconnectPeriod: 0 }, s)
  const got = received(sub)
  await sub.subscribeAsync({ 'r/#': { qos: 2 } })
  const pub = await mqttConnect(a.port, { clientId: 'pub' }, s)
  await pub.publishAsync('r/0', 'before', { qos: 1 })
  await until(() => got.length === 1, 'the message before the cut')

  await link.cut()
  await until(() => clusterOf(b)?.status().nats !== 'connected', 'b to lose NATS')
  // a has NATS, so these are acknowledged; b's copies are lost in the server.
  await pub.publishAsync('r/1', 'one', { qos: 1 })
  await pub.publishAsync('r/2', 'two', { qos: 2 })
  await link.restore()
  await until(() => got.length === 3, 'the two messages missed, after b is back')
  await pub.publishAsync('r/3', 'after', { qos: 1 })
  await until(() => got.length === 4, 'a live message after them')
  assert.deepEqual(got, ['r/0 before', 'r/1 one', 'r/2 two', 'r/3 after'])
  assert.equal(sub.connected, true)
  // The two came from a's history, not from the routing; nothing was past it.
  assert.equal(clusterOf(b)?.status().replayed, 2)
  assert.equal(clusterOf(b)?.status().replayGaps, 0)
  // Nothing came twice: a last probe is the next thing to arrive.
  await pub.publishAsync('r/4', 'probe', { qos: 1 })
  await until(() => got.length === 5, 'the probe')
  assert.equal(got[4], 'r/4 probe')
})

test('a message acknowledged during a NATS restart reaches a clean-session client on the other node once', {
  skip,
}, async (t) => {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const logs = new LogCapture()
  // At debug level, so that a failure shows the catch-up's log.
  const a = await node(s, nats.url, 'a', { logger: logs.logger.child({ n: 'a' }) })
  const b = await node(s, nats.url, 'b', { logger: logs.logger.child({ n: 'b' }) })
  const sub = await mqttConnect(b.port, { clientId: 'clean', clean: true, reconnectPeriod: 0 }, s)
  const got = received(sub)
  await sub.subscribeAsync({ 'n/#': { qos: 1 } })
  const pub = await mqttConnect(a.port, { clientId: 'pub', reconnectPeriod: 0 }, s)

  await nats.stop('SIGKILL')
  await until(() => clusterOf(a)?.status().nats !== 'connected', 'a to lose NATS')
  // The PUBACK waits for NATS; a routes the message as soon as it is back, maybe before b has
  // its subscriptions back.
  const acked = pub.publishAsync('n/1', 'during', { qos: 1 })
  await nats.start()
  await acked
  try {
    await until(() => got.length === 1, 'the message acknowledged during the restart')
  } catch (error) {
    const lines = logs.records
      .filter((r) => String(r.msg).startsWith('cluster:'))
      .map((r) => JSON.stringify(r))
    const state = `client connected: ${sub.connected}, received: ${JSON.stringify(got)}`
    throw new Error(`${(error as Error).message}; ${state}; the nodes logged:\n${lines.join('\n')}`)
  }
  await until(() => clusterOf(b)?.status().nats === 'connected', 'b to be back')
  await pub.publishAsync('n/2', 'after', { qos: 1 })
  await until(() => got.length === 2, 'a live message after it')
  assert.deepEqual(got, ['n/1 during', 'n/2 after'])
})

/** A RouteHistory's records as `seq:subject:data` strings, for comparison with a plain list. */
function contents(history: RouteHistory, after: number | undefined, since: number, now: number) {
  const out: string[] = []
  const complete = history.visit(after, since, now, (subject, data) =>
    out.push(`${subject}:${data.toString()}`),
  )
  return { out, complete }
}

test('the route history keeps the newest records within its bytes, count and age, and says when it lost some', () => {
  const bytes = 1_000
  const records = 20
  const history = new RouteHistory({ bytes, records, maxAgeMs: 1_000_000 })
  const model: { seq: number; subject: string; data: string; size: number }[] = []
  let seed = 7
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  let lostSeq = 0
  for (let seq = 1; seq <= 2_000; seq++) {
    const subject = `tmq.msg.t.s${seq}`
    const data = 'x'.repeat(random(120))
    history.add(seq, subject, Buffer.from(`${seq}${data}`), seq)
    model.push({ seq, subject, data: `${seq}${data}`, size: String(seq).length + data.length })
    // The model drops from the front until what is left fits by count and by bytes, which
    // is at least what the ring keeps: the ring may drop more (the end of the buffer it skips).
    while (model.length > records || model.reduce((n, r) => n + r.size, 0) > bytes) {
      lostSeq = (model.shift() as { seq: number }).seq
    }
    const { out, complete } = contents(history, 0, 0, seq)
    const kept = out.map((line) => line.split(':')[0])
    const expected = model.map((r) => r.subject)
    // What the ring keeps is the newest part of the model, in order, ending with this record.
    assert.deepEqual(kept, expected.slice(expected.length - kept.length), `after record ${seq}`)
    assert.equal(out.at(-1), `${subject}:${seq}${data}`)
    assert.equal(complete, lostSeq === 0 && kept.length === expected.length, `complete after record ${seq}`)
    assert.equal(history.size, kept.length)
    // Asked from just before the oldest record kept, nothing is missing.
    const oldest = Number((kept[0] ?? '').slice('tmq.msg.t.s'.length))
    assert.equal(contents(history, oldest - 1, 0, seq).complete, true)
  }
  // After the newest record there is nothing to miss; after one long gone, something was lost.
  assert.deepEqual(contents(history, 2_000, 0, 2_000), { out: [], complete: true })
  assert.equal(contents(history, 5, 0, 2_000).complete, false)
  // By time: records kept at or after `since`; older ones drop out with age.
  const aged = new RouteHistory({ maxAgeMs: 100 })
  aged.add(1, 's.1', Buffer.from('a'), 1_000)
  aged.add(2, 's.2', Buffer.from('b'), 1_050)
  aged.add(3, 's.3', Buffer.from('c'), 1_120)
  assert.deepEqual(contents(aged, undefined, 1_050, 1_120), { out: ['s.2:b', 's.3:c'], complete: true })
  assert.deepEqual(contents(aged, undefined, 1_000, 1_160), { out: ['s.3:c'], complete: false })
  assert.deepEqual(contents(aged, 1, 0, 1_160), { out: ['s.3:c'], complete: false })
  assert.deepEqual(contents(aged, 2, 0, 1_160), { out: ['s.3:c'], complete: true })
  // A record larger than the whole ring is not kept, and readers after it are told.
  const small = new RouteHistory({ bytes: 64 })
  small.add(1, 's.1', Buffer.alloc(10), 0)
  small.add(2, 's.2', Buffer.alloc(100), 0)
  assert.deepEqual(contents(small, 1, 0, 0), { out: [], complete: false })
})
