// Issue 16, point 1: the $SYS topics. Black-box over MQTT: Mosquitto's names, retained, values
// that follow the traffic, the `$` rule for `#`, the ACL, sysInterval 0, the scripts' topics,
// $SYS updates kept out of the durable store, and clients kept from writing $SYS.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { hashPassword } from '../src/broker/access/password-file.ts'
import { type Broker, type StartOptions, startBroker } from '../src/index.ts'
import { type Cleanup, Inbox, mqttConnect, type Received, withTimeout } from './helpers.ts'

const MOSQUITTO_NAMES = [
  'version',
  'uptime',
  'clients/connected',
  'clients/disconnected',
  'clients/total',
  'clients/maximum',
  'clients/expired',
  'messages/received',
  'messages/sent',
  'messages/stored',
  'publish/messages/received',
  'publish/messages/sent',
  'publish/messages/dropped',
  'bytes/received',
  'bytes/sent',
  'retained messages/count',
  'subscriptions/count',
  'store/messages/count',
  'heap/current',
  ...[
    'messages/received',
    'messages/sent',
    'publish/received',
    'publish/sent',
    'bytes/received',
    'bytes/sent',
  ]
    .concat(['connections', 'sockets', 'publish/dropped'])
    .flatMap((name) => ['1min', '5min', '15min'].map((w) => `load/${name}/${w}`)),
].map((name) => `$SYS/broker/${name}`)

async function start(t: Cleanup, options: StartOptions = {}): Promise<Broker> {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    sysInterval: 1,
    ...options,
  })
  t.after(() => broker.close())
  return broker
}

async function subscribed(
  port: number,
  filters: string[],
  t: Cleanup,
  opts = {},
): Promise<[MqttClient, Inbox]> {
  const client = await mqttConnect(port, opts, t)
  const inbox = new Inbox(client)
  await client.subscribeAsync(filters, { qos: 0 })
  return [client, inbox]
}

/** Waits for an update published after `since` messages (a live one: retain not set). */
function nextValue(
  inbox: Inbox,
  topic: string,
  accept: (value: number) => boolean,
  since = 0,
): Promise<Received> {
  return inbox.waitFor(
    (m) => inbox.messages.indexOf(m) >= since && m.topic === topic && accept(Number.parseFloat(m.payload)),
    `${topic} passing the check`,
  )
}

test('$SYS: every Mosquitto name is there, retained, with plausible values', async (t) => {
  const broker = await start(t)
  const [, inbox] = await subscribed(broker.port, ['$SYS/#'], t)
  for (const topic of MOSQUITTO_NAMES) {
    const m = await inbox.waitFor((r) => r.topic === topic, topic)
    assert.equal(m.retain, true, `${topic} is retained`)
  }
  const value = (topic: string): string =>
    inbox.messages.find((m) => m.topic === `$SYS/broker/${topic}`)?.payload ?? ''
  assert.match(value('version'), /^tinymqtt \d+\.\d+\.\d+/)
  assert.match(value('uptime'), /^\d+ seconds$/)
  await nextValue(inbox, '$SYS/broker/clients/connected', (v) => v === 1)
  assert.match(value('load/bytes/received/1min'), /^\d+\.\d\d$/)
  assert.ok(Number(value('heap/current')) > 0)
})

