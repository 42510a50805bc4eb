// The settings the table added to the command line and the config file, black-box: a spawned
// CLI's CONNACK follows --max-keepalive and --receive-maximum (or the config file's keys), a
// silent connection is dropped after --connect-timeout, and a config file with an unknown key or
// a value of the wrong kind stops start-up with a message naming the file and the key.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt, { type IClientOptions, type IConnackPacket } from 'mqtt'
import { readConfigFile } from '../src/config.ts'
import {
  type Cleanup,
  type CollectingProcess,
  freePort,
  spawnCollecting,
  waitClosed,
  withTimeout,
} from './helpers.ts'

const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'src', 'cli.ts')
/** Starting node with tsx takes a while on a busy 2-core machine. */
const START_TIMEOUT = 30_000

function runCli(t: Cleanup, args: string[]): CollectingProcess {
  // --memory: not about persistence, and parallel test files must not share ./tinymqtt-data.
  return spawnCollecting(t, process.execPath, ['--import', 'tsx', CLI, '--memory', ...args], ROOT)
}

/** The CONNACK an MQTT 5 client gets, retrying while the CLI is still starting. */
async function connack5(cli: CollectingProcess, port: number, t: Cleanup, opts: IClientOptions = {}) {
  const deadline = Date.now() + START_TIMEOUT
  for (;;) {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 2000,
      ...opts,
    })
    t.after(() => client.end(true))
    try {
      return await new Promise<IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve)
        client.once('error', reject)
        client.once('close', () => reject(new Error('closed before CONNACK')))
      })
    } catch (error) {
      client.end(true)
      if (cli.child.exitCode !== null) throw new Error(`the CLI exited: ${cli.output()}`)
      if (Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

async function stop(cli: CollectingProcess): Promise<void> {
  cli.child.kill('SIGTERM')
  assert.equal(await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT), 0, cli.output())
}

async function tempDir(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-settings-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('--max-keepalive, --receive-maximum and --connect-timeout reach the broker', async (t) => {
  const port = await freePort()
  const cli = runCli(t, [
    ...['-p', String(port), '-H', '127.0.0.1'],
    ...['--max-keepalive', '10', '--receive-maximum', '5', '--connect-timeout', '1'],
  ])
  const asked60 = await connack5(cli, port, t, { keepalive: 60, clientId: 'ka-60' })
  assert.equal(asked60.properties?.serverKeepAlive, 10, 'Server Keep Alive: the cap')
  assert.equal(asked60.properties?.receiveMaximum, 5)
  const asked5 = await connack5(cli, port, t, { keepalive: 5, clientId: 'ka-5' })
  assert.equal(asked5.properties?.serverKeepAlive, undefined, 'within the cap: none')

  // A connection that never sends CONNECT is closed after 1 s (the default would wait 10 s).
  const socket = net.connect({ port, host: '127.0.0.1' })
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  await waitClosed(socket, 8000)
  await stop(cli)
  assert.match(cli.output(), /no CONNECT in time/)
})

test('the config file sets maxKeepalive, receiveMaximum and connectTimeout; the command line wins', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const config = join(dir, 'tinymqtt.json')
  await writeFile(
    config,
    JSON.stringify({ port, host: '127.0.0.1', maxKeepalive: 20, receiveMaximum: 7, connectTimeout: 1 }),
  )
  const fromFile = runCli(t, ['--config', config])
  const connack = await connack5(fromFile, port, t, { keepalive: 0, clientId: 'file-0' })
  assert.equal(connack.properties?.serverKeepAlive, 20, 'keepalive 0 asks for no limit: capped')
  assert.equal(connack.properties?.receiveMaximum, 7)
  const socket = net.connect({ port, host: '127.0.0.1' })
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  await waitClosed(socket, 8000)
  await stop(fromFile)

  const overridden = runCli(t, ['--config', config, '--receive-maximum', '3'])
  const both = await connack5(overridden, port, t, { keepalive: 60, clientId: 'file-cli' })
  assert.equal(both.properties?.receiveMaximum, 3, 'the command line wins')
  assert.equal(both.properties?.serverKeepAlive, 20, 'the rest still from the file')
  await stop(overridden)
})

test('a config file with an unknown key or a wrong type stops start-up, naming the file and key', async (t) => {
  const dir = await tempDir(t)
  for (const [content, message] of [
    [
      { maxKeepAlive: 10 },
      /config file .*bad\.json: unknown setting "maxKeepAlive"; did you mean "maxKeepalive"\?/,
    ],
    [{ frobnicate: 1 }, /config file .*bad\.json: unknown setting "frobnicate"/],
    [{ receiveMaximum: '5' }, /config file .*bad\.json: "receiveMaximum" must be an integer from 1 to 65535/],
    [{ maxKeepalive: 70_000 }, /config file .*bad\.json: "maxKeepalive" must be an integer from 0 to 65535/],
  ] as const) {
    const file = join(dir, 'bad.json')
    await writeFile(file, JSON.stringify(content))
    const cli = runCli(t, ['-p', '0', '-H', '127.0.0.1', '--config', file])
    const code = await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT)
    assert.notEqual(code, 0, JSON.stringify(content))
    assert.match(cli.output(), message)
  }
})

test('a bad value on the command line stops start-up, naming the option', async (t) => {
  const cli = runCli(t, ['-p', '0', '-H', '127.0.0.1', '--receive-maximum', '0'])
  assert.notEqual(await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT), 0)
  assert.match(cli.output(), /--receive-maximum <n>.*'0' is invalid.*not an integer from 1 to 65535/)
})

test('readConfigFile checks every setting against the table', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'c.json')
  const good = {
    maxKeepalive: 0,
    receiveMaximum: 65_535,
    connectTimeout: 30,
    logLevel: 'debug',
    memory: true,
  }
  await writeFile(file, JSON.stringify(good))
  assert.deepEqual(await readConfigFile(file), good)
  for (const [content, message] of [
    [{ connectTimeout: 0 }, /"connectTimeout" must be an integer of at least 1/],
    [{ logLevel: 'loud' }, /"logLevel" must be one of fatal, error, warn, info, debug, trace, silent/],
    [{ memory: 'yes' }, /"memory" must be true or false/],
    [{ config: 'other.json' }, /"config" is a command-line option, not a config-file setting/],
    [{ 'max-keepalive': 5 }, /unknown setting "max-keepalive"; did you mean "maxKeepalive"\?/],
  ] as const) {
    await writeFile(file, JSON.stringify(content))
    await assert.rejects(readConfigFile(file), (e: Error) => {
      assert.match(e.message, new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `))
      assert.match(e.message, message)
      return true
    })
  }
})
