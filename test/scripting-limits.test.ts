import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  collect,
  nextMessage,
  type ScriptEnv,
  sleep,
  startEnv,
  startTraffic,
  until,
} from './scripting-helpers.ts'

const MIB = 1024 * 1024
const RATE = 10
const CPU_LIMIT_MS = 2000
const BURST = 100

/** A script that answers pings, to show a script still works after it (or another) broke a limit. */
const pong = (name: string) => `ms_subscribe('${name}/ping', (t, p) => ms_publish('${name}/pong', p))\n`

async function ping(env: ScriptEnv, name: string): Promise<void> {
  const c = await env.client()
  const token = Math.random().toString(36).slice(2)
  const got = nextMessage(c, `${name}/pong`, (p) => p === token)
  await c.publishAsync(`${name}/ping`, token)
  await got
}

/**
 * The soft CPU limit is wall-clock time, so on a busy machine a loop that fills the heap or the
 * stack, or floods publishes, could be interrupted by it first. These scripts therefore run with
 * the CPU limits out of reach; the CPU limit is tested on its own below.
 */
const NO_CPU_LIMIT = { cpuLimitMs: 600_000, hardCpuLimitMs: 1_200_000 }

describe('scripting limits (soft: the call is aborted, the script keeps running)', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv(
      {
        'good.js': pong('good'),
        'hog.js': `${pong('hog')}
ms_subscribe('hog/go', () => {
  // Busy for a second first: long enough for MQTT traffic to show it is not held up, on any machine.
  const start = Date.now()
  while (Date.now() - start < 1000) {}
  const keep = []
  while (true) keep.push('x'.repeat(10000) + keep.length)
})
ms_subscribe('hog/big', () => {
  try { new Uint8Array(500 * 1024 * 1024); ms_publish('hog/out', 'allocated') } catch (e) { ms_publish('hog/out', 'refused') }
})
`,
        'deep.js': `${pong('deep')}
ms_subscribe('deep/go', () => {
  function f(n) { return f(n + 1) + 1 }
  f(0)
})
`,
        'mirror-a.js': `ms_subscribe('mirror/x', (t, p) => ms_publish('mirror/y', p))\n`,
        'mirror-b.js': `ms_subscribe('mirror/y', (t, p) => ms_publish('mirror/x', p))\n`,
        'flood.js': `ms_subscribe('flood/go', () => { for (let i = 0; i < 100000; i++) ms_publish('flood/out', String(i)) })\n`,
      },
      // A low sustained rate: the mirror loop outruns it (and so dies out) unless a round trip
      // takes over 100 ms, where 100/s needed one under 10 ms.
      { memoryLimitBytes: 24 * MIB, ...NO_CPU_LIMIT, publishRatePerSecond: RATE, publishBurst: BURST },
    )
  })
  after(() => env.close())

  it('memory: a script allocating without bound hits its own cap, the call fails, the broker carries on', async () => {
    const traffic = await startTraffic(env)
    const before = traffic.rounds()
    const c = await env.client()
    const from = env.log.lines.length
    await c.publishAsync('hog/go', '')
    const line = await env.log.waitFor(
      (l) => l.script === 'hog.js' && /out of memory/.test(String(l.msg)),
      undefined,
      from,
    )
    // With the heap full QuickJS may not manage to build the error's stack; then only the file is known.
    assert.match(String(line.msg), /^hog\.js(:\d+:\d+)? InternalError: out of memory/)
    assert.ok(traffic.rounds() > before, 'MQTT traffic kept flowing')
    const out = nextMessage(c, 'hog/out')
    await c.publishAsync('hog/big', '')
    assert.equal((await out).payload.toString(), 'refused')
    await ping(env, 'hog')
    await ping(env, 'good')
    await traffic.stop()
  })

  it('stack: unbounded recursion is stopped by the stack limit, not by crashing the process', async () => {
    const traffic = await startTraffic(env)
    const c = await env.client()
    const from = env.log.lines.length
    await c.publishAsync('deep/go', '')
    const line = await env.log.waitFor(
      (l) => l.script === 'deep.js' && /stack overflow/.test(String(l.msg)),
      undefined,
      from,
    )
    assert.match(String(line.msg), /^deep\.js\S* InternalError: stack overflow/)
    await ping(env, 'deep')
    await traffic.stop()
  })

  it('publish rate: two scripts mirroring each other are throttled, named in the log, and the loop dies out', async () => {
    const traffic = await startTraffic(env)
    const watcher = await env.client()
    const seen = await collect(watcher, 'mirror/#')
    const from = env.log.lines.length
    await watcher.publishAsync('mirror/x', 'ping-pong')
    const line = await env.log.waitFor((l) => /is throttled/.test(String(l.msg)), undefined, from)
    assert.match(String(line.script), /^mirror-[ab]\.js$/)
    assert.match(String(line.msg), /^mirror-[ab]\.js is throttled/)
    // Once a publish is dropped the chain breaks; the count settles instead of growing forever.
    // A live loop delivers a message every round trip, so a whole second without one means it
    // stopped (a round trip on a busy machine takes milliseconds, not a second).
    let last = -1
    while (seen.length !== last) {
      last = seen.length
      await sleep(1000)
    }
    await sleep(1000)
    assert.equal(seen.length, last)
    assert.ok(traffic.rounds() > 0)
    await traffic.stop()
  })

  it('publish rate: a tight publish loop delivers at most the burst plus the refill', async () => {
    const c = await env.client()
    const seen = await collect(c, 'flood/out')
    const started = Date.now()
    await c.publishAsync('flood/go', '')
    await env.log.waitFor((l) => l.script === 'flood.js' && /is throttled/.test(String(l.msg)))
    // The burst arrives however long that takes; the bound grows with the time measured.
    await until(() => seen.length >= BURST, `${BURST} messages of the burst`)
    await sleep(300)
    const elapsedSeconds = (Date.now() - started) / 1000
    assert.ok(seen.length >= BURST, `got ${seen.length}`)
    assert.ok(seen.length <= BURST + Math.ceil(RATE * elapsedSeconds), `got ${seen.length}`)
  })
})

