// ms_get and broker.lastValue: the last message on a topic, by a client or a script, retained
// or not, retained messages from before a restart, and the cache's least-recently-published
// eviction at a small `lastValues`.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { connectAsync, type MqttClient } from 'mqtt'
import { Broker } from '../src/broker/broker.ts'
import type { BrokerOptions } from '../src/broker/types.ts'
import { readConfigFile } from '../src/config.ts'
import { startScripting } from '../src/scripting/index.ts'
import { MemoryStore } from '../src/store/memory.ts'
import type { Store } from '../src/store/store.ts'
import { defined } from './defined.ts'
import { LogCapture } from './scripting-helpers.ts'

/** Answers `ask` (payload: a topic) on `answer` with what ms_get returned, as JSON. */
const ASKER = `
ms_subscribe('ask', (topic, payload) => {
  const v = ms_get(payload)
  ms_publish('answer', JSON.stringify(v === undefined ? null : {
    topic: payload, payload: v.payload, bytes: Array.from(v.bytes), qos: v.qos, retain: v.retain, at: v.at,
    isBytes: v.bytes instanceof Uint8Array,
  }))
})
ms_subscribe('own/trigger', (topic, payload) => ms_publish('own/value', 'from script ' + payload))
ms_subscribe('own/value', () => ms_publish('answer', JSON.stringify({ own: ms_get('own/value').payload })))
`

interface Answer {
  topic: string
  payload: string
  bytes: number[]
  qos: number
  retain: boolean
  at: number
  isBytes: boolean
}

async function start(
  t: TestContext,
  options: BrokerOptions & { store?: Store } = {},
): Promise<{
  broker: Broker
  client: MqttClient
  ask(topic: string): Promise<unknown>
  close(): Promise<void>
}> {
  const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-get-'))
  writeFileSync(join(dir, 'asker.js'), ASKER)
  const log = new LogCapture()
  const broker = new Broker({
    port: 0,
    host: '127.0.0.1',
    logger: log.logger,
    ...options,
    store: options.store ?? new MemoryStore(),
  })
  await broker.start()
  const host = await startScripting(broker, { path: dir })
  const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
  await client.subscribeAsync('answer')
  const answers: string[] = []
  const waiters: Array<() => void> = []
  client.on('message', (topic, payload) => {
    if (topic !== 'answer') return
    answers.push(payload.toString())
    waiters.shift()?.()
  })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await client.endAsync(true)
    await host.close()
    await broker.close()
    rmSync(dir, { recursive: true, force: true })
  }
  t.after(close)
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer from the script')), 5000)
      const take = () => {
        clearTimeout(timer)
        resolve(JSON.parse(defined(answers.shift(), 'answers.shift()')))
      }
      if (answers.length > 0) take()
      else waiters.push(take)
    })
  return {
    broker,
    client,
    async ask(topic) {
      // Same connection: the topics asked about are routed before the question.
      await client.publishAsync('ask', topic, { qos: 1 })
      return next()
    },
    close,
  }
}

test("ms_get returns a client's last publish, retained or not, and undefined for an unknown topic", async (t) => {
  const env = await start(t)
  const before = Date.now()
  await env.client.publishAsync('room/temp', '20.5', { qos: 0 })
  await env.client.publishAsync('room/temp', '21.0', { qos: 1 })
  await env.client.publishAsync('room/mode', Buffer.from([0xff, 0x00, 0x41]), { qos: 1, retain: true })

  const temp = (await env.ask('room/temp')) as Answer
  assert.equal(temp.payload, '21.0')
  assert.deepEqual(temp.bytes, [...Buffer.from('21.0')])
  assert.equal(temp.qos, 1)
  assert.equal(temp.retain, false)
  assert.equal(temp.isBytes, true)
  assert.ok(temp.at >= before && temp.at <= Date.now(), `at ${temp.at}`)

  const mode = (await env.ask('room/mode')) as Answer
  assert.deepEqual(mode.bytes, [0xff, 0x00, 0x41])
  assert.equal(mode.retain, true)

  assert.equal(await env.ask('room/nothing'), null)
  // Exact topics only: a filter is just a topic nobody published on.
  assert.equal(await env.ask('room/+'), null)
  // Embedders see the same cache.
  assert.equal(env.broker.lastValue('room/temp')?.payload.toString(), '21.0')
})

test("ms_get sees the script's own publish from the next callback on", async (t) => {
  const env = await start(t)
  await env.client.publishAsync('own/trigger', '1', { qos: 1 })
  const own = new Promise((resolve) =>
    env.client.once('message', (_t, p) => resolve(JSON.parse(p.toString()))),
  )
  assert.deepEqual(await own, { own: 'from script 1' })
})

test('ms_get finds retained messages from before a restart', async (t) => {
  const store = new MemoryStore()
  const first = await start(t, { store })
  await first.client.publishAsync('kept/one', 'still here', { qos: 1, retain: true })
  await first.client.publishAsync('gone/qos0', 'not retained', { qos: 1 })
  await first.close()

  const second = await start(t, { store })
  const kept = (await second.ask('kept/one')) as Answer
  assert.equal(kept.payload, 'still here')
  assert.equal(kept.retain, true)
  // Only retained messages outlive the broker.
  assert.equal(await second.ask('gone/qos0'), null)
})

test('the cache drops the topic published least recently once lastValues is reached', async (t) => {
  const env = await start(t, { lastValues: 3 })
  for (const topic of ['t/1', 't/2', 't/3', 't/1', 't/4']) await env.broker.publish({ topic, payload: topic })
  assert.equal(env.broker.lastValue('t/2'), undefined)
  for (const topic of ['t/1', 't/3', 't/4'])
    assert.equal(env.broker.lastValue(topic)?.payload.toString(), topic)
  // The question and the answer are publishes too: 't/3' and then 't/1' go out.
  assert.equal(await env.ask('t/2'), null)
  assert.equal(env.broker.lastValue('t/3'), undefined)
  assert.equal(env.broker.lastValue('t/1'), undefined)
  assert.equal(((await env.ask('t/4')) as Answer).payload, 't/4')
})

test('lastValues 0 turns the cache off', async (t) => {
  const env = await start(t, { lastValues: 0 })
  await env.client.publishAsync('off/x', 'y', { qos: 1, retain: true })
  assert.equal(await env.ask('off/x'), null)
  assert.equal(env.broker.lastValue('off/x'), undefined)
})

test('a broker without scripts and without lastValues keeps no last values', async () => {
  const broker = new Broker({ port: 0, host: '127.0.0.1', logLevel: 'silent', store: new MemoryStore() })
  await broker.start()
  await broker.publish({ topic: 'a', payload: 'b' })
  assert.equal(broker.lastValue('a'), undefined)
  broker.useLastValues()
  await broker.publish({ topic: 'a', payload: 'c' })
  const seen = broker.lastValue('a')
  assert.equal(seen?.payload.toString(), 'c')
  // What was read stays as it was when the topic's next message has the same size.
  await broker.publish({ topic: 'a', payload: 'd' })
  assert.equal(seen?.payload.toString(), 'c')
  assert.equal(broker.lastValue('a')?.payload.toString(), 'd')
  await broker.close()
})

test('the config file takes lastValues', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-get-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify({ lastValues: 50 }))
  assert.deepEqual(await readConfigFile(file), { lastValues: 50 })
  writeFileSync(file, JSON.stringify({ lastValues: 'many' }))
  await assert.rejects(readConfigFile(file), /"lastValues" must be a non-negative integer/)
})
