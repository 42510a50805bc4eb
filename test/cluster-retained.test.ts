// Retained messages in JetStream shared by two nodes (two connections) on a real nats-server:
// put on one, match on the other with wildcards and the `$` rule, last writer wins, an empty
// payload deletes, and QoS, payload bytes, properties and expiry survive the trip.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterNames } from '../src/cluster/names.ts'
import { type RetainedMessage, RetainedStore } from '../src/cluster/retained-store.ts'
import { type Cleanup, MATRIX_FILTERS, MATRIX_TOPICS, topicMatches } from './helpers.ts'
import { natsConnection, natsServerMissing, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('rettest')

async function store(t: Cleanup, url: string): Promise<RetainedStore> {
  const conn = await natsConnection(t, url)
  return RetainedStore.open(conn, names)
}

const text = (m: RetainedMessage): string => Buffer.from(m.payload).toString()
const topics = (ms: RetainedMessage[]): string[] => ms.map((m) => m.topic).sort()

test('put on one node, match on the other: the topic/filter matrix with wildcards and $ topics', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await store(t, server.url)
  const b = await store(t, server.url)
  for (const topic of MATRIX_TOPICS) await a.put({ topic, payload: Buffer.from(`v:${topic}`), qos: 1 })
  for (const filter of MATRIX_FILTERS) {
    const got = await b.match(filter)
    assert.deepEqual(topics(got), MATRIX_TOPICS.filter((topic) => topicMatches(filter, topic)).sort(), filter)
    for (const m of got) assert.equal(text(m), `v:${m.topic}`)
  }
  assert.deepEqual(await b.match('nothing/+'), [])
  assert.deepEqual(await b.match('nothing/here'), [])
})

test('last writer wins, an empty payload deletes, and a put after a delete stays', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await store(t, server.url)
  const b = await store(t, server.url)
  await a.put({ topic: 'home/lamp', payload: Buffer.from('on'), qos: 0 })
  await b.put({ topic: 'home/lamp', payload: Buffer.from('off'), qos: 2 })
  const [m] = await a.match('home/#')
  assert.equal(m && text(m), 'off')
  assert.equal(m?.qos, 2)
  assert.equal((await a.match('home/#')).length, 1)

  await b.put({ topic: 'home/lamp', payload: new Uint8Array(0), qos: 0 })
  assert.deepEqual(await a.match('home/#'), [])
  assert.equal(await a.get('home/lamp'), undefined)

  await a.put({ topic: 'home/lamp', payload: Buffer.from('again'), qos: 1 })
  const again = await b.get('home/lamp')
  assert.equal(again && text(again), 'again')
  await b.delete('home/lamp')
  await b.delete('home/never-set')
  assert.deepEqual(await a.match('#'), [])
})

test('payload bytes, QoS, MQTT 5 properties and expiry are kept', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await store(t, server.url)
  const b = await store(t, server.url)
  const payload = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x80])
  const properties = {
    payloadFormatIndicator: false,
    messageExpiryInterval: 3600,
    contentType: 'application/x-ü\r\n',
    responseTopic: 'reply/日本',
    correlationData: Buffer.from([0, 0xfe, 10, 13]),
    userProperties: { a: '1', multi: ['x', 'y'], 'k ü': 'v\nw', ['__proto__']: 'data' },
  }
  const expiresAt = Date.now() + 3_600_000
  await a.put({ topic: 'dev/1', payload, qos: 1, properties, expiresAt })
  const [m] = await b.match('dev/+')
  assert.ok(m)
  assert.deepEqual(Buffer.from(m.payload), payload)
  assert.equal(m.qos, 1)
  assert.equal(m.expiresAt, expiresAt)
  assert.deepEqual(m.properties, properties)
  assert.equal(Object.getPrototypeOf(m.properties?.userProperties), Object.prototype)

  // Expired retained messages are not returned.
  await a.put({ topic: 'dev/2', payload: Buffer.from('old'), qos: 0, expiresAt: Date.now() - 1 })
  assert.deepEqual(topics(await b.match('dev/#')), ['dev/1'])
  assert.equal(await b.get('dev/2'), undefined)
})

test('match reads more than one fetch batch', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await store(t, server.url)
  const n = 1200
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      a.put({ topic: `many/${i}`, payload: Buffer.from(String(i)), qos: 0 }),
    ),
  )
  const got = await a.match('many/+')
  assert.equal(got.length, n)
  assert.equal(new Set(got.map((m) => m.topic)).size, n)
})
