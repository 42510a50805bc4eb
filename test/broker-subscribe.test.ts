// Issue 3, point 6: SUBSCRIBE / UNSUBSCRIBE. Filter validation, granted and delivered QoS,
// overlapping subscriptions, wildcard matching, the `$`-topic rule.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  ackId,
  decodePublish,
  decodeSuback,
  Inbox,
  MATRIX_FILTERS,
  MATRIX_TOPICS,
  markerBarrier,
  mqttConnect,
  PT,
  puback,
  pubcomp,
  pubrec,
  RawClient,
  startTestBroker,
  subscribe,
  topicMatches,
  unsubscribe,
} from './helpers.ts'

test('invalid filters get SUBACK 0x80 for that entry; valid ones are granted; no disconnect', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'filters' }, t)
  const entries = [
    { topic: 'a/+/b', qos: 1, ok: true },
    { topic: 'a/#/b', qos: 1, ok: false }, // # not last
    { topic: 'a+', qos: 0, ok: false }, // + not a whole level
    { topic: '#', qos: 2, ok: true },
    { topic: 'a/b#', qos: 0, ok: false }, // # not a whole level
    { topic: '+/+', qos: 1, ok: true },
    { topic: '+', qos: 0, ok: true },
    { topic: 'sport/tennis/#', qos: 2, ok: true },
    { topic: '##', qos: 0, ok: false },
    { topic: 'a/+x/b', qos: 1, ok: false },
    { topic: '/', qos: 0, ok: true },
  ]
  await client.send(subscribe(0x0102, entries))
  const suback = await client.expect(PT.SUBACK)
  assert.deepEqual(decodeSuback(suback), {
    packetId: 0x0102,
    codes: entries.map((e) => (e.ok ? e.qos : 0x80)),
  })
  assert.deepEqual(await client.pingBarrier(), [], 'the connection stays open')

  // The valid entries are active: '+/+' matches x/y.
  await broker.publish({ topic: 'x/y', payload: 'hit', qos: 0 })
  const p = await client.nextPublish()
  assert.equal(p.topic, 'x/y')
})

test('a SUBSCRIBE with only invalid filters is answered with 0x80 and the client stays connected', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'only-bad' }, t)
  await client.send(subscribe(9, [{ topic: 'bad/#/x', qos: 0 }]))
  assert.equal((await client.expect(PT.SUBACK)).raw.toString('hex'), '9003000980')
  assert.deepEqual(await client.pingBarrier(), [])
})

test('granted QoS is the requested QoS (0, 1, 2)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'granted' }, t)
  await client.send(
    subscribe(1, [
      { topic: 'g/0', qos: 0 },
      { topic: 'g/1', qos: 1 },
      { topic: 'g/2', qos: 2 },
    ]),
  )
  assert.deepEqual(decodeSuback(await client.expect(PT.SUBACK)).codes, [0, 1, 2])
})

test('delivered QoS = min(published QoS, granted QoS)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'minqos' }, t)
  await client.send(
    subscribe(1, [
      { topic: 'm/0', qos: 0 },
      { topic: 'm/1', qos: 1 },
      { topic: 'm/2', qos: 2 },
    ]),
  )
  await client.expect(PT.SUBACK)
  const pub = await mqttConnect(broker.port, { clientId: 'minqos-pub' }, t)
  const seen: string[] = []
  for (const granted of [0, 1, 2]) {
    for (const published of [0, 1, 2] as const) {
      await pub.publishAsync(`m/${granted}`, `${granted}${published}`, { qos: published })
      const p = await client.nextPublish()
      assert.equal(p.payload.toString(), `${granted}${published}`)
      assert.equal(p.qos, Math.min(granted, published), `granted ${granted}, published ${published}`)
      if (p.qos === 1) await client.send(puback(defined(p.packetId, 'p.packetId')))
      if (p.qos === 2) {
        await client.send(pubrec(defined(p.packetId, 'p.packetId')))
        assert.equal(ackId(await client.expect(PT.PUBREL)), p.packetId)
        await client.send(pubcomp(defined(p.packetId, 'p.packetId')))
      }
      seen.push(`${granted}${published}`)
    }
  }
  assert.equal(seen.length, 9)
})

test('overlapping subscriptions of one client deliver one copy at the highest granted QoS', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'overlap' }, t)
  await client.send(
    subscribe(1, [
      { topic: 'o/+', qos: 0 },
      { topic: 'o/#', qos: 1 },
      { topic: 'o/x', qos: 0 },
      { topic: '#', qos: 0 },
    ]),
  )
  await client.expect(PT.SUBACK)
  await broker.publish({ topic: 'o/x', payload: 'once', qos: 2 })
  const p = await client.nextPublish()
  assert.equal(p.payload.toString(), 'once')
  assert.equal(p.qos, 1, 'the highest granted QoS among the matches')
  await client.send(puback(defined(p.packetId, 'p.packetId')))
  assert.deepEqual(await client.pingBarrier(), [], 'exactly one copy')
})

