// Issue 3, point 7: retained messages. Stored, replaced, deleted by an empty payload, the retain
// flag on subscribe delivery and not on normal delivery, a 10,000-topic store answering `#`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  decodePublish,
  Inbox,
  MATRIX_FILTERS,
  MATRIX_TOPICS,
  markerBarrier,
  mqttConnect,
  PT,
  puback,
  publish,
  RawClient,
  startTestBroker,
  subscribe,
  TIMEOUT,
  topicMatches,
} from './helpers.ts'

test('a retained message is stored and sent on subscribe with the retain flag set', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqttConnect(broker.port, { clientId: 'ret-pub' }, t)
  await pub.publishAsync('ret/a', 'stored', { qos: 1, retain: true })

  const { client } = await RawClient.connect(broker.port, { clientId: 'ret-sub' }, t)
  await client.send(subscribe(1, [{ topic: 'ret/+', qos: 1 }]))
  await client.expect(PT.SUBACK)
  const raw = await client.expect(PT.PUBLISH)
  assert.equal(raw.flags & 0x01, 1, 'RETAIN bit set')
  const p = decodePublish(raw)
  assert.deepEqual([p.topic, p.payload.toString(), p.qos], ['ret/a', 'stored', 1])
  await client.send(puback(defined(p.packetId, 'p.packetId')))
})

test('live delivery of a retained publish to an existing subscriber has the retain flag cleared', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'live-sub' }, t)
  await client.send(subscribe(1, [{ topic: 'live/#', qos: 0 }]))
  await client.expect(PT.SUBACK)
  const pub = await mqttConnect(broker.port, { clientId: 'live-pub' }, t)
  await pub.publishAsync('live/x', 'now', { qos: 1, retain: true })
  const raw = await client.expect(PT.PUBLISH)
  assert.equal(raw.flags & 0x01, 0, 'RETAIN bit cleared on normal delivery')
  assert.equal(decodePublish(raw).payload.toString(), 'now')

  // ...and yet it was stored: a new subscriber gets it with the flag.
  const late = await mqttConnect(broker.port, { clientId: 'live-late' }, t)
  const inbox = new Inbox(late)
  await late.subscribeAsync('live/x')
  const m = await inbox.waitFor((x) => x.topic === 'live/x')
  assert.equal(m.retain, true)
  assert.equal(m.payload, 'now')
})

