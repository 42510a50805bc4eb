// Issue 16, point 3: GET /healthz on the dashboard port. 200 with a small JSON report while the
// listeners are bound and the store commits; 503 naming the problem when a listener is down or
// the store cannot commit. No credentials asked, even when the dashboard has a password.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { listenersOf, startBroker, webOf } from '../src/index.ts'
import { loggedPort, runCli, START_TIMEOUT } from './cli-process.ts'
import { type Cleanup, withTimeout } from './helpers.ts'
import { WrappedStore } from './store-helpers.ts'

interface Health {
  status: string
  problems: string[]
  listeners: { name: string; port: number; listening: boolean }[]
  store?: { durable: boolean; writable: boolean; error?: string }
  scripts?: { total: number; running: number; failed: number }
  bridges: { name: string; connected: boolean }[]
}

async function getHealth(port: number): Promise<{ status: number; body: Health; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`)
  return { status: res.status, body: (await res.json()) as Health, type: res.headers.get('content-type') }
}

async function tempDir(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-health-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('the CLI: /healthz answers 200 with listeners, store, scripts and bridges, without the dashboard password', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'scripts'))
  await writeFile(join(dir, 'scripts', 'ok.js'), "ms_subscribe('a/#', () => {})\n")
  await writeFile(join(dir, 'scripts', 'broken.js'), 'this is not javascript(\n')
  const config = join(dir, 'tinymqtt.json')
  await writeFile(
    config,
    JSON.stringify({
      port: 0,
      host: '127.0.0.1',
      http: 0,
      httpUser: 'admin',
      httpPass: 'secret',
      scripts: join(dir, 'scripts'),
      listeners: [{ type: 'tcp', port: 0 }],
    }),
  )
  // A real data directory: the report's store check is a commit to the LMDB file.
  const cli = runCli(['--config', config, '--data', join(dir, 'data')], t, { memory: false })
  const mqttPort = await loggedPort(cli, 'MQTT listener started')
  const extraPort = await loggedPort(cli, 'TCP listener started')
  const httpPort = await loggedPort(cli, 'dashboard listening')

  const { status, body, type } = await getHealth(httpPort)
  assert.equal(status, 200)
  assert.match(type ?? '', /^application\/json/)
  assert.deepEqual(body, {
    status: 'ok',
    problems: [],
    listeners: [
      { name: 'mqtt', port: mqttPort, listening: true },
      { name: `tcp:${extraPort}`, port: extraPort, listening: true },
    ],
    store: { durable: true, writable: true },
    scripts: { total: 2, running: 1, failed: 1 },
    bridges: [],
  })
  // The rest of the dashboard still asks for the password.
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/api/view/broker`)).status, 401)

  cli.child.kill('SIGTERM')
  assert.equal((await withTimeout(cli.exited, 'the CLI to exit', START_TIMEOUT)).code, 0)
})

test('a listener that stopped listening makes /healthz answer 503 naming it', async (t) => {
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    http: 0,
    listeners: [{ type: 'tcp', port: 0 }],
    logLevel: 'silent',
  })
  t.after(() => broker.close())
  const httpPort = webOf(broker)?.port ?? 0
  assert.equal((await getHealth(httpPort)).status, 200)

  const [extra] = listenersOf(broker)
  assert.ok(extra)
  await extra.close()
  const { status, body } = await getHealth(httpPort)
  assert.equal(status, 503)
  assert.equal(body.status, 'failing')
  assert.deepEqual(body.problems, [`listener ${extra.name} is not listening`])
  assert.deepEqual(
    body.listeners.map((l) => [l.name, l.listening]),
    [
      ['mqtt', true],
      [extra.name, false],
    ],
  )
})

/** A store whose commits fail while `failing` is set, as a full or read-only disk makes them. */
class FailingStore extends WrappedStore {
  failing = false
  override async flush(): Promise<void> {
    if (this.failing) throw new Error('ENOSPC: no space left on device')
    await this.inner.flush()
  }
}

test('a store that cannot commit makes /healthz answer 503 with the reason, and 200 once it can again', async (t) => {
  const store = new FailingStore()
  const broker = await startBroker({ port: 0, host: '127.0.0.1', http: 0, store, logLevel: 'silent' })
  t.after(() => broker.close())
  const httpPort = webOf(broker)?.port ?? 0
  assert.deepEqual((await getHealth(httpPort)).body.store, { durable: false, writable: true })

  store.failing = true
  const { status, body } = await getHealth(httpPort)
  assert.equal(status, 503)
  assert.deepEqual(body.store, {
    durable: false,
    writable: false,
    error: 'ENOSPC: no space left on device',
  })
  assert.deepEqual(body.problems, ['the store cannot commit: ENOSPC: no space left on device'])

  store.failing = false
  assert.equal((await getHealth(httpPort)).status, 200)
})
