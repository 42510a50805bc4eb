// Issue 16, point 4: SIGHUP re-reads the config file, the password file and the ACL file, and
// applies what can change live; connected clients that are still allowed stay connected. A
// broken config is logged and the running settings stay; what needs a restart is logged.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt, { type IConnackPacket } from 'mqtt'
import { hashPassword } from '../src/broker/access/index.ts'
import { startBroker } from '../src/index.ts'
import { type Cli, connectTo, loggedPort, runCli, START_TIMEOUT, sighup } from './cli-process.ts'
import { type Cleanup, freePort, Inbox, mqttConnectRefused, waitFor, withTimeout } from './helpers.ts'

async function tempDir(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-reload-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const passwd = (users: Record<string, string>): string =>
  Object.entries(users)
    .map(([user, pw]) => `${user}:${hashPassword(pw)}\n`)
    .join('')

async function stop(cli: Cli): Promise<void> {
  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT)).code, 0)
}

test('SIGHUP: a new user gets in, a removed one is disconnected, the ACL change applies, allowed clients stay', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  const passwordFile = join(dir, 'passwd')
  const aclFile = join(dir, 'acl')
  await writeFile(passwordFile, passwd({ alice: 'a-pw', carol: 'c-pw' }))
  await writeFile(aclFile, 'user alice\ntopic readwrite home/#\nuser carol\ntopic readwrite home/#\n')
  await writeFile(config, JSON.stringify({ port: 0, host: '127.0.0.1', passwordFile, aclFile }))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')

  const alice = await connectTo(port, t, { clientId: 'alice', username: 'alice', password: 'a-pw' })
  const carol = await connectTo(port, t, { clientId: 'carol', username: 'carol', password: 'c-pw' })
  const inbox = new Inbox(alice)
  await alice.subscribeAsync('home/#', { qos: 1 })
  // Before the reload the ACL does not let alice read garden/#, and bob is unknown.
  await assert.rejects(alice.subscribeAsync('garden/#', { qos: 1 }), /Subscribe error/)
  assert.deepEqual(await mqttConnectRefused(port, { clientId: 'bob', username: 'bob', password: 'b-pw' }), {
    code: 4,
  })

  await writeFile(passwordFile, passwd({ alice: 'a-pw', bob: 'b-pw' }))
  await writeFile(
    aclFile,
    'user alice\ntopic readwrite home/#\ntopic read garden/#\nuser bob\ntopic readwrite home/#\ntopic write garden/#\n',
  )
  const carolGone = waitFor(carol, 'close')
  const outcome = await sighup(cli)
  assert.equal(outcome.msg, 'configuration reloaded')
  await carolGone

  const bob = await connectTo(port, t, { clientId: 'bob', username: 'bob', password: 'b-pw' })
  await bob.publishAsync('home/door', 'open', { qos: 1 })
  assert.equal((await inbox.waitFor((m) => m.topic === 'home/door')).payload, 'open')
  assert.equal(alice.connected, true, 'alice, still allowed, stayed connected')
  const [granted] = await alice.subscribeAsync('garden/#', { qos: 1 })
  assert.equal(granted?.qos, 1)
  await bob.publishAsync('garden/rain', 'yes', { qos: 1 })
  assert.equal((await inbox.waitFor((m) => m.topic === 'garden/rain')).payload, 'yes')
  await stop(cli)
})

test("SIGHUP: a changed log level applies at once, to the scripts' lines too", async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  const script = join(dir, 'watch.js')
  await writeFile(script, "ms_subscribe('will/#', (topic) => console.debug('script saw ' + topic))\n")
  const settings = { port: 0, host: '127.0.0.1', scripts: script }
  await writeFile(config, JSON.stringify({ ...settings, logLevel: 'info' }))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  const watcher = await connectTo(port, t, { clientId: 'watcher' })
  const inbox = new Inbox(watcher)
  await watcher.subscribeAsync('will/#')

  // A will is logged at debug: not yet.
  const will = (n: number) => ({
    topic: `will/${n}`,
    payload: Buffer.from('gone'),
    qos: 0 as const,
    retain: false,
  })
  const first = await connectTo(port, t, { clientId: 'dying-1', will: will(1) })
  first.stream.destroy()
  await inbox.waitFor((m) => m.topic === 'will/1')

  await writeFile(config, JSON.stringify({ ...settings, logLevel: 'debug' }))
  const outcome = await sighup(cli)
  assert.deepEqual(outcome.changed, ['logLevel'])
  assert.ok(!cli.lines().some((l) => l.msg === 'publishing will'), 'no debug line before the reload')
  const second = await connectTo(port, t, { clientId: 'dying-2', will: will(2) })
  second.stream.destroy()
  const line = await cli.waitForLog((l) => l.msg === 'publishing will', 'a debug line')
  assert.equal(line.clientId, 'dying-2')
  assert.equal(line.level, 20)
  // The scripting host logs through a child logger, made at start: it follows too.
  const scriptLine = await cli.waitForLog((l) => l.msg === 'script saw will/2', "the script's debug line")
  assert.deepEqual([scriptLine.level, scriptLine.script], [20, 'watch.js'])
  await stop(cli)
})

