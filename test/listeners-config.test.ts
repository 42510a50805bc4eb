import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { hashPassword } from '../src/broker/access/password-file.ts'
import { readConfigFile } from '../src/config.ts'
import { listenersFromShorthands, parseListenerSpecs } from '../src/listeners/config.ts'
import { defined } from './defined.ts'
import {
  attempt,
  connect,
  GUARD_MS,
  guard,
  makePki,
  nextMessage,
  requireCommand,
  tempDir,
} from './tls-helpers.ts'

const noOpenssl = await requireCommand('openssl', 'openssl')

test('listeners in the config file are validated, naming the entry and key', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'config.json')
  await writeFile(
    file,
    JSON.stringify({
      port: 1883,
      passwordFile: '/etc/tinymqtt/passwd',
      aclFile: '/etc/tinymqtt/acl',
      listeners: [
        { type: 'tls', port: 8883, cert: 'c.pem', key: 'k.pem', ca: 'ca.pem', useIdentityAsUsername: true },
        { type: 'ws', port: 8080, path: '/mqtt', maxConnections: 100 },
        { type: 'wss', port: 8081, cert: 'c.pem', key: 'k.pem' },
        { type: 'tcp', port: 1884, host: '127.0.0.1' },
      ],
    }),
  )
  const config = await readConfigFile(file)
  assert.equal(config.passwordFile, '/etc/tinymqtt/passwd')
  assert.equal(config.listeners?.length, 4)
  assert.deepEqual(config.listeners?.[1], { type: 'ws', port: 8080, path: '/mqtt', maxConnections: 100 })
  const where = 'config file x'
  assert.throws(() => parseListenerSpecs({}, where), /"listeners" must be an array/)
  assert.throws(
    () => parseListenerSpecs([{ type: 'quic', port: 1 }], where),
    /listeners\[0\]: "type" must be one of/,
  )
  assert.throws(() => parseListenerSpecs([{ type: 'ws' }], where), /listeners\[0\]: "port" is required/)
  assert.throws(
    () => parseListenerSpecs([{ type: 'ws', port: -1 }], where),
    /"port" must be a non-negative integer/,
  )
  assert.throws(
    () => parseListenerSpecs([{ type: 'tls', port: 1, cert: 'c' }], where),
    /needs "cert" and "key"/,
  )
  assert.throws(() => parseListenerSpecs([{ type: 'ws', port: 1, maxConnections: 0 }], where), /at least 1/)
  assert.throws(
    () => parseListenerSpecs([{ type: 'ws', port: 1, cert: 'c' }], where),
    /"cert" applies only to tls/,
  )
  assert.throws(
    () => parseListenerSpecs([{ type: 'tcp', port: 1, path: '/x' }], where),
    /"path" applies only/,
  )
  assert.throws(
    () => parseListenerSpecs([{ type: 'ws', port: 1, colour: 'red' }], where),
    /unknown setting "colour"/,
  )
  assert.throws(
    () =>
      parseListenerSpecs([{ type: 'tls', port: 1, cert: 'c', key: 'k', useIdentityAsUsername: true }], where),
    /needs "ca"/,
  )
  await writeFile(file, JSON.stringify({ passwordFile: 5 }))
  await assert.rejects(readConfigFile(file), /"passwordFile" must be a string/)
})

test('command-line shorthands become listeners', () => {
  assert.deepEqual(listenersFromShorthands({ wsPort: 8080 }), [{ type: 'ws', port: 8080 }])
  assert.deepEqual(listenersFromShorthands({ tlsPort: 8883, wssPort: 8884, cert: 'c', key: 'k' }), [
    { type: 'tls', port: 8883, cert: 'c', key: 'k', ca: undefined },
    { type: 'wss', port: 8884, cert: 'c', key: 'k', ca: undefined },
  ])
  assert.throws(() => listenersFromShorthands({ tlsPort: 8883 }), /needs "cert" and "key"/)
  assert.throws(() => listenersFromShorthands({ cert: 'c', key: 'k' }), /need --tls-port or --wss-port/)
})