test('$SYS: values follow the traffic', async (t) => {
  const broker = await start(t)
  const [, inbox] = await subscribed(broker.port, ['$SYS/broker/#'], t)
  const first = await inbox.waitFor(
    (m) => m.topic === '$SYS/broker/publish/messages/received',
    'a first count',
  )
  const before = Number(first.payload)
  const mark = inbox.messages.length
  const publisher = await mqttConnect(broker.port, {}, t)
  const [, receiver] = await subscribed(broker.port, ['data/#'], t)
  for (let i = 0; i < 20; i++) await publisher.publishAsync(`data/${i}`, 'x'.repeat(100), { qos: 1 })
  await receiver.waitFor((m) => m.topic === 'data/19', 'the last data message')
  await nextValue(inbox, '$SYS/broker/clients/connected', (v) => v === 3, mark)
  await nextValue(inbox, '$SYS/broker/clients/maximum', (v) => v >= 3, mark)
  await nextValue(inbox, '$SYS/broker/publish/messages/received', (v) => v >= before + 20, mark)
  await nextValue(inbox, '$SYS/broker/publish/messages/sent', (v) => v >= 20, mark)
  await nextValue(inbox, '$SYS/broker/bytes/received', (v) => v >= 20 * 100, mark)
  await nextValue(inbox, '$SYS/broker/subscriptions/count', (v) => v >= 2, mark)
  await nextValue(inbox, '$SYS/broker/load/publish/received/1min', (v) => v > 0, mark)
  await nextValue(inbox, '$SYS/broker/load/connections/1min', (v) => v > 0, mark)
  // A persistent session whose client went counts as disconnected.
  const sleeper = await mqttConnect(broker.port, { clientId: 'sleeper', clean: false }, t)
  await sleeper.endAsync()
  await nextValue(inbox, '$SYS/broker/clients/disconnected', (v) => v === 1, inbox.messages.length)
})

test('$SYS: a # subscription does not get them (the $ rule)', async (t) => {
  const broker = await start(t)
  const [client, all] = await subscribed(broker.port, ['#'], t)
  const [, sys] = await subscribed(broker.port, ['$SYS/broker/uptime'], t)
  // Two live updates: at least one full update went out while `#` was subscribed.
  await sys.waitFor((m) => !m.retain, 'a live uptime update')
  const mark = sys.messages.length
  await nextValue(sys, '$SYS/broker/uptime', () => true, mark)
  await client.publishAsync('marker', 'm')
  await all.waitFor((m) => m.topic === 'marker', 'the marker')
  assert.deepEqual(
    all.messages.filter((m) => m.topic.startsWith('$')),
    [],
  )
})

test('$SYS: the ACL applies (a user it denies cannot read them)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-sys-acl-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const passwordFile = join(dir, 'passwd')
  const aclFile = join(dir, 'acl')
  await writeFile(passwordFile, `admin:${hashPassword('a')}\nuser:${hashPassword('u')}\n`)
  await writeFile(aclFile, 'user admin\ntopic read $SYS/#\n\nuser user\ntopic readwrite home/#\n')
  const broker = await start(t, { passwordFile, aclFile })
  const admin = await mqttConnect(broker.port, { username: 'admin', password: 'a' }, t)
  const adminInbox = new Inbox(admin)
  const granted = await admin.subscribeAsync('$SYS/broker/uptime')
  assert.equal(granted[0]?.qos, 0)
  await adminInbox.waitFor((m) => m.topic === '$SYS/broker/uptime', 'uptime for admin')
  const user = await mqttConnect(broker.port, { username: 'user', password: 'u' }, t)
  // SUBACK 0x80 for the $SYS filter (MQTT.js rejects with the SUBACK's failure).
  await assert.rejects(user.subscribeAsync('$SYS/broker/uptime'), /Subscribe error: Unspecified error/)
})

test('$SYS: sysInterval 0 publishes none', async (t) => {
  const broker = await start(t, { sysInterval: 0 })
  const [client, inbox] = await subscribed(broker.port, ['$SYS/#', 'marker'], t)
  await client.publishAsync('marker', 'm')
  await inbox.waitFor((m) => m.topic === 'marker', 'the marker')
  assert.deepEqual(
    inbox.messages.map((m) => m.topic),
    ['marker'],
  )
  assert.equal(broker.retainedMessages('$SYS/#').length, 0)
})

