// Issue 16, point 2: Prometheus metrics. Black-box over HTTP and MQTT: the exposition format
// (HELP and TYPE for every family, counters named *_total), the names and labels, counters that
// follow the traffic, the store's commit histogram, the dashboard's /metrics behind its
// password, and --metrics-port alone from the command line (with /healthz beside it).
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type Broker, monitoringOf, type StartOptions, startBroker, webOf } from '../src/index.ts'
import { runCli } from './cli-process.ts'
import { type Cleanup, freePort, Inbox, mqttConnect, mqttConnectRefused, withTimeout } from './helpers.ts'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

interface Exposition {
  types: Map<string, string>
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
// Values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes `Nan`).
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{(.*)\\})? (-?(?:[0-9.e+-]+|[Nn][Aa][Nn]|[+-]?[Ii]nf))(?: -?[0-9]+)?$`,
)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/

/** A strict reading of the text format (version 0.0.4): any other line fails the test. */
function parseExposition(text: string): Exposition {
  const helps = new Set<string>()
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const help = HELP.exec(line)
    if (help?.[1]) {
      assert.ok(!helps.has(help[1]), `one HELP for ${help[1]}`)
      helps.add(help[1])
      continue
    }
    const type = TYPE.exec(line)
    if (type?.[1] && type[2]) {
      types.set(type[1], type[2])
      continue
    }
    const sample = SAMPLE.exec(line)
    assert.ok(sample?.[1] && sample[3], `a valid exposition line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    let rest = sample[2] ?? ''
    while (rest !== '') {
      const label = LABEL.exec(rest)
      assert.ok(label?.[1] !== undefined && label[2] !== undefined, `valid labels in ${JSON.stringify(line)}`)
      labels[label[1]] = label[2]
      rest = rest.slice(label[0].length)
    }
    samples.push({ name: sample[1], labels, value: /nan/i.test(sample[3]) ? Number.NaN : Number(sample[3]) })
  }
  for (const { name } of samples) {
    const family = [...types.keys()].find(
      (f) =>
        name === f || (types.get(f) === 'histogram' && /^_(bucket|sum|count)$/.test(name.slice(f.length))),
    )
    assert.ok(family, `${name} has a TYPE line`)
    assert.ok(helps.has(family), `${family} has a HELP line`)
  }
  for (const [family, type] of types) {
    if (type === 'counter') assert.match(family, /_total$/, `counter ${family} ends in _total`)
  }
  return { types, samples }
}

function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value
}

async function scrape(port: number, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parseExposition(await res.text())
}

async function start(
  t: Cleanup,
  options: StartOptions = {},
): Promise<{ broker: Broker; metricsPort: number }> {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    sysInterval: 0,
    metricsPort: 0,
    ...options,
  })
  t.after(() => broker.close())
  const metricsPort = monitoringOf(broker)?.metricsPort
  assert.ok(metricsPort, 'the metrics server is bound')
  return { broker, metricsPort }
}

test('metrics: the exposition parses, with every name and its labels', async (t) => {
  const remote = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', sysInterval: 0 })
  t.after(() => remote.close())
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-metrics-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'echo.js'), `ms_subscribe('echo/in', (t, p) => ms_publish('echo/out', p))\n`)
  const { broker, metricsPort } = await start(t, {
    scripts: dir,
    bridges: [
      {
        name: 'cloud',
        address: `127.0.0.1:${remote.port}`,
        // tinymqtt refuses Mosquitto's bridge protocol marker (protocol level 0x84).
        tryPrivate: false,
        reconnectDelay: 0.1,
        topics: [{ pattern: 'out/#', direction: 'out' }],
      },
    ],
  })
  await new Promise<void>((resolve) => {
    const stop = broker.subscribe('$SYS/broker/connection/cloud/state', (m) => {
      if (m.payload.toString() === '1') {
        queueMicrotask(() => stop())
        resolve()
      }
    })
  })
  const client = await mqttConnect(broker.port, {}, t)
  const inbox = new Inbox(client)
  await client.subscribeAsync('echo/out')
  await client.publishAsync('echo/in', 'hi')
  await inbox.waitFor((m) => m.topic === 'echo/out', 'the echo')
  const e = await scrape(metricsPort)
  const expected: [string, string][] = [
    ['tinymqtt_clients_connected', 'gauge'],
    ['tinymqtt_sessions', 'gauge'],
    ['tinymqtt_subscriptions', 'gauge'],
    ['tinymqtt_retained_messages', 'gauge'],
    ['tinymqtt_messages_received_total', 'counter'],
    ['tinymqtt_messages_sent_total', 'counter'],
    ['tinymqtt_messages_dropped_total', 'counter'],
    ['tinymqtt_bytes_received_total', 'counter'],
    ['tinymqtt_bytes_sent_total', 'counter'],
    ['tinymqtt_connections_total', 'counter'],
    ['tinymqtt_auth_failures_total', 'counter'],
    ['tinymqtt_store_commit_seconds', 'histogram'],
    ['tinymqtt_script_callbacks_total', 'counter'],
    ['tinymqtt_script_errors_total', 'counter'],
    ['tinymqtt_bridge_up', 'gauge'],
    ['process_cpu_seconds_total', 'counter'],
    ['process_resident_memory_bytes', 'gauge'],
    ['nodejs_eventloop_lag_seconds', 'gauge'],
  ]
  for (const [name, type] of expected) assert.equal(e.types.get(name), type, `${name} is a ${type}`)
  // The bridge's local session and the test's client.
  assert.equal(value(e, 'tinymqtt_clients_connected'), 2)
  assert.equal(value(e, 'tinymqtt_connections_total', { listener: 'mqtt' }), 1)
  for (const reason of ['queue_full', 'slow_consumer', 'too_large'])
    assert.equal(value(e, 'tinymqtt_messages_dropped_total', { reason }), 0, reason)
  assert.equal(value(e, 'tinymqtt_script_callbacks_total', { script: 'echo.js' }), 1)
  assert.equal(value(e, 'tinymqtt_script_errors_total', { script: 'echo.js' }), 0)
  assert.equal(value(e, 'tinymqtt_script_publishes_total', { script: 'echo.js' }), 1)
  assert.equal(value(e, 'tinymqtt_script_up', { script: 'echo.js' }), 1)
  assert.equal(value(e, 'tinymqtt_bridge_up', { bridge: 'cloud' }), 1)
  await remote.close()
  await new Promise<void>((resolve) => {
    const stop = broker.subscribe('$SYS/broker/connection/cloud/state', (m) => {
      if (m.payload.toString() === '0') {
        queueMicrotask(() => stop())
        resolve()
      }
    })
  })
  assert.equal(value(await scrape(metricsPort), 'tinymqtt_bridge_up', { bridge: 'cloud' }), 0)
})