interface Running {
  child: ChildProcess
  /** Ports by listener name prefix: mqtt, tls, ws, wss. */
  ports: Map<string, number>
}

/** Runs the CLI with JSON logs on stdout until every expected listener has logged its port. */
async function runCli(
  t: { after(fn: () => unknown): void },
  args: string[],
  expect: string[],
): Promise<Running> {
  const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')
  // --memory: not about persistence, and parallel test files must not share ./tinymqtt-data.
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--memory', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk)
  })
  const ports = new Map<string, number>()
  const lines = createInterface({ input: defined(child.stdout, 'child.stdout') })
  await guard(
    new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`tinymqtt exited with ${code}: ${stderr}`)))
      lines.on('line', (line) => {
        const record = JSON.parse(line) as { msg?: string; listener?: string; port?: number }
        if (record.msg === 'MQTT listener started') ports.set('mqtt', defined(record.port, 'record.port'))
        else if (record.listener && record.msg?.endsWith('listener started')) {
          ports.set(
            defined(record.listener.split(':')[0], "record.listener.split(':')[0]"),
            defined(record.port, 'record.port'),
          )
        }
        if (expect.every((name) => ports.has(name))) resolve()
      })
    }),
    'the CLI to start its listeners',
    GUARD_MS * 2,
  )
  return { child, ports }
}

test('the CLI starts TLS and WebSocket listeners with a password file and ACL, and stops on SIGTERM', {
  skip: noOpenssl,
}, async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const passwordFile = join(dir, 'passwd')
  const aclFile = join(dir, 'acl')
  await writeFile(passwordFile, `alice:${hashPassword('pw')}\n`)
  await writeFile(aclFile, 'user alice\ntopic readwrite home/#\n')
  const { child, ports } = await runCli(
    t,
    [
      ...['--host', '127.0.0.1', '--port', '0', '--tls-port', '0', '--ws-port', '0'],
      ...['--cert', pki.serverCert, '--key', pki.serverKey],
      ...['--password-file', passwordFile, '--acl-file', aclFile],
    ],
    ['mqtt', 'tls', 'ws'],
  )
  const ca = pki.caCert
  const secure = await connect(t, `mqtts://localhost:${ports.get('tls')}`, {
    ca: await readFile(ca),
    username: 'alice',
    password: 'pw',
  })
  const ws = await connect(t, `ws://127.0.0.1:${ports.get('ws')}/mqtt`, { username: 'alice', password: 'pw' })
  const anonymous = await attempt(t, `mqtt://127.0.0.1:${ports.get('mqtt')}`)
  assert.equal(anonymous.ok ? 0 : anonymous.code, 5)
  await ws.subscribeAsync('home/#', { qos: 1 })
  const arrived = nextMessage(ws, 'home/door')
  await secure.publishAsync('home/door', 'open', { qos: 1 })
  assert.equal((await arrived).payload, 'open')
  const exited = guard(new Promise((resolve) => child.once('exit', resolve)), 'the CLI to exit')
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

test('the CLI reads several listeners from the config file', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'tinymqtt.json')
  await writeFile(
    config,
    JSON.stringify({
      host: '127.0.0.1',
      port: 0,
      listeners: [
        { type: 'ws', port: 0 },
        { type: 'tcp', port: 0, maxConnections: 5 },
      ],
    }),
  )
  const { ports } = await runCli(t, ['--config', config], ['mqtt', 'ws', 'tcp'])
  const a = await connect(t, `ws://127.0.0.1:${ports.get('ws')}/mqtt`)
  const b = await connect(t, `mqtt://127.0.0.1:${ports.get('tcp')}`)
  await a.subscribeAsync('x', { qos: 1 })
  const arrived = nextMessage(a, 'x')
  await b.publishAsync('x', 'across listeners', { qos: 1 })
  assert.equal((await arrived).payload, 'across listeners')
})