test('SIGHUP: a changed script folder stops the old scripts and loads the new ones', async (t) => {
  const dir = await tempDir(t)
  for (const name of ['one', 'two']) {
    await mkdir(join(dir, name))
    await writeFile(
      join(dir, name, `${name}.js`),
      `export function init() { ms_publish('which', '${name} started', { retain: true }) }\n` +
        `export function deinit() { ms_publish('which', '${name} stopped') }\n`,
    )
  }
  const config = join(dir, 'tinymqtt.json')
  const settings = { port: 0, host: '127.0.0.1' }
  await writeFile(config, JSON.stringify({ ...settings, scripts: join(dir, 'one') }))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  const client = await connectTo(port, t, { clientId: 'observer' })
  const inbox = new Inbox(client)
  await client.subscribeAsync('which')

  await writeFile(config, JSON.stringify({ ...settings, scripts: join(dir, 'two') }))
  const outcome = await sighup(cli)
  assert.deepEqual(outcome.changed, ['scripts'])
  await inbox.waitFor((m) => m.payload === 'two started')
  // 'one started' is retained: the observer gets it however early it subscribed.
  assert.deepEqual(
    inbox.messages.map((m) => m.payload),
    ['one started', 'one stopped', 'two started'],
  )
  await stop(cli)
})

test('SIGHUP with a broken config, an unknown key or an unreadable password file: logged, the running settings stay', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  const passwordFile = join(dir, 'passwd')
  await writeFile(passwordFile, passwd({ alice: 'a-pw' }))
  const good = { port: 0, host: '127.0.0.1', passwordFile, maxPacketSize: 5000 }
  await writeFile(config, JSON.stringify(good))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  const alice = await connectTo(port, t, { clientId: 'alice', username: 'alice', password: 'a-pw' })
  const inbox = new Inbox(alice)
  await alice.subscribeAsync('t', { qos: 1 })

  await writeFile(config, '{ "port": 0, ')
  let outcome = await sighup(cli)
  assert.equal(outcome.msg, 'reload failed; the running settings stay')
  assert.match(
    String(outcome.reason),
    new RegExp(`config file ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  )
  assert.match(String(outcome.reason), /JSON/)

  await writeFile(config, JSON.stringify({ ...good, maxPacketSize: 100, maxPacketSise: 100 }))
  outcome = await sighup(cli)
  assert.equal(outcome.msg, 'reload failed; the running settings stay')
  assert.match(String(outcome.reason), /unknown setting "maxPacketSise"/)

  await writeFile(config, JSON.stringify({ ...good, maxPacketSize: 100 }))
  await unlink(passwordFile)
  outcome = await sighup(cli)
  assert.equal(outcome.msg, 'reload failed; the running settings stay')
  assert.match(String(outcome.reason), new RegExp(`^password file ${passwordFile}: .*ENOENT`))

  // None of it applied: alice stays, her user still logs in, and 1000 bytes (over the
  // maxPacketSize: 100 of the refused reloads) still pass.
  const again = await connectTo(port, t, { clientId: 'alice-2', username: 'alice', password: 'a-pw' })
  await again.publishAsync('t', 'x'.repeat(1000), { qos: 1 })
  assert.equal((await inbox.waitFor((m) => m.topic === 't')).payload.length, 1000)
  assert.equal(alice.connected, true)
  await stop(cli)
})

test('SIGHUP with a changed port: logged as needing a restart, the listener stays where it is', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  await writeFile(config, JSON.stringify({ port: 0, host: '127.0.0.1', maxKeepalive: 0 }))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  const client = await connectTo(port, t, { clientId: 'stays' })

  const other = await freePort()
  await writeFile(config, JSON.stringify({ port: other, host: '127.0.0.1', maxKeepalive: 30 }))
  const from = cli.lines().length
  const outcome = await sighup(cli)
  assert.deepEqual(outcome.changed, ['maxKeepalive'])
  assert.deepEqual(outcome.restartNeeded, ['port'])
  const warning = await cli.waitForLog((l) => l.setting === 'port', 'the restart warning', from)
  assert.equal(warning.msg, 'setting changed; it takes effect after a restart')
  assert.deepEqual([warning.running, warning.configured], [0, other])
  // Still on the old port, with the old client; the new keepalive cap applies to new MQTT 5 clients.
  const v5 = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 5, keepalive: 120, reconnectPeriod: 0 })
  t.after(() => v5.end(true))
  const [connack] = await waitFor<[IConnackPacket]>(v5, 'connect')
  assert.equal(connack.properties?.serverKeepAlive, 30)
  assert.equal(client.connected, true)
  await stop(cli)
})

test('SIGHUP: bridges added and removed', async (t) => {
  const remote = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' })
  t.after(() => remote.close())
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  const settings = { port: 0, host: '127.0.0.1' }
  await writeFile(config, JSON.stringify(settings))
  const cli = runCli(['--config', config], t)
  const port = await loggedPort(cli, 'MQTT listener started')
  const local = await connectTo(port, t, { clientId: 'local-pub' })
  const bridge = {
    name: 'up',
    address: `127.0.0.1:${remote.port}`,
    clientId: 'reload-bridge',
    protocolVersion: 5,
    topics: [{ pattern: 'out/#', direction: 'out', qos: 1 }],
  }
  const arrived = new Promise<string>((resolve) => {
    remote.subscribe('out/#', (m) => resolve(m.payload.toString()))
  })

  await writeFile(config, JSON.stringify({ ...settings, bridges: [bridge] }))
  const outcome = await sighup(cli)
  assert.deepEqual(outcome.changed, ['bridges'])
  await cli.waitForLog((l) => l.msg === 'bridge connected' && l.bridge === 'up', 'the bridge to connect')
  await local.publishAsync('out/a', 'over the bridge', { qos: 1 })
  assert.equal(await withTimeout(arrived, 'the message on the remote'), 'over the bridge')

  await writeFile(config, JSON.stringify(settings))
  const from = cli.lines().length
  await sighup(cli)
  const stopped = await cli.waitForLog((l) => l.msg === 'bridges updated', 'the bridges update', from)
  assert.deepEqual(stopped.removed, ['up'])
  await stop(cli)
})
