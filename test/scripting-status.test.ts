// Issue 7, point 5: a script's status says when it is throttled or over a limit — in the
// scripting host's scripts() and in the dashboard's Scripts view — and goes back to running
// once the script behaves. Black-box: scripts misbehave over MQTT, status is read from outside.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ScriptState, ScriptStatus } from '../src/scripting/index.ts'
import type { ScriptsView } from '../src/web/index.ts'
import { startWeb } from '../src/web/index.ts'
import { nextMessage, type ScriptEnv, startEnv, startTraffic, until } from './scripting-helpers.ts'

const MIB = 1024 * 1024
/**
 * Well above the once-a-second throttle report, so a script that keeps flooding stays throttled;
 * and long enough that a busy machine still reads a limit hit in both places before it clears.
 */
const STATUS_HOLD_MS = 5000
/** Wall-clock: two seconds of a spinning script leave MQTT traffic ample time to show it still flows. */
const CPU_LIMIT_MS = 2000

const pong = (name: string) => `ms_subscribe('${name}/ping', (t, p) => ms_publish('${name}/pong', p))\n`

/** The Scripts view as the page gets it: JSON, so dates are strings. */
type ScriptRow = Omit<ScriptStatus, 'limit' | 'throttled' | 'lastReload'> & {
  limit?: { kind: string; at: string; message: string; where?: string }
  throttled?: { at: string; dropped: number; message: string }
}

interface Env extends ScriptEnv {
  status(name: string): ScriptStatus | undefined
  /** Polls the dashboard's /api/view/scripts until the script's row passes `accept`. */
  viewRow(name: string, accept: (row: ScriptRow) => boolean, what: string): Promise<ScriptRow>
  ping(name: string): Promise<void>
}

async function startStatusEnv(files: Record<string, string>, options: Parameters<typeof startEnv>[1]) {
  const env = await startEnv(files, { statusHoldMs: STATUS_HOLD_MS, ...options })
  const web = await startWeb(env.broker, { port: 0, host: '127.0.0.1', scripting: env.host })
  const result: Env = Object.assign(env, {
    status: (name: string) => env.host.scripts().find((s) => s.name === name),
    async viewRow(name: string, accept: (row: ScriptRow) => boolean, what: string) {
      const deadline = Date.now() + 30_000
      let last: ScriptRow | undefined
      while (Date.now() < deadline) {
        const res = await fetch(`http://127.0.0.1:${web.port}/api/view/scripts`)
        const view = (await res.json()) as Omit<ScriptsView, 'scripts'> & { scripts: ScriptRow[] }
        last = view.scripts.find((s) => s.name === name)
        if (last && accept(last)) return last
        await new Promise((r) => setTimeout(r, 25))
      }
      throw new Error(`timed out waiting for ${what} in the Scripts view; last: ${JSON.stringify(last)}`)
    },
    async ping(name: string) {
      const c = await env.client()
      const token = Math.random().toString(36).slice(2)
      const got = nextMessage(c, `${name}/pong`, (p) => p === token)
      await c.publishAsync(`${name}/ping`, token)
      await got
    },
  })
  return result
}

const statusIs = (env: Env, name: string, state: ScriptState) =>
  until(() => env.status(name)?.status === state, `${name} ${state}`, 30_000)