test('MQTT.js: overlapping subscriptions yield one message', async (t) => {
  const broker = await startTestBroker(t)
  const c = await mqttConnect(broker.port, { clientId: 'overlap-js' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync({ 'ov/a/b': { qos: 2 }, 'ov/+/b': { qos: 1 }, 'ov/#': { qos: 0 } })
  await c.publishAsync('ov/a/b', 'x', { qos: 2 })
  const before = await markerBarrier(c, inbox, 'ov/zz')
  assert.deepEqual(
    before.map((m) => [m.topic, m.qos]),
    [['ov/a/b', 2]],
  )
})

test('wildcards: + matches one level, # matches the parent and all below', async (t) => {
  const broker = await startTestBroker(t)
  const c = await mqttConnect(broker.port, { clientId: 'wild' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync(['w/+/c', 'h/#', 'p/+', '+/end'])
  const topics = [
    'w/b/c',
    'w/b/c/d',
    'w/c',
    'h',
    'h/x',
    'h/x/y/z',
    'p',
    'p/q',
    'p/q/r',
    'any/end',
    'a/b/end',
    '/end',
  ]
  for (const topic of topics) await c.publishAsync(topic, 'x')
  const before = await markerBarrier(c, inbox, 'h/marker')
  assert.deepEqual(
    before.map((m) => m.topic).sort(),
    ['w/b/c', 'h', 'h/x', 'h/x/y/z', 'p/q', 'any/end', '/end'].sort(),
  )
})

test('$-topics are not matched by a leading # or +, but by filters starting with $', async (t) => {
  const broker = await startTestBroker(t)
  const c = await mqttConnect(broker.port, { clientId: 'dollar' }, t)
  const inbox = new Inbox(c)
  await c.subscribeAsync(['#', '+/info', '+/+'])
  await broker.publish({ topic: '$SYS/info', payload: 'sys', qos: 0 })
  await broker.publish({ topic: '$app/info', payload: 'app', qos: 0 })
  const before = await markerBarrier(c, inbox, 'plain/info')
  assert.deepEqual(before, [], 'no $-topic reached # / + / +/+')

  const d = await mqttConnect(broker.port, { clientId: 'dollar2' }, t)
  const dInbox = new Inbox(d)
  await d.subscribeAsync(['$test/#', '$app/+'])
  await broker.publish({ topic: '$test/info', payload: 'test', qos: 0 })
  await broker.publish({ topic: '$app/info', payload: 'app', qos: 0 })
  await dInbox.waitCount(2)
  assert.deepEqual(dInbox.topics().sort(), ['$app/info', '$test/info'])
})

test('UNSUBSCRIBE: UNSUBACK with the packet id (b0 02 id), and delivery stops', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'unsub' }, t)
  await client.send(
    subscribe(1, [
      { topic: 'u/a', qos: 0 },
      { topic: 'u/b', qos: 0 },
    ]),
  )
  await client.expect(PT.SUBACK)
  await client.send(unsubscribe(0x0a0b, ['u/a', 'never/subscribed']))
  const ack = await client.expect(PT.UNSUBACK)
  assert.equal(ack.raw.toString('hex'), 'b0020a0b')
  await broker.publish({ topic: 'u/a', payload: 'gone', qos: 0 })
  await broker.publish({ topic: 'u/b', payload: 'still', qos: 0 })
  const p = decodePublish(await client.expect(PT.PUBLISH))
  assert.equal(p.topic, 'u/b')
  assert.deepEqual(await client.pingBarrier(), [])
})

test('re-subscribing to the same filter replaces its QoS rather than adding a second subscription', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'resub' }, t)
  await client.send(subscribe(1, [{ topic: 'rq', qos: 2 }]))
  await client.expect(PT.SUBACK)
  await client.send(subscribe(2, [{ topic: 'rq', qos: 0 }]))
  await client.expect(PT.SUBACK)
  await broker.publish({ topic: 'rq', payload: 'x', qos: 2 })
  const p = await client.nextPublish()
  assert.equal(p.qos, 0)
  assert.deepEqual(await client.pingBarrier(), [])
})

test('fan-out: one publish reaches each of 50 subscribers exactly once', async (t) => {
  const broker = await startTestBroker(t)
  const subs = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const { client } = await RawClient.connect(broker.port, { clientId: `fan-${i}` }, t)
      await client.send(subscribe(1, [{ topic: i % 2 === 0 ? 'fan/+' : 'fan/#', qos: 1 }]))
      await client.expect(PT.SUBACK)
      return client
    }),
  )
  await broker.publish({ topic: 'fan/out', payload: 'all', qos: 1 })
  for (const c of subs) {
    const p = await c.nextPublish()
    assert.equal(p.payload.toString(), 'all')
    await c.send(puback(defined(p.packetId, 'p.packetId')))
    assert.deepEqual(await c.pingBarrier(), [])
  }
})

test('topic matching matrix: every filter gets exactly the topics the spec says (live delivery)', async (t) => {
  const broker = await startTestBroker(t)
  const subs = await Promise.all(
    MATRIX_FILTERS.map(async (filter, i) => {
      const { client } = await RawClient.connect(broker.port, { clientId: `matrix-${i}` }, t)
      await client.send(subscribe(1, [{ topic: filter, qos: 0 }]))
      assert.deepEqual(decodeSuback(await client.expect(PT.SUBACK)).codes, [0], filter)
      return { filter, client }
    }),
  )
  for (const topic of MATRIX_TOPICS) await broker.publish({ topic, payload: topic, qos: 0 })
  for (const { filter, client } of subs) {
    const expected = MATRIX_TOPICS.filter((topic) => topicMatches(filter, topic))
    const got = (await client.pingBarrier()).map((p) => decodePublish(p).topic)
    assert.deepEqual(got, expected, `filter '${filter}'`)
  }
})
