// MQTT bridges against Debian's real Mosquitto broker, started by each test on a free port of
// 127.0.0.1: topic remapping both ways, `both` without loops, the connection-state topic, and
// nothing acknowledged lost while the remote is down or tinymqtt restarts. Skipped with a reason
// when mosquitto is missing; under CI=true that is a failure.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { resolveBridges } from '../src/bridge/config.ts'
import { TopicMap } from '../src/bridge/topic-map.ts'
import { readConfigFile } from '../src/config.ts'
import { type BridgeSpec, type Broker, bridgesOf, startBroker } from '../src/index.ts'
import { assertEachMessageOnceEachSide } from './bridge-loop.ts'
import { type Cleanup, freePort, Inbox, LogCapture, TIMEOUT, until, withTimeout } from './helpers.ts'
import { connectCollecting, tempDataDir } from './store-helpers.ts'
import { locate, requireCommand, tempDir } from './tls-helpers.ts'

const missing = await requireCommand('mosquitto', 'mosquitto')
const mosquittoPath = (await locate('mosquitto')) ?? 'mosquitto'

/** A Mosquitto broker on 127.0.0.1 that keeps its state (persistence) across stop/start. */
class Mosquitto {
  private child: ChildProcess | undefined
  private constructor(
    readonly port: number,
    private readonly conf: string,
  ) {}

  static async create(t: Cleanup): Promise<Mosquitto> {
    const dir = await tempDir(t, 'tinymqtt-mosquitto-')
    const port = await freePort()
    const conf = join(dir, 'mosquitto.conf')
    // Started as root, Mosquitto drops to its own user, which cannot write our private temp dir.
    const user = process.getuid?.() === 0 ? 'user root\n' : ''
    await writeFile(
      conf,
      `${user}listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\n`,
    )
    const mosquitto = new Mosquitto(port, conf)
    t.after(() => mosquitto.child?.kill('SIGKILL'))
    await mosquitto.start()
    return mosquitto
  }