test('$SYS: each script has status, callbacks, errors and publishes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-sys-scripts-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(
    join(dir, 'echo.js'),
    `ms_subscribe('echo/in', (topic, payload) => {
  if (payload === 'boom') throw new Error('boom')
  ms_publish('echo/out', payload)
})\n`,
  )
  const broker = await start(t, { scripts: dir })
  const [client, inbox] = await subscribed(broker.port, ['$SYS/broker/scripts/#', 'echo/out'], t)
  await inbox.waitFor(
    (m) => m.topic === '$SYS/broker/scripts/echo.js/status' && m.payload === 'running',
    'running',
  )
  for (const payload of ['a', 'b', 'boom']) await client.publishAsync('echo/in', payload)
  await inbox.waitFor((m) => m.topic === 'echo/out' && m.payload === 'b', 'the echo')
  const base = '$SYS/broker/scripts/echo.js'
  await nextValue(inbox, `${base}/callbacks`, (v) => v === 3)
  await nextValue(inbox, `${base}/publishes`, (v) => v === 2)
  await nextValue(inbox, `${base}/errors`, (v) => v === 1)
})

test('$SYS: updates are not written to the durable store', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'tinymqtt-sys-store-'))
  t.after(() => rm(data, { recursive: true, force: true }))
  const first = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', sysInterval: 1, data })
  try {
    const client = await mqttConnect(first.port, {}, t)
    await client.publishAsync('kept', 'yes', { retain: true, qos: 1 })
    const inbox = new Inbox(client)
    await client.subscribeAsync('$SYS/broker/uptime')
    await inbox.waitFor((m) => m.topic === '$SYS/broker/uptime', 'an uptime')
    assert.ok(first.retainedMessages('$SYS/#').length > 0)
    await client.endAsync()
  } finally {
    await withTimeout(first.close(), 'the first broker to close')
  }
  const second = await start(t, { data, sysInterval: 0 })
  assert.deepEqual(
    second.retainedMessages('#').map((m) => m.topic),
    ['kept'],
  )
  assert.equal(second.retainedMessages('$SYS/#').length, 0)
})

test("load averages: Mosquitto's exponential moving average of the per-minute rate", async () => {
  const { LoadAverage } = await import('../src/ops/load-averages.ts')
  const load = new LoadAverage()
  load.update(0, 0)
  // 100 messages in 10 s: 600 a minute; one step from 0 gives 600 × (1 − e^(−10/window)).
  load.update(100, 10)
  const expected = (window: number): string => (600 * (1 - Math.exp(-10 / window))).toFixed(2)
  assert.deepEqual(load.values(), [
    ['1min', expected(60)],
    ['5min', expected(300)],
    ['15min', expected(900)],
  ])
  // A steady rate: every average converges on it.
  for (let total = 200; total <= 100 * 2000; total += 100) load.update(total, 10)
  assert.deepEqual(
    load.values().map(([, v]) => v),
    ['600.00', '600.00', '600.00'],
  )
})

test("$SYS: clients may not write it (Mosquitto's rule), save a bridge's connection state", async (t) => {
  const broker = await start(t)
  const [, sys] = await subscribed(broker.port, ['$SYS/#', 'marker'], t, { protocolVersion: 5 })
  const writer = await mqttConnect(broker.port, { protocolVersion: 5 }, t)
  // MQTT 5 says why in the PUBACK; the message goes nowhere.
  const refused = await withTimeout(
    new Promise<number | undefined>((resolve) => {
      writer.publish('$SYS/broker/uptime', 'forged', { qos: 1 }, (error, packet) => {
        // MQTT.js reports a failure code as an error carrying the code.
        const code = (error as (Error & { code?: number }) | undefined)?.code
        resolve(code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode)
      })
    }),
    'the PUBACK',
  )
  assert.equal(refused, 0x87)
  await writer.publishAsync('$SYS/broker/connection/home/state', '1', { qos: 1, retain: true })
  await writer.publishAsync('marker', 'm', { qos: 1 })
  await sys.waitFor((m) => m.topic === 'marker', 'the marker')
  assert.equal(
    sys.messages.some((m) => m.payload === 'forged'),
    false,
  )
  assert.ok(sys.messages.some((m) => m.topic === '$SYS/broker/connection/home/state' && m.payload === '1'))
  // What the broker publishes itself is not affected.
  await broker.publish({ topic: '$SYS/broker/custom', payload: 'mine' })
  await sys.waitFor((m) => m.topic === '$SYS/broker/custom', 'the broker’s own $SYS message')
})