test('a retained message is replaced by the next retained publish on the topic', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqttConnect(broker.port, { clientId: 'rep-pub' }, t)
  await pub.publishAsync('rep/t', 'v1', { qos: 1, retain: true })
  await pub.publishAsync('rep/t', 'v2', { qos: 1, retain: true })
  // A non-retained publish does not touch the stored message.
  await pub.publishAsync('rep/t', 'not-retained', { qos: 1, retain: false })

  const sub = await mqttConnect(broker.port, { clientId: 'rep-sub' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('rep/#')
  await inbox.waitFor((m) => m.topic === 'rep/t')
  const before = await markerBarrier(pub, inbox, 'rep/marker')
  assert.deepEqual(
    before.map((m) => [m.topic, m.payload, m.retain]),
    [['rep/t', 'v2', true]],
  )
})

test('an empty retained payload deletes the stored message (and is not itself stored)', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqttConnect(broker.port, { clientId: 'del-pub' }, t)
  await pub.publishAsync('del/t', 'v1', { qos: 1, retain: true })
  await pub.publishAsync('del/keep', 'kept', { qos: 1, retain: true })
  await pub.publishAsync('del/t', '', { qos: 1, retain: true })

  const sub = await mqttConnect(broker.port, { clientId: 'del-sub' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('del/#')
  await inbox.waitFor((m) => m.topic === 'del/keep')
  const before = await markerBarrier(pub, inbox, 'del/marker')
  assert.deepEqual(
    before.map((m) => [m.topic, m.payload]),
    [['del/keep', 'kept']],
  )
})

test('retained QoS on subscribe is min(stored QoS, granted QoS)', async (t) => {
  const broker = await startTestBroker(t)
  await broker.publish({ topic: 'rq/two', payload: 'q2', qos: 2, retain: true })
  await broker.publish({ topic: 'rq/zero', payload: 'q0', qos: 0, retain: true })
  const { client } = await RawClient.connect(broker.port, { clientId: 'rq' }, t)
  await client.send(subscribe(1, [{ topic: 'rq/#', qos: 1 }]))
  await client.expect(PT.SUBACK)
  const got = [await client.nextPublish(), await client.nextPublish()]
  const byTopic = Object.fromEntries(got.map((p) => [p.topic, p.qos]))
  assert.deepEqual(byTopic, { 'rq/two': 1, 'rq/zero': 0 })
  for (const p of got) if (p.qos === 1) await client.send(puback(defined(p.packetId, 'p.packetId')))
})

test('retained messages are sent again on every new subscription, also a repeated one', async (t) => {
  const broker = await startTestBroker(t)
  await broker.publish({ topic: 'again', payload: 'r', qos: 0, retain: true })
  const { client } = await RawClient.connect(broker.port, { clientId: 'again' }, t)
  for (const id of [1, 2]) {
    await client.send(subscribe(id, [{ topic: 'again', qos: 0 }]))
    await client.expect(PT.SUBACK)
    const p = await client.nextPublish()
    assert.equal(p.retain, true)
  }
})

test('a raw client publishing retained with QoS 0 (PubSubClient style) is stored too', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'tasmota' }, t)
  await client.send(publish({ topic: 'tele/dev/LWT', payload: 'Online', qos: 0, retain: true }))
  await client.pingBarrier()
  const sub = await mqttConnect(broker.port, { clientId: 'ha' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('tele/+/LWT')
  const m = await inbox.waitFor((x) => x.topic === 'tele/dev/LWT')
  assert.deepEqual([m.payload, m.retain], ['Online', true])
})

test('10,000 retained topics: a # subscription gets every one exactly once, with the latest payload', async (t) => {
  const broker = await startTestBroker(t)
  const N = 10_000
  const pub = await mqttConnect(broker.port, { clientId: 'bulk-pub' }, t)
  const topicOf = (i: number): string => `bulk/${i % 100}/${i}`
  for (let i = 0; i < N; i++) pub.publish(topicOf(i), `v${i}`, { qos: 0, retain: true })
  // Replace a few, delete a few: the answer must reflect the final state.
  for (let i = 0; i < 100; i++) pub.publish(topicOf(i), `w${i}`, { qos: 0, retain: true })
  for (let i = 100; i < 150; i++) pub.publish(topicOf(i), '', { qos: 0, retain: true })
  // Packets of one connection are processed in order: after this PUBACK all of the above are stored.
  await pub.publishAsync('bulk/last', 'last', { qos: 1, retain: true })

  const sub = await mqttConnect(broker.port, { clientId: 'bulk-sub' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('#', { qos: 0 })
  const expected = N - 50 + 1
  await inbox.waitCount(expected, 4 * TIMEOUT)
  const before = await markerBarrier(pub, inbox, 'bulk/marker')
  assert.equal(before.length, expected, 'no extra or duplicate messages')
  const got = new Map(before.map((m) => [m.topic, m]))
  assert.equal(got.size, expected, 'each topic once')
  for (let i = 0; i < N; i++) {
    const m = got.get(topicOf(i))
    if (i >= 100 && i < 150) {
      assert.equal(m, undefined, `${topicOf(i)} was deleted`)
      continue
    }
    assert.ok(m, `${topicOf(i)} present`)
    assert.equal(m.payload, i < 100 ? `w${i}` : `v${i}`)
    assert.equal(m.retain, true)
  }

  // A narrower filter over the same store.
  const narrow = await mqttConnect(broker.port, { clientId: 'bulk-narrow' }, t)
  const nInbox = new Inbox(narrow)
  await narrow.subscribeAsync('bulk/7/+')
  await nInbox.waitCount(99)
  const nBefore = await markerBarrier(pub, nInbox, 'bulk/7/marker')
  // i % 100 === 7 gives 100 topics; bulk/7/107 was deleted.
  assert.equal(nBefore.length, 99)
  assert.ok(!nBefore.some((m) => m.topic === 'bulk/7/107'))
  assert.ok(nBefore.every((m) => m.topic.startsWith('bulk/7/') && m.retain))
})

test('retained matching matrix: every filter gets exactly the retained topics the spec says', async (t) => {
  const broker = await startTestBroker(t)
  for (const topic of MATRIX_TOPICS) await broker.publish({ topic, payload: topic, qos: 0, retain: true })
  for (const [i, filter] of MATRIX_FILTERS.entries()) {
    const expected = MATRIX_TOPICS.filter((topic) => topicMatches(filter, topic)).sort()
    const { client } = await RawClient.connect(broker.port, { clientId: `rmatrix-${i}` }, t)
    await client.send(subscribe(1, [{ topic: filter, qos: 0 }]))
    await client.expect(PT.SUBACK)
    const got: string[] = []
    while (got.length < expected.length) {
      const p = await client.nextPublish()
      assert.equal(p.retain, true)
      assert.equal(p.payload.toString(), p.topic)
      got.push(p.topic)
    }
    for (const p of await client.pingBarrier()) got.push(`(extra) ${decodePublish(p).topic}`)
    assert.deepEqual(got.sort(), expected, `filter '${filter}'`)
    client.destroy()
  }
})