describe('script status: throttled and over a limit', () => {
  let env: Env
  before(async () => {
    env = await startStatusEnv(
      {
        'good.js': pong('good'),
        // Floods from a timer while switched on, so the throttling lasts as long as the test wants.
        'flood.js': `${pong('flood')}let on = false
ms_subscribe('flood/on', () => { on = true })
ms_subscribe('flood/off', () => { on = false })
setInterval(() => { if (on) for (let i = 0; i < 200; i++) ms_publish('flood/out', String(i)) }, 20)
`,
        'hog.js': `${pong('hog')}ms_subscribe('hog/go', () => {
  // Busy for a second first: long enough for MQTT traffic to show it is not held up, on any machine.
  const start = Date.now()
  while (Date.now() - start < 1000) {}
  const keep = []
  while (true) keep.push('x'.repeat(10000) + keep.length)
})
`,
        'deep.js': `${pong('deep')}ms_subscribe('deep/go', () => {
  function f(n) { return f(n + 1) + 1 }
  f(0)
})
`,
      },
      // The CPU limits (wall-clock) are out of reach, so filling the heap or the stack is never
      // cut short by them on a slow machine.
      {
        memoryLimitBytes: 24 * MIB,
        cpuLimitMs: 600_000,
        hardCpuLimitMs: 1_200_000,
        publishRatePerSecond: 100,
        publishBurst: 100,
      },
    )
  })
  after(() => env.close())

  it('a script flooding ms_publish shows throttled, then running again once it stops', async () => {
    assert.equal(env.status('flood.js')?.status, 'running')
    assert.equal(env.status('flood.js')?.throttled, undefined)
    const c = await env.client()
    await c.publishAsync('flood/on', '')
    await statusIs(env, 'flood.js', 'throttled')
    const throttled = env.status('flood.js')?.throttled
    assert.ok(throttled !== undefined && throttled.dropped > 0, JSON.stringify(throttled))
    assert.match(throttled.message, /^ms_publish above 100\/s, dropped \d+ publishes$/)
    assert.ok(throttled.at instanceof Date)
    const row = await env.viewRow('flood.js', (r) => r.status === 'throttled', 'throttled')
    assert.match(row.throttled?.message ?? '', /ms_publish above 100\/s/)
    // The other scripts are not touched by one script's throttling.
    assert.equal(env.status('good.js')?.status, 'running')
    await env.ping('good')

    await c.publishAsync('flood/off', '')
    await statusIs(env, 'flood.js', 'running')
    await env.viewRow('flood.js', (r) => r.status === 'running', 'running again')
    await env.ping('flood')
  })

  it('a callback allocating without bound shows over-limit (memory); MQTT keeps flowing', async () => {
    const traffic = await startTraffic(env)
    const before = traffic.rounds()
    const c = await env.client()
    await c.publishAsync('hog/go', '')
    await statusIs(env, 'hog.js', 'over-limit')
    const limit = env.status('hog.js')?.limit
    assert.equal(limit?.kind, 'memory')
    assert.match(limit?.message ?? '', /^InternalError: out of memory/)
    const row = await env.viewRow('hog.js', (r) => r.status === 'over-limit', 'over-limit')
    assert.equal(row.limit?.kind, 'memory')
    assert.ok(traffic.rounds() > before, 'MQTT traffic kept flowing')
    await env.ping('hog')
    await env.ping('good')
    await traffic.stop()
  })

  it('unbounded recursion shows over-limit (stack)', async () => {
    const c = await env.client()
    await c.publishAsync('deep/go', '')
    await statusIs(env, 'deep.js', 'over-limit')
    assert.equal(env.status('deep.js')?.limit?.kind, 'stack')
    await env.ping('deep')
  })
})

describe('script status: over the CPU limit', () => {
  let env: Env
  before(async () => {
    // The hard stop is out of reach, so only the soft limit's interrupt ends the loop.
    env = await startStatusEnv(
      {
        'good.js': pong('good'),
        'spin.js': `${pong('spin')}ms_subscribe('spin/go', () => { while (true) {} })\n`,
      },
      { cpuLimitMs: CPU_LIMIT_MS, hardCpuLimitMs: 600_000 },
    )
  })
  after(() => env.close())

  it('an endless loop in a callback shows over-limit (cpu) with its location; MQTT keeps flowing', async () => {
    const traffic = await startTraffic(env)
    const before = traffic.rounds()
    const c = await env.client()
    await c.publishAsync('spin/go', '')
    await statusIs(env, 'spin.js', 'over-limit')
    const limit = env.status('spin.js')?.limit
    assert.equal(limit?.kind, 'cpu')
    assert.match(limit?.where ?? '', /^spin\.js:\d+:\d+$/)
    assert.match(limit?.message ?? '', /^InternalError: interrupted: exceeded the CPU limit of 2000 ms/)
    const row = await env.viewRow('spin.js', (r) => r.status === 'over-limit', 'over-limit')
    assert.equal(row.limit?.kind, 'cpu')
    assert.ok(traffic.rounds() > before, 'MQTT traffic kept flowing')
    await env.ping('spin')
    await traffic.stop()
    // After the hold it is running again; the last limit hit stays on record.
    await statusIs(env, 'spin.js', 'running')
    assert.equal(env.status('spin.js')?.limit?.kind, 'cpu')
  })
})

describe('script status: hard stop', () => {
  let env: Env
  before(async () => {
    // The interrupt deadline is out of reach, so only the watchdog can stop the loop.
    env = await startStatusEnv(
      {
        'good.js': pong('good'),
        'stuck.js': `${pong('stuck')}ms_subscribe('stuck/go', () => { while (true) {} })\n`,
      },
      { cpuLimitMs: 600_000, hardCpuLimitMs: 2000 },
    )
  })
  after(() => env.close())

  it('a script stopped by the watchdog says it went over the hard CPU limit, until it is saved again', async () => {
    const c = await env.client()
    await c.publishAsync('stuck/go', '')
    await statusIs(env, 'stuck.js', 'stopped')
    const status = env.status('stuck.js')
    assert.equal(status?.limit?.kind, 'hard-cpu')
    assert.match(status?.limit?.message ?? '', /hard CPU limit of 2000 ms/)
    assert.match(status?.error ?? '', /hard CPU limit/)
    const row = await env.viewRow('stuck.js', (r) => r.status === 'stopped', 'stopped')
    assert.equal(row.limit?.kind, 'hard-cpu')
    await statusIs(env, 'good.js', 'running')
    await env.ping('good')
    await env.write('stuck.js', pong('stuck'))
    await statusIs(env, 'stuck.js', 'running')
    assert.equal(env.status('stuck.js')?.limit, undefined)
    await env.ping('stuck')
  })
})
