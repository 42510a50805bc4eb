// Issue 3, point 12: the command line. Spawned as a child process: options, JSON logs when not a
// terminal, --config, credentials, clean shutdown on SIGTERM / SIGINT with exit code 0.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { MqttClient } from 'mqtt'
import { type Cli, runCli, START_TIMEOUT } from './cli-process.ts'
import { defined } from './defined.ts'
import {
  type Cleanup,
  freePort,
  Inbox,
  mqttConnect,
  mqttConnectRefused,
  PT,
  publish,
  RawClient,
  subscribe,
  TIMEOUT,
  until,
  waitFor,
  withTimeout,
} from './helpers.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')

/** Connects with MQTT.js, retrying while the CLI is still starting up. */
async function connectWhenUp(cli: Cli, port: number, t: Cleanup, opts = {}): Promise<MqttClient> {
  const deadline = Date.now() + START_TIMEOUT
  for (;;) {
    try {
      return await mqttConnect(port, { connectTimeout: 2000, ...opts }, t)
    } catch (error) {
      if (cli.child.exitCode !== null) {
        throw new Error(`the CLI exited with ${cli.child.exitCode}: ${cli.stderr()} ${cli.stdout()}`)
      }
      if (Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** The processes below `pid` (Linux /proc; none elsewhere). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>()
  let entries: string[] = []
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Field 4 of /proc/<pid>/stat, after the command name in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parentOf.set(Number(entry), ppid)
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = []
  const walk = (parent: number): void => {
    for (const [child, ppid] of parentOf) {
      if (ppid !== parent) continue
      found.push(child)
      walk(child)
    }
  }
  walk(pid)
  return found
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>
      } catch {
        throw new Error(`log line is not JSON: ${l}`)
      }
    })
}

test('tinymqtt -p -H --log-level info: serves MQTT, logs JSON lines, exits 0 on SIGTERM', async (t) => {
  const port = await freePort()
  const cli = runCli(['-p', String(port), '-H', '127.0.0.1', '--log-level', 'info'], t)
  const sub = await connectWhenUp(cli, port, t, { clientId: 'cli-sub' })
  const pub = await mqttConnect(port, { clientId: 'cli-pub' }, t)
  const inbox = new Inbox(sub)
  await sub.subscribeAsync('cli/#', { qos: 1 })
  await pub.publishAsync('cli/x', 'through the CLI', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'cli/x')
  assert.equal(m.payload, 'through the CLI')

  // Not a terminal: pino JSON lines, with the usual fields.
  await until(() => cli.stdout().includes('\n'), 'a log line')
  const records = jsonLines(cli.stdout())
  assert.ok(records.length > 0)
  for (const r of records) assert.equal(typeof r.level, 'number')
  assert.ok(
    records.some((r) => String(r.msg).match(/listen/i) && JSON.stringify(r).includes(String(port))),
    'a record says where it listens',
  )

  const closed = waitFor(sub, 'close', TIMEOUT)
  cli.child.kill('SIGTERM')
  const { code, signal } = await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT)
  assert.equal(signal, null, 'exited by itself, not killed by the signal')
  assert.equal(code, 0)
  await closed
  assert.equal(cli.stderr().trim(), '', 'nothing on stderr')
})

test('SIGINT also shuts down cleanly with exit code 0', async (t) => {
  const port = await freePort()
  const cli = runCli(['--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'], t)
  await connectWhenUp(cli, port, t, { clientId: 'sigint' })
  cli.child.kill('SIGINT')
  const { code, signal } = await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT)
  assert.deepEqual({ code, signal }, { code: 0, signal: null })
  // --log-level warn: nothing below warn was written.
  for (const r of jsonLines(cli.stdout())) assert.ok(Number(r.level) >= 40, JSON.stringify(r))
})

test('--max-packet-size and --max-inflight from the command line are applied', async (t) => {
  const port = await freePort()
  const cli = runCli(
    ['-p', String(port), '-H', '127.0.0.1', '--max-packet-size', '1000', '--max-inflight', '3'],
    t,
  )
  const probe = await connectWhenUp(cli, port, t, { clientId: 'probe' })
  await probe.endAsync()
  const { client } = await RawClient.connect(port, { clientId: 'limits' }, t)
  await client.send(subscribe(1, [{ topic: 'lim', qos: 1 }]))
  await client.expect(PT.SUBACK)
  const pub = await mqttConnect(port, { clientId: 'lim-pub' }, t)
  for (let i = 0; i < 5; i++) await pub.publishAsync('lim', String(i), { qos: 1 })
  const got = [await client.nextPublish(), await client.nextPublish(), await client.nextPublish()]
  assert.deepEqual(await client.pingBarrier(), [], 'three in flight, no more')
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['0', '1', '2'],
  )
  // 1001 bytes: refused from the header.
  await client.send(publish({ topic: 't', payload: Buffer.alloc(995) }).subarray(0, 3))
  await client.waitClosed()
  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'exit', START_TIMEOUT)).code, 0)
})

