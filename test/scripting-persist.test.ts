// A script's `persist` object: saved when it changes, kept across a reload, a broker restart
// (LMDB data directory, or the same MemoryStore), a kill -9 and the script's deletion, refused
// when too big or not serialisable, and cleared by reset-data.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { Broker } from '../src/broker/broker.ts'
import { type ScriptingHost, type ScriptingOptions, startScripting } from '../src/scripting/index.ts'
import { LmdbStore } from '../src/store/lmdb.ts'
import { MemoryStore } from '../src/store/memory.ts'
import { resetDataDir } from '../src/store/reset.ts'
import type { Store } from '../src/store/store.ts'
import { freePort, spawnCollecting, withTimeout } from './helpers.ts'
import { LogCapture, type LogLine } from './scripting-helpers.ts'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts')
const TSX = import.meta.resolve('tsx')
/** Run from the repository: a VM worker started from source finds tsx from there. */
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')

function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Running {
  broker: Broker
  host: ScriptingHost
  log: LogCapture
  publish(topic: string, payload: string): Promise<void>
  close(): Promise<void>
}

/** A broker on `store` with the scripts in `dir`; the store is closed with the broker when `ownsStore`. */
async function start(
  t: TestContext,
  dir: string,
  store: Store,
  options: { ownsStore?: boolean; scripting?: Omit<ScriptingOptions, 'path'> } = {},
): Promise<Running> {
  const log = new LogCapture()
  const broker = new Broker({
    port: 0,
    host: '127.0.0.1',
    logger: log.logger,
    store,
    ownsStore: options.ownsStore,
  })
  await broker.start()
  const host = await startScripting(broker, { path: dir, ...options.scripting })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await host.close()
    await broker.close()
  }
  t.after(close)
  return {
    broker,
    host,
    log,
    async publish(topic, payload) {
      const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
      await client.publishAsync(topic, payload, { qos: 1 })
      await client.endAsync()
    },
    close,
  }
}

const printed = (text: string) => (line: LogLine) => line.msg === text
const saved = (line: LogLine) => line.msg === 'persist saved'

test('persist survives a reload, with the changes of the callback just before it', async (t) => {
  const dir = tempDir(t, 'tinymqtt-persist-')
  writeFileSync(
    join(dir, 'a.js'),
    `persist.n = (persist.n ?? 0) + 1
     print('n=' + persist.n + ' v=' + persist.v)
     ms_subscribe('set', (topic, payload) => { persist.v = payload; print('set ' + payload) })`,
  )
  const env = await start(t, dir, new MemoryStore())
  await env.log.waitFor(printed('n=1 v=undefined'))
  await env.publish('set', 'hello')
  await env.log.waitFor(printed('set hello'))
  // At once, before the change was saved: the new version starts from the running one's state.
  assert.equal(await env.host.reload('a.js'), true)
  await env.log.waitFor(printed('n=2 v=hello'))
  const from = env.log.lines.length
  writeFileSync(join(dir, 'a.js'), `print('v2 n=' + persist.n + ' v=' + persist.v)`)
  await env.log.waitFor(printed('v2 n=2 v=hello'), 10_000, from)
})

test('persist survives a broker restart with a data directory (LMDB)', async (t) => {
  const scripts = tempDir(t, 'tinymqtt-persist-')
  const data = tempDir(t, 'tinymqtt-persist-data-')
  writeFileSync(
    join(scripts, 'counter.js'),
    `persist.starts = (persist.starts ?? 0) + 1
     print('starts=' + persist.starts + ' last=' + persist.last)
     ms_subscribe('set', (topic, payload) => { persist.last = payload; print('set ' + payload) })`,
  )
  const first = await start(t, scripts, await LmdbStore.open(data), { ownsStore: true })
  await first.log.waitFor(printed('starts=1 last=undefined'))
  await first.publish('set', 'before close')
  await first.log.waitFor(printed('set before close'))
  // Closed right away: the change is saved on the way out.
  await first.close()

  const second = await start(t, scripts, await LmdbStore.open(data), { ownsStore: true })
  await second.log.waitFor(printed('starts=2 last=before close'))
  await second.close()
})

test('persist survives a restart on the same MemoryStore, and is saved while the script runs', async (t) => {
  const dir = tempDir(t, 'tinymqtt-persist-')
  writeFileSync(
    join(dir, 'm.js'),
    `print('seen=' + JSON.stringify(persist.seen))
     ms_subscribe('see/+', (topic) => { persist.seen = [...(persist.seen ?? []), topic] })`,
  )
  const store = new MemoryStore()
  const first = await start(t, dir, store)
  await first.log.waitFor(printed('seen=undefined'))
  await first.publish('see/a', '1')
  await first.publish('see/b', '1')
  await first.log.waitFor(saved)
  assert.equal((await store.loadScriptStates()).get('m.js') !== undefined, true)
  await first.close()

  const second = await start(t, dir, store)
  await second.log.waitFor(printed('seen=["see/a","see/b"]'))
})