test('metrics: counters follow the traffic', async (t) => {
  const { broker, metricsPort } = await start(t, { user: 'u', pass: 'p' })
  const before = await scrape(metricsPort)
  await mqttConnectRefused(broker.port, { username: 'u', password: 'wrong' })
  const publisher = await mqttConnect(broker.port, { username: 'u', password: 'p' }, t)
  const subscriber = await mqttConnect(broker.port, { username: 'u', password: 'p' }, t)
  const inbox = new Inbox(subscriber)
  await subscriber.subscribeAsync('data/#', { qos: 1 })
  for (let i = 0; i < 10; i++) await publisher.publishAsync(`data/${i}`, 'x'.repeat(50), { qos: 1 })
  await publisher.publishAsync('kept', 'r', { retain: true, qos: 1 })
  await inbox.waitFor((m) => m.topic === 'data/9', 'the last message')
  const after = await scrape(metricsPort)
  const grew = (name: string, by: number, labels: Record<string, string> = {}): void => {
    const a = value(before, name, labels) ?? 0
    const b = value(after, name, labels) ?? Number.NaN
    assert.ok(b >= a + by, `${name} grew by ${by} at least: ${a} → ${b}`)
  }
  grew('tinymqtt_messages_received_total', 11)
  grew('tinymqtt_messages_sent_total', 10)
  grew('tinymqtt_bytes_received_total', 500)
  grew('tinymqtt_bytes_sent_total', 500)
  grew('tinymqtt_packets_received_total', 15)
  grew('tinymqtt_connections_total', 3, { listener: 'mqtt' })
  assert.equal(value(after, 'tinymqtt_auth_failures_total'), 1)
  assert.equal(value(after, 'tinymqtt_clients_connected'), 2)
  assert.equal(value(after, 'tinymqtt_subscriptions'), 1)
  assert.equal(value(after, 'tinymqtt_retained_messages'), 1)
})

test('metrics: each commit of the durable store is timed', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'tinymqtt-metrics-store-'))
  t.after(() => rm(data, { recursive: true, force: true }))
  const { broker, metricsPort } = await start(t, { data })
  const client = await mqttConnect(broker.port, {}, t)
  await client.publishAsync('kept', 'on disk', { retain: true, qos: 1 })
  const e = await scrape(metricsPort)
  const count = value(e, 'tinymqtt_store_commit_seconds_count') ?? 0
  assert.ok(count >= 1, `at least one commit: ${count}`)
  assert.equal(value(e, 'tinymqtt_store_commit_seconds_bucket', { le: '+Inf' }), count)
})

test('metrics: the dashboard serves /metrics behind its password', async (t) => {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    sysInterval: 0,
    http: 0,
    httpUser: 'admin',
    httpPass: 'secret',
  })
  t.after(() => broker.close())
  const port = webOf(broker)?.port
  assert.ok(port)
  const refused = await fetch(`http://127.0.0.1:${port}/metrics`)
  assert.equal(refused.status, 401)
  const authorization = `Basic ${Buffer.from('admin:secret').toString('base64')}`
  const e = await scrape(port, { authorization })
  assert.equal(e.types.get('tinymqtt_clients_connected'), 'gauge')
  assert.equal(monitoringOf(broker)?.metricsPort, undefined, 'no stand-alone server without --metrics-port')
})

test('metrics: --metrics-port alone from the command line, with the health check beside it', async (t) => {
  const metricsPort = await freePort()
  const cli = runCli(
    ['--port', '0', '--host', '127.0.0.1', '--metrics-port', String(metricsPort), '--sys-interval', '0'],
    t,
  )
  await cli.waitForLog((l) => l.msg === 'metrics server started', 'the metrics server to start')
  const e = await scrape(metricsPort)
  assert.equal(value(e, 'tinymqtt_clients_connected'), 0)
  const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(((await health.json()) as { status: string }).status, 'ok')
  const missing = await fetch(`http://127.0.0.1:${metricsPort}/`)
  assert.equal(missing.status, 404)
  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'the broker to exit')).code, 0)
})