test('--user / --pass: the single user is required; wrong → CONNACK 4, missing → 5', async (t) => {
  const port = await freePort()
  const cli = runCli(
    ['-p', String(port), '-H', '127.0.0.1', '--user', 'u', '--pass', 'p', '--log-level', 'info'],
    t,
  )
  const ok = await connectWhenUp(cli, port, t, { clientId: 'cli-auth', username: 'u', password: 'p' })
  assert.equal(ok.connected, true)
  assert.deepEqual(await mqttConnectRefused(port, { clientId: 'cli-bad', username: 'u', password: 'nope' }), {
    code: 4,
  })
  assert.deepEqual(await mqttConnectRefused(port, { clientId: 'cli-none' }), { code: 5 })
  // The refusal is logged with the client id.
  await until(() => cli.stdout().includes('cli-bad'), 'a log line naming cli-bad')
  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'exit', START_TIMEOUT)).code, 0)
})

test('--config <file>: settings from a JSON file; command-line options win', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const filePort = await freePort()
  const cliPort = await freePort()
  const config = join(dir, 'tinymqtt.json')
  await writeFile(
    config,
    JSON.stringify({ port: filePort, host: '127.0.0.1', user: 'cfg', pass: 'cfgpw', logLevel: 'info' }),
  )
  const cli = runCli(['--config', config, '-p', String(cliPort)], t)
  const c = await connectWhenUp(cli, cliPort, t, { clientId: 'cfg', username: 'cfg', password: 'cfgpw' })
  assert.equal(c.connected, true)
  assert.deepEqual(await mqttConnectRefused(cliPort, { clientId: 'cfg-none' }), { code: 5 })
  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'exit', START_TIMEOUT)).code, 0)
})

test('a config file with an unknown key stops start-up with a message naming it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const config = join(dir, 'bad.json')
  await writeFile(config, JSON.stringify({ port: 1, bogusSetting: true }))
  const cli = runCli(['--config', config], t)
  const { code } = await withTimeout(cli.exited, 'exit', START_TIMEOUT)
  assert.notEqual(code, 0)
  assert.match(cli.stderr() + cli.stdout(), /bogusSetting/)
})

test('in a terminal the log is human-readable (pino-pretty), not JSON', async (t) => {
  // util-linux `script` gives the CLI a pseudo-terminal as stdout.
  if (spawnSync('script', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    t.skip('util-linux script not installed (needed for a pseudo-terminal)')
    return
  }
  const port = await freePort()
  const cmd = `'${process.execPath}' --import tsx '${CLI}' --memory -p ${port} -H 127.0.0.1 --log-level info`
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NO_COLOR: '1' },
  })
  t.after(() => {
    // `script` runs the CLI in a session of its own, out of reach of a signal to script's
    // group, and the CLI outlives the SIGHUP of the closed terminal (it reloads on SIGHUP).
    const pid = defined(child.pid, 'child.pid')
    for (const p of [...descendants(pid), pid]) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  await until(() => /listen/i.test(out) && out.includes(String(port)), 'the listening line', START_TIMEOUT)
  const first = defined(
    out.split(/\r?\n/).find((l) => l.trim() !== ''),
    "out.split(/\\r?\\n/).find((l) => l.trim() !== '')",
  )
  assert.throws(() => JSON.parse(first), 'not a JSON line')
  assert.match(out, /INFO/)
})

test('--help lists the options and exits 0', async (t) => {
  const cli = runCli(['--help'], t)
  const { code } = await withTimeout(cli.exited, 'exit', START_TIMEOUT)
  assert.equal(code, 0)
  for (const opt of ['--port', '--host', '--user', '--pass', '--config', '--log-level', '-p', '-H']) {
    assert.ok(cli.stdout().includes(opt), `--help mentions ${opt}`)
  }
})