test('a persist above maxPersistBytes, or not serialisable, is logged and the saved one stays', async (t) => {
  const dir = tempDir(t, 'tinymqtt-persist-')
  writeFileSync(
    join(dir, 'big.js'),
    `print('blob=' + (persist.blob ?? '').length + ' self=' + (persist.self === undefined))
     ms_subscribe('size', (topic, payload) => { persist.blob = 'x'.repeat(Number(payload)) })
     ms_subscribe('cycle', () => { persist.self = persist })`,
  )
  const store = new MemoryStore()
  const first = await start(t, dir, store, { scripting: { maxPersistBytes: 1000 } })
  await first.log.waitFor(printed('blob=0 self=true'))
  await first.publish('size', '10')
  await first.log.waitFor(saved)
  const before = (await store.loadScriptStates()).get('big.js')
  assert.equal(before, JSON.stringify({ blob: 'x'.repeat(10) }))

  await first.publish('size', '2000')
  const tooBig = await first.log.waitFor((l) => l.level === 50 && /persist not saved/.test(l.msg ?? ''))
  assert.match(tooBig.msg ?? '', /2011 bytes/)
  assert.match(tooBig.msg ?? '', /1000/)
  assert.equal(tooBig.script, 'big.js')
  assert.equal((await store.loadScriptStates()).get('big.js'), before)

  await first.publish('size', '20')
  await first.log.waitFor((l) => saved(l) && l.bytes === 31)
  await first.publish('cycle', '')
  const cyclic = await first.log.waitFor((l) => l.level === 50 && /circular|cycle/i.test(l.msg ?? ''))
  assert.match(cyclic.msg ?? '', /persist not saved/)
  await first.close()
  assert.equal((await store.loadScriptStates()).get('big.js'), JSON.stringify({ blob: 'x'.repeat(20) }))

  const second = await start(t, dir, store)
  await second.log.waitFor(printed('blob=20 self=true'))
})

test('a deleted script keeps its state; a new file with its name gets it; reset-data clears it', async (t) => {
  const scripts = tempDir(t, 'tinymqtt-persist-')
  const data = tempDir(t, 'tinymqtt-persist-data-')
  const file = join(scripts, 'lamp.js')
  writeFileSync(
    file,
    `ms_subscribe('set', (topic, payload) => { persist.mode = payload; print('mode ' + payload) })`,
  )
  const env = await start(t, scripts, await LmdbStore.open(data), { ownsStore: true })
  await env.log.waitFor((l) => l.msg === 'script loaded')
  await env.publish('set', 'night')
  await env.log.waitFor(printed('mode night'))
  unlinkSync(file)
  await env.log.waitFor((l) => l.msg === 'script unloaded')
  const from = env.log.lines.length
  writeFileSync(file, `print('new lamp mode=' + persist.mode)`)
  await env.log.waitFor(printed('new lamp mode=night'), 10_000, from)
  unlinkSync(file)
  await env.log.waitFor((l) => l.msg === 'script unloaded', 5000, from)
  await env.close()

  // Still there after a restart with no lamp.js at all.
  writeFileSync(join(scripts, 'other.js'), `print('other')`)
  const restarted = await start(t, scripts, await LmdbStore.open(data), { ownsStore: true })
  await restarted.log.waitFor(printed('other'))
  await restarted.close()
  const store = await LmdbStore.open(data)
  assert.equal((await store.loadScriptStates()).get('lamp.js'), '{"mode":"night"}')
  await store.close()

  await resetDataDir(data)
  writeFileSync(file, `print('after reset mode=' + persist.mode)`)
  const reset = await start(t, scripts, await LmdbStore.open(data), { ownsStore: true })
  await reset.log.waitFor(printed('after reset mode=undefined'))
})

test('a CLI broker killed with SIGKILL after a change has it on restart', async (t) => {
  const cwd = tempDir(t, 'tinymqtt-persist-cli-')
  const script = join(cwd, 'remember.js')
  writeFileSync(
    script,
    `print('restored=' + persist.value)
     ms_subscribe('set', (topic, payload) => { persist.value = payload })`,
  )
  const port = await freePort()
  const data = join(cwd, 'data')
  const args = [
    '-p',
    String(port),
    '-H',
    '127.0.0.1',
    '--data',
    data,
    '--scripts',
    script,
    '--log-level',
    'debug',
  ]
  const run = () => {
    const {
      child,
      output: collected,
      exited,
    } = spawnCollecting(t, process.execPath, ['--import', TSX, CLI, ...args], REPO)
    const waitFor = (pattern: RegExp) =>
      withTimeout(
        new Promise<void>((resolve, reject) => {
          const timer = setInterval(() => {
            if (pattern.test(collected())) {
              clearInterval(timer)
              resolve()
            }
          }, 20)
          void exited.then(() => {
            clearInterval(timer)
            reject(new Error(`the CLI exited: ${collected()}`))
          })
        }),
        `${pattern} in the CLI's output`,
        20_000,
      )
    return { child, exited, waitFor, output: collected }
  }

  const first = run()
  await first.waitFor(/restored=undefined/)
  await first.waitFor(/listener started/)
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
  await client.publishAsync('set', 'survives kill -9', { qos: 1 })
  await first.waitFor(/persist saved/)
  // A QoS 1 retained publish is acknowledged only once every write before it is on disk.
  await client.publishAsync('sync', 'x', { qos: 1, retain: true })
  await client.endAsync(true)
  first.child.kill('SIGKILL')
  await first.exited

  const second = run()
  await second.waitFor(/restored=survives kill -9/)
  second.child.kill('SIGTERM')
  await second.exited
})