describe('scripting limits (CPU: the call is interrupted, the script keeps running)', () => {
  let env: ScriptEnv
  before(async () => {
    // The hard stop is out of reach so a slow machine can't stop the script before the soft
    // limit's interrupt has been seen. Two seconds of spinning leave MQTT traffic ample time to
    // show it is not held up, however busy the machine.
    env = await startEnv(
      {
        'good.js': pong('good'),
        'spin.js': `${pong('spin')}
ms_subscribe('spin/go', () => {
  while (true) {}
})
`,
        'spin-top.js': 'for (;;) {}\n',
      },
      { cpuLimitMs: CPU_LIMIT_MS, hardCpuLimitMs: 600_000 },
    )
  })
  after(() => env.close())

  it('CPU: an endless loop in a callback is interrupted and logged; the script answers the next message', async () => {
    const traffic = await startTraffic(env)
    const before = traffic.rounds()
    const c = await env.client()
    const from = env.log.lines.length
    await c.publishAsync('spin/go', '')
    const line = await env.log.waitFor(
      (l) => l.script === 'spin.js' && /interrupted/.test(String(l.msg)),
      undefined,
      from,
    )
    assert.match(
      String(line.msg),
      /^spin\.js:\d+:\d+ InternalError: interrupted: exceeded the CPU limit of 2000 ms/,
    )
    assert.ok(traffic.rounds() > before, 'MQTT traffic kept flowing')
    await ping(env, 'spin')
    await ping(env, 'good')
    await traffic.stop()
  })

  it('CPU: an endless loop at top level fails the load with its location', async () => {
    await until(
      () => env.host.scripts().find((s) => s.name === 'spin-top.js')?.status === 'error',
      'load failure',
    )
    const status = env.host.scripts().find((s) => s.name === 'spin-top.js')
    assert.match(status?.error ?? '', /^spin-top\.js:1:\d+ InternalError: interrupted/)
  })
})

describe('scripting limits (hard stop: the watchdog restarts the VM worker without the script)', () => {
  let env: ScriptEnv
  before(async () => {
    // The interrupt deadline is set out of reach so only the watchdog can stop the loop.
    env = await startEnv(
      {
        'good.js': pong('good'),
        'stuck.js': `${pong('stuck')}ms_subscribe('stuck/go', () => { while (true) {} })\n`,
      },
      { cpuLimitMs: 600_000, hardCpuLimitMs: 2000 },
    )
  })
  after(() => env.close())

  it('terminates a call that ignores the interrupt, stops that script, restarts the others', async () => {
    const traffic = await startTraffic(env)
    const c = await env.client()
    await c.publishAsync('stuck/go', '')
    const before = traffic.rounds()
    const line = await env.log.waitFor((l) => l.script === 'stuck.js' && /hard CPU limit/.test(String(l.msg)))
    assert.match(String(line.msg), /stuck\.js stopped/)
    assert.ok(traffic.rounds() > before, 'MQTT traffic kept flowing while the script was stuck')
    await until(
      () => env.host.scripts().find((s) => s.name === 'good.js')?.status === 'running',
      'good.js back',
    )
    await ping(env, 'good')
    assert.equal(env.host.scripts().find((s) => s.name === 'stuck.js')?.status, 'stopped')
    // Saving the file again brings it back.
    await env.write('stuck.js', pong('stuck'))
    await until(
      () => env.host.scripts().find((s) => s.name === 'stuck.js')?.status === 'running',
      'stuck.js reloaded',
    )
    await ping(env, 'stuck')
    await traffic.stop()
  })
})