  /** Starts it and waits until it accepts an MQTT connection. */
  async start(): Promise<void> {
    const child = spawn(mosquittoPath, ['-c', this.conf], { stdio: 'ignore' })
    this.child = child
    // Retried while the port is not bound yet: a guard, bounded in count, not a timing.
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`)
      const ok = await new Promise<boolean>((resolve) => {
        const probe = mqtt.connect({
          host: '127.0.0.1',
          port: this.port,
          reconnectPeriod: 0,
          connectTimeout: 5000,
        })
        const done = (ok: boolean): void => {
          probe.end(true)
          resolve(ok)
        }
        probe.once('connect', () => done(true))
        probe.once('error', () => done(false))
      })
      if (ok) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error('mosquitto did not start listening')
  }

  /** Stops it (SIGTERM: it saves its persistence file) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await withTimeout(exited, 'mosquitto to exit')
  }
}

async function client(t: Cleanup, port: number, options: IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: TIMEOUT, ...options })
  t.after(() => c.end(true))
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve())
      c.once('error', reject)
    }),
    'an MQTT connection',
  )
  c.on('error', () => {})
  return c
}

/** The payloads of the local state topic, in order, and a way to wait for the next one. */
function watchState(broker: Broker, name: string): { values: string[]; next(value: string): Promise<void> } {
  const values: string[] = []
  broker.subscribe(`$SYS/broker/connection/${name}/state`, (m) => values.push(m.payload.toString()))
  let seen = 0
  return {
    values,
    // Waits for `value` among the states published after the one last waited for.
    async next(value: string): Promise<void> {
      await until(() => values.indexOf(value, seen) !== -1, `state ${value} (got ${values.join(',')})`)
      seen = values.indexOf(value, seen) + 1
    },
  }
}

async function tinymqtt(
  t: Cleanup,
  bridges: BridgeSpec[],
  extra: { data?: string; logger?: LogCapture } = {},
) {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    ...(extra.logger ? { logger: extra.logger.logger } : { logLevel: 'silent' }),
    ...(extra.data ? { data: extra.data } : {}),
    bridges,
  })
  t.after(() => broker.close())
  return broker
}

const fast = { reconnectDelay: 0.1, reconnectDelayMax: 0.5 }

test('out and in with prefixes swapped as Mosquitto does; the state topic and log lines follow', {
  skip: missing,
}, async (t) => {
  const remote = await Mosquitto.create(t)
  const log = new LogCapture('info')
  const remoteSub = await client(t, remote.port)
  const remoteInbox = new Inbox(remoteSub)
  await remoteSub.subscribeAsync(['home/#', '$SYS/broker/connection/home-bridge/state'], { qos: 1 })
  const broker = await tinymqtt(
    t,
    [
      {
        name: 'cloud',
        address: `127.0.0.1:${remote.port}`,
        clientId: 'home-bridge',
        ...fast,
        topics: [
          { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: 'home/' },
          { pattern: 'cmnd/#', direction: 'in', qos: 1, localPrefix: 'local/', remotePrefix: 'cloud/' },
        ],
      },
    ],
    { logger: log },
  )
  const state = watchState(broker, 'cloud')
  await state.next('1')
  await log.waitFor((r) => r.msg === 'bridge connected' && r.bridge === 'cloud', 'bridge connected')
  assert.deepEqual(bridgesOf(broker)?.status(), [
    { name: 'cloud', connected: true, address: `127.0.0.1:${remote.port}`, queued: 0 },
  ])
  // The remote hears the state too, retained, on its own topic named by the remote client id.
  const remoteState = await remoteInbox.waitFor((m) => m.topic === '$SYS/broker/connection/home-bridge/state')
  assert.equal(remoteState.payload, '1')

  const local = await client(t, broker.port)
  const localInbox = new Inbox(local)
  await local.subscribeAsync('local/#', { qos: 1 })
  await local.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1 })
  const out = await remoteInbox.waitFor((m) => m.topic.startsWith('home/'), 'the message out')
  assert.deepEqual([out.topic, out.payload, out.qos], ['home/sensors/kitchen/temp', '21.5', 1])

  // In: the remote prefix comes off, the local one goes on; a topic outside it stays remote.
  await remoteSub.publishAsync('cmnd/ignored', 'no', { qos: 1 })
  await remoteSub.publishAsync('cloud/cmnd/light', 'ON', { qos: 1 })
  const inbound = await localInbox.waitFor((m) => m.topic === 'local/cmnd/light', 'the message in')
  assert.deepEqual([inbound.payload, inbound.qos], ['ON', 1])
  assert.deepEqual(localInbox.topics(), ['local/cmnd/light'], 'only the mapped topic came in')
  // An out topic is not subscribed on the remote: nothing published there comes in.
  await remoteSub.publishAsync('home/sensors/x', 'remote', { qos: 1 })
  await remoteSub.publishAsync('cloud/cmnd/fan', 'OFF', { qos: 1 })
  await localInbox.waitFor((m) => m.topic === 'local/cmnd/fan', 'the second message in')
  assert.deepEqual(localInbox.topics(), ['local/cmnd/light', 'local/cmnd/fan'])
})

for (const protocolVersion of [4, 5] as const) {
  test(`"both" forwards each way once, without loops (MQTT ${protocolVersion === 5 ? '5 No Local' : '3.1.1 bridge bit'})`, {
    skip: missing,
  }, async (t) => {
    const remote = await Mosquitto.create(t)
    const broker = await tinymqtt(t, [
      {
        name: 'sync',
        address: `127.0.0.1:${remote.port}`,
        protocolVersion,
        ...fast,
        topics: [{ pattern: 'sync/#', direction: 'both', qos: 1 }],
      },
    ])
    await watchState(broker, 'sync').next('1')
    await assertEachMessageOnceEachSide(t, broker.port, remote.port)
  })
}

test('QoS 1 messages published while the remote is down arrive after it restarts; the state goes 1, 0, 1', {
  skip: missing,
}, async (t) => {
  const remote = await Mosquitto.create(t)
  // A persistent session on the remote, so it queues for this subscriber across its restart.
  const subOptions = { clientId: 'remote-sub', clean: false }
  const first = await client(t, remote.port, subOptions)
  await first.subscribeAsync('out/#', { qos: 1 })
  await new Promise<void>((resolve) => first.end(false, {}, () => resolve()))
  const broker = await tinymqtt(t, [
    {
      name: 'cloud',
      address: `127.0.0.1:${remote.port}`,
      clientId: 'restart-bridge',
      ...fast,
      topics: [{ pattern: 'out/#', direction: 'out', qos: 1 }],
    },
  ])
  const state = watchState(broker, 'cloud')
  await state.next('1')
  await remote.stop()
  await state.next('0')
  assert.equal(bridgesOf(broker)?.status()[0]?.connected, false)

  const local = await client(t, broker.port)
  const count = 50
  for (let i = 0; i < count; i++) await local.publishAsync(`out/${i % 5}`, `m${i}`, { qos: 1 })
  // Every publish above was acknowledged; they wait in the bridge's session.
  await until(() => (bridgesOf(broker)?.status()[0]?.queued ?? 0) > 0, 'messages queued for the bridge')

  await remote.start()
  await state.next('1')
  // Collecting from before CONNACK: the remote's queue for the session arrives right behind it.
  const { inbox } = await connectCollecting(remote.port, subOptions, t)
  await inbox.waitFor((m) => m.payload === `m${count - 1}`, 'the last message')
  await until(() => new Set(inbox.messages.map((m) => m.payload)).size === count, 'every message')
  const got = new Set(inbox.messages.map((m) => m.payload))
  for (let i = 0; i < count; i++) assert.ok(got.has(`m${i}`), `m${i} arrived`)
  await until(() => bridgesOf(broker)?.status()[0]?.queued === 0, 'the queue to drain')
  assert.deepEqual(state.values.slice(-3), ['1', '0', '1'])
})

test("the bridge's queue survives a tinymqtt restart with a data directory", { skip: missing }, async (t) => {
  const remote = await Mosquitto.create(t)
  const subOptions = { clientId: 'remote-sub', clean: false }
  const first = await client(t, remote.port, subOptions)
  await first.subscribeAsync('out/#', { qos: 1 })
  await new Promise<void>((resolve) => first.end(false, {}, () => resolve()))
  await remote.stop()

  const data = tempDataDir(t)
  const bridges: BridgeSpec[] = [
    {
      name: 'cloud',
      address: `127.0.0.1:${remote.port}`,
      clientId: 'durable-bridge',
      ...fast,
      topics: [{ pattern: 'out/#', direction: 'out', qos: 1 }],
    },
  ]
  const before = await tinymqtt(t, bridges, { data })
  const local = await client(t, before.port)
  const count = 20
  for (let i = 0; i < count; i++) await local.publishAsync('out/x', `d${i}`, { qos: 1 })
  local.end(true)
  await before.close()

  const after = await tinymqtt(t, bridges, { data })
  await remote.start()
  await watchState(after, 'cloud').next('1')
  const { inbox } = await connectCollecting(remote.port, subOptions, t)
  await until(
    () => new Set(inbox.messages.map((m) => m.payload)).size === count,
    'every message after the restart',
  )
  assert.deepEqual(
    [...new Set(inbox.messages.map((m) => m.payload))].sort(),
    Array.from({ length: count }, (_, i) => `d${i}`).sort(),
  )
})

test('the bridge is trusted on a broker with a user and a password; its client id is not open to others', {
  skip: missing,
}, async (t) => {
  const remote = await Mosquitto.create(t)
  const remoteSub = await client(t, remote.port)
  const remoteInbox = new Inbox(remoteSub)
  await remoteSub.subscribeAsync('out/#', { qos: 1 })
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    user: 'alice',
    pass: 'secret',
    bridges: [
      {
        name: 'cloud',
        address: `127.0.0.1:${remote.port}`,
        clientId: 'trusted-bridge',
        ...fast,
        topics: [{ pattern: 'out/#', direction: 'out', qos: 1 }],
      },
    ],
  })
  t.after(() => broker.close())
  await watchState(broker, 'cloud').next('1')
  const local = await client(t, broker.port, { username: 'alice', password: 'secret' })
  await local.publishAsync('out/a', 'through', { qos: 1 })
  await remoteInbox.waitFor((m) => m.payload === 'through')
  // Even the configured user cannot take the bridge's session (and its queue) over.
  const thief = mqtt.connect({
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'local.trusted-bridge',
    username: 'alice',
    password: 'secret',
    reconnectPeriod: 0,
  })
  t.after(() => thief.end(true))
  const [error] = await withTimeout(
    new Promise<[Error & { code?: number }]>((resolve) => thief.once('error', (e) => resolve([e]))),
    'the refusal',
  )
  assert.equal(error.code, 5)
  assert.equal(bridgesOf(broker)?.status()[0]?.connected, true)
})

test('the config file: bridges are checked, TLS files are relative to the file', async (t) => {
  const dir = await tempDir(t, 'tinymqtt-bridge-config-')
  const file = join(dir, 'tinymqtt.json')
  const good = {
    bridges: [
      {
        name: 'cloud',
        addresses: ['broker.example:8883', '[::1]'],
        tls: { ca: 'ca.pem' },
        topics: [{ pattern: 'sensors/#', direction: 'out', qos: 1, remotePrefix: 'home/' }],
      },
    ],
  }
  await writeFile(file, JSON.stringify(good))
  const config = await readConfigFile(file)
  const [bridge] = resolveBridges(config.bridges ?? [])
  assert.equal(typeof bridge?.tls === 'object' && bridge.tls.ca, join(dir, 'ca.pem'))
  assert.deepEqual(bridge?.addresses, [
    { host: 'broker.example', port: 8883 },
    { host: '::1', port: 8883 },
  ])
  assert.equal(bridge?.cleanSession, false)
  assert.equal(bridge?.localClientId, `local.${bridge?.clientId}`)
  const bad: [unknown, RegExp][] = [
    [{ name: 'x', topics: [{ pattern: '#' }] }, /"address"/],
    [{ name: 'x', address: 'h:1', topics: [] }, /at least one topic/],
    [{ name: 'x', address: 'h:1', topics: [{ pattern: '#', direction: 'sideways' }] }, /in, out or both/],
    [{ name: 'x', address: 'h:1', topics: [{ pattern: '#', localPrefix: 'a/+/' }] }, /without wildcards/],
    [{ name: 'x', address: 'h:1', topics: [{ pattern: '', localPrefix: 'a' }] }, /empty "pattern"/],
    [{ name: 'x', address: 'h:99999', topics: [{ pattern: '#' }] }, /bad address/],
    [{ name: 'x', address: 'h:1', colour: 'red', topics: [{ pattern: '#' }] }, /unknown setting "colour"/],
    [{ name: 'a/b', address: 'h:1', topics: [{ pattern: '#' }] }, /"name"/],
  ]
  for (const [entry, message] of bad) {
    await writeFile(file, JSON.stringify({ bridges: [entry] }))
    await assert.rejects(readConfigFile(file), message, JSON.stringify(entry))
  }
})

test("topic mapping follows mosquitto.conf's table, first matching entry winning", () => {
  const map = new TopicMap(
    resolveBridges([
      {
        name: 'm',
        address: 'h:1',
        topics: [
          { pattern: 'pattern/#', direction: 'both', localPrefix: 'L/', remotePrefix: 'R/' },
          { pattern: '', direction: 'out', localPrefix: 'local/one', remotePrefix: 'remote/other' },
          { pattern: 'x/+', direction: 'in' },
          { pattern: 'x/#', direction: 'in', remotePrefix: 'never/' },
        ],
      },
    ])[0]?.topics ?? [],
  )
  assert.equal(map.toRemote('L/pattern/a'), 'R/pattern/a')
  assert.equal(map.toLocal('R/pattern/a'), 'L/pattern/a')
  assert.equal(map.toRemote('local/one'), 'remote/other')
  assert.equal(map.toRemote('local/one/more'), undefined)
  assert.equal(map.toLocal('remote/other'), undefined, 'an out entry maps nothing in')
  assert.equal(map.toLocal('x/y'), 'x/y')
  assert.equal(map.toRemote('pattern/a'), undefined)
  assert.deepEqual(map.localSubscriptions(), [
    { filter: 'L/pattern/#', qos: 0 },
    { filter: 'local/one', qos: 0 },
  ])
  assert.deepEqual(map.remoteSubscriptions(), [
    { filter: 'R/pattern/#', qos: 0 },
    { filter: 'x/+', qos: 0 },
    { filter: 'never/x/#', qos: 0 },
  ])
})
