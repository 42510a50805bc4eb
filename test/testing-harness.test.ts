// Black-box tests of tinymqtt/testing: scripts written to a temp folder, driven through the
// harness's public API only.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { getTimes } from 'suncalc'
import { type LoadedScript, type LoadScriptOptions, loadScript, ScriptLoadError } from '../src/testing.ts'
import { defined } from './defined.ts'

let dir: string
const open: LoadedScript[] = []

async function script(name: string, code: string, options: LoadScriptOptions = {}): Promise<LoadedScript> {
  await writeFile(join(dir, name), code)
  const s = await loadScript(join(dir, name), options)
  open.push(s)
  return s
}

const payloads = (s: LoadedScript) => s.take().map((m) => `${m.topic}=${m.payload}`)

describe('tinymqtt/testing', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tinymqtt-harness-'))
  })
  after(async () => {
    for (const s of open) await s.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('publish reaches matching subscriptions with MQTT wildcard and $ rules, synchronously', async () => {
    const s = await script(
      'routes.js',
      `ms_subscribe('home/+/temp', (t, p, m) => ms_publish('seen/plus', t + ' ' + p + ' ' + m.clientId + ' ' + m.qos))
       ms_subscribe('#', (t) => { if (!t.startsWith('seen/')) ms_publish('seen/hash', t) })
       ms_subscribe('$SYS/#', (t) => ms_publish('seen/sys', t))`,
    )
    s.publish('home/kitchen/temp', '21.5', { qos: 1 })
    assert.deepEqual(payloads(s).sort(), [
      'seen/hash=home/kitchen/temp',
      'seen/plus=home/kitchen/temp 21.5 test-client 1',
    ])
    s.publish('$SYS/broker/uptime', '5')
    assert.deepEqual(payloads(s), ['seen/sys=$SYS/broker/uptime'])
    s.publish('home/kitchen/humidity', '40', { clientId: undefined })
    assert.deepEqual(payloads(s), ['seen/hash=home/kitchen/humidity'])
    assert.throws(() => s.publish('home/+/temp', 'x'), /wildcard/)
  })

  it('retained messages reach a new subscription with retain set; live ones without', async () => {
    const s = await script(
      'retained.js',
      `ms_subscribe('dev/+/state', (t, p, m) => ms_publish('seen', t + '=' + p + ' retain=' + m.retain))`,
      { retained: { 'dev/a/state': 'ON' } },
    )
    assert.deepEqual(payloads(s), ['seen=dev/a/state=ON retain=true'])
    s.publish('dev/b/state', 'OFF', { retain: true })
    assert.deepEqual(payloads(s), ['seen=dev/b/state=OFF retain=false'])
    await s.reload()
    assert.deepEqual(payloads(s).sort(), [
      'seen=dev/a/state=ON retain=true',
      'seen=dev/b/state=OFF retain=true',
    ])
  })

  it("a script gets its own publishes, and ms_get sees the test's and the script's", async () => {
    const s = await script(
      'self.js',
      `ms_subscribe('count', (_t, p) => { if (Number(p) < 3) ms_publish('count', Number(p) + 1) })
       ms_subscribe('ask', (_t, p) => { const v = ms_get(p); ms_publish('answer', v ? v.payload + '@' + v.at : 'none') })`,
      { now: 1_000_000 },
    )
    s.publish('count', '0')
    assert.deepEqual(payloads(s), ['count=1', 'count=2', 'count=3'])
    s.publish('sensor/t', '20.5')
    s.publish('ask', 'sensor/t')
    s.publish('ask', 'count')
    s.publish('ask', 'never')
    assert.deepEqual(payloads(s), ['answer=20.5@1000000', 'answer=3@1000000', 'answer=none'])
    await s.advance('1s')
    s.publish('sensor/t', '21')
    assert.deepEqual(s.lastValue('sensor/t')?.payload, '21')
    assert.equal(s.lastValue('sensor/t')?.at, 1_001_000)
    assert.deepEqual(s.take(), [])
  })

  it('take() returns what was published, with bytes, qos and retain, and empties it', async () => {
    const s = await script('take.js', `ms_publish('a', { x: 1 }, { qos: 2, retain: true })`)
    const taken = s.take()
    assert.deepEqual(taken, [
      { topic: 'a', payload: '{"x":1}', bytes: new Uint8Array(Buffer.from('{"x":1}')), qos: 2, retain: true },
    ])
    assert.deepEqual(s.published, [])
  })

  it('advance fires timers in time order, with the clock (guest Date too) at each due time', async () => {
    const s = await script(
      'timers.js',
      `const log = (what) => ms_publish('t', what + '@' + (Date.now() - START) + '/' + (new Date().getTime() - START))
       const START = Date.now()
       setTimeout(() => log('b'), 2000)
       setTimeout(() => log('a'), 500)
       const i = setInterval(() => log('i'), 1000)
       setTimeout(() => clearInterval(i), 2500)
       ms_subscribe('now', () => ms_publish('time', new Date().toISOString()))`,
      { now: '2026-03-29T00:30:00Z' },
    )
    await s.advance('499ms')
    assert.deepEqual(payloads(s), [])
    await s.advance(1)
    assert.deepEqual(payloads(s), ['t=a@500/500'])
    await s.advance('1h30m')
    assert.deepEqual(payloads(s), ['t=i@1000/1000', 't=b@2000/2000', 't=i@2000/2000'])
    s.publish('now', '')
    assert.deepEqual(payloads(s), ['time=2026-03-29T02:00:00.500Z'])
    assert.equal(s.now, Date.parse('2026-03-29T02:00:00.500Z'))
    // Outside the script's calls the test's own clock is the real one.
    assert.ok(Math.abs(Date.now() - performance.timeOrigin - performance.now()) < 60_000)
    await assert.rejects(s.advance('soon'), /invalid duration 'soon'/)
  })

  it('a cron schedule fires at each due time with `at` equal to the time', async () => {
    const s = await script(
      'cron.js',
      `const id = ms_schedule('*/15 * * * *', (at) => ms_publish('run', String(at === Date.now()) + ' ' + new Date(at).toISOString()))
       ms_subscribe('next', () => ms_publish('next-run', new Date(ms_next(id)).toISOString()))`,
      { now: '2026-01-10T10:07:00Z' },
    )
    await s.advance('40m')
    assert.deepEqual(payloads(s), [
      'run=true 2026-01-10T10:15:00.000Z',
      'run=true 2026-01-10T10:30:00.000Z',
      'run=true 2026-01-10T10:45:00.000Z',
    ])
    s.publish('next', '')
    assert.deepEqual(payloads(s), ['next-run=2026-01-10T11:00:00.000Z'])
  })

  it('a sun schedule fires at the computed sunset, day after day, in summer and winter', async () => {
    const at = { latitude: 52.52, longitude: 13.4 }
    const s = await script(
      'sun.js',
      `ms_schedule('sunset', (at) => ms_publish('sunset', String(Date.now())))`,
      {
        now: '2026-06-20T12:00:00Z',
        ...at,
      },
    )
    await s.advance('2d')
    const expected = ['2026-06-20T12:00:00Z', '2026-06-21T12:00:00Z'].map((d) =>
      String(
        defined(
          getTimes(new Date(d), at.latitude, at.longitude).sunset,
          'getTimes(new Date(d), at.latitude, at.longitude).sunset',
        ).getTime(),
      ),
    )
    assert.deepEqual(
      s.take().map((m) => m.payload),
      expected,
    )
    const w = await script(
      'sun-winter.js',
      `ms_schedule('sunrise-30m', () => ms_publish('up', String(Date.now())))`,
      {
        now: '2026-12-21T00:00:00Z',
        ...at,
      },
    )
    await w.advance('1d')
    const sunrise = defined(
      getTimes(new Date('2026-12-21T12:00:00Z'), at.latitude, at.longitude).sunrise,
      "getTimes(new Date('2026-12-21T12:00:00Z'), at.latitude, at.longitude).sunrise",
    ).getTime()
    assert.deepEqual(
      w.take().map((m) => m.payload),
      [String(sunrise - 30 * 60_000)],
    )
  })

  it('persist is seeded, reflects the saved JSON, and survives a reload', async () => {
    const s = await script(
      'persist.js',
      `persist.n ??= 0
       ms_subscribe('inc', () => { persist.n++ })`,
      { persist: { n: 41, keep: 'x' } },
    )
    s.publish('inc', '')
    assert.deepEqual(s.persist, { n: 42, keep: 'x' })
    await s.reload()
    s.publish('inc', '')
    assert.deepEqual(s.persist, { n: 43, keep: 'x' })
    const fresh = await script('persist-fresh.js', `persist.a = 1`)
    assert.deepEqual(fresh.persist, { a: 1 })
  })

  it('print and console go to logs; thrown errors to logs and errors with file:line:column', async () => {
    const s = await script(
      'errors.js',
      `print('hello', { a: 1 })
       console.warn('careful')
       ms_subscribe('boom', () => {
         null.x
       })
       setTimeout(async () => { throw new Error('late') }, 10)`,
    )
    assert.deepEqual(s.logs, [
      { level: 'info', text: 'hello {"a":1}' },
      { level: 'warn', text: 'careful' },
    ])
    s.publish('boom', '')
    await s.advance(10)
    assert.equal(s.errors.length, 2)
    const [first, second] = s.errors
    assert.ok(first && second)
    assert.match(first.where, /^errors\.js:4:\d+$/)
    assert.match(first.message, /^TypeError: cannot read property 'x' of null/)
    assert.match(first.text, /error in ms_subscribe callback for boom/)
    assert.match(second.where, /^errors\.js:6:\d+$/)
    assert.equal(second.message, 'late')
    assert.deepEqual(
      s.logs.slice(2).map((l) => l.level),
      ['error', 'error'],
    )
  })

  it('an infinite loop in a callback is interrupted by the CPU limit and the script keeps running', async () => {
    const s = await script(
      'loop.js',
      `ms_subscribe('spin', () => { for (;;) {} })
       ms_subscribe('ping', () => ms_publish('pong', 'alive'))`,
      { limits: { cpuLimitMs: 100 } },
    )
    s.publish('spin', '')
    assert.equal(s.errors.length, 1)
    const [error] = s.errors
    assert.ok(error)
    assert.equal(error.limit, 'cpu')
    assert.match(error.where, /^loop\.js:1:\d+$/)
    assert.match(error.message, /interrupted: exceeded the CPU limit of 100 ms/)
    s.publish('ping', '')
    assert.deepEqual(payloads(s), ['pong=alive'])
  })

  it('other limits hold as in the broker: timers', async () => {
    const s = await script(
      'limits.js',
      `setTimeout(() => {}, 1000)
       setTimeout(() => {}, 1000)`,
      { limits: { maxTimers: 1 } },
    ).catch((e: unknown) => e)
    assert.ok(s instanceof ScriptLoadError)
    assert.match(s.message, /^limits\.js:2:\d+ RangeError: timer limit of 1 reached/)
  })

  it('ms_fetch: onFetch answers with a value or a promise; the rest waits for respond/fail or times out', async () => {
    const s = await script(
      'fetch.js',
      `ms_subscribe('get', async (_t, url) => {
         try {
           const r = await ms_fetch(url, { timeoutMs: 5000 })
           ms_publish('got', r.status + ' ' + r.text + ' ' + (r.headers['content-type'] || '-'))
         } catch (e) { ms_publish('failed', e.message) }
       })`,
    )
    s.onFetch((req) => {
      if (req.url.endsWith('/sync')) return { body: { ok: true } }
      if (req.url.endsWith('/async'))
        return new Promise((r) => setTimeout(() => r({ status: 201, body: 'made' }), 5))
      if (req.url.endsWith('/throws')) throw new Error('host unreachable')
      return undefined
    })
    await s.publish('get', 'http://api.test/sync')
    await s.publish('get', 'http://api.test/async')
    await s.publish('get', 'http://api.test/throws')
    assert.deepEqual(payloads(s), [
      'got=200 {"ok":true} application/json',
      'got=201 made -',
      'failed=ms_fetch GET http://api.test/throws failed: host unreachable',
    ])
    s.publish('get', 'http://api.test/later?token=secret')
    s.publish('get', 'http://api.test/never')
    s.publish('get', 'http://api.test/refused')
    const [later, never, refused] = s.fetches.slice(3)
    assert.ok(later && never && refused, 'three more fetches')
    assert.equal(later.state, 'pending')
    await later.respond({ status: 404, body: 'nope' })
    await refused.fail('connection refused')
    assert.deepEqual(payloads(s), [
      'got=404 nope -',
      'failed=ms_fetch GET http://api.test/refused failed: connection refused',
    ])
    assert.throws(() => later.respond({}), /is answered, it cannot be answered/)
    await s.advance('4999ms')
    assert.equal(never.state, 'pending')
    await s.advance('1ms')
    assert.equal(never.state, 'timed out')
    assert.deepEqual(payloads(s), ['failed=ms_fetch GET http://api.test/never: timed out after 5000 ms'])
  })

  it('a response above maxFetchBytes rejects, as in the broker', async () => {
    const s = await script(
      'big.js',
      `ms_fetch('http://api.test/big').then((r) => ms_publish('got', r.text), (e) => ms_publish('failed', e.message))`,
      { limits: { maxFetchBytes: 10 }, onFetch: () => ({ body: 'x'.repeat(11) }) },
    )
    await s.settle()
    assert.deepEqual(payloads(s), ['failed=ms_fetch GET http://api.test/big: response larger than 10 bytes'])
  })

  it('imports of ./lib modules work as in the broker', async () => {
    await mkdir(join(dir, 'lib'), { recursive: true })
    await writeFile(join(dir, 'lib', 'double.js'), `export const double = (x) => 2 * Number(x)\n`)
    const s = await script(
      'imports.js',
      `import { double } from './lib/double.js'
       ms_subscribe('n', (_t, p) => ms_publish('doubled', double(p)))`,
    )
    s.publish('n', '21')
    assert.deepEqual(payloads(s), ['doubled=42'])
    await writeFile(join(dir, 'lib', 'double.js'), `export const double = (x) => 3 * Number(x)\n`)
    await s.reload()
    s.publish('n', '21')
    assert.deepEqual(payloads(s), ['doubled=63'])
  })

  it('load errors reject with file:line:column; a broken reload keeps the old version running', async () => {
    await writeFile(join(dir, 'broken.js'), `ms_subscribe('a', () => {})\nthrow new Error('no')\n`)
    await assert.rejects(loadScript(join(dir, 'broken.js')), (e: unknown) => {
      assert.ok(e instanceof ScriptLoadError)
      assert.match(e.scriptError.where, /^broken\.js:2:\d+$/)
      return true
    })
    const s = await script(
      'reload.js',
      `ms_subscribe('ping', () => ms_publish('pong', 'v1'))
       export function deinit() { ms_publish('bye', 'v1') }`,
    )
    await writeFile(
      join(dir, 'reload.js'),
      `ms_subscribe('ping', () => ms_publish('pong', 'v2'))\nsyntax error here\n`,
    )
    await assert.rejects(s.reload(), /reload\.js:2:\d+ SyntaxError/)
    assert.equal(defined(s.errors.at(-1), 's.errors.at(-1)').where.startsWith('reload.js:2:'), true)
    s.publish('ping', '')
    assert.deepEqual(payloads(s), ['pong=v1'])
    await writeFile(join(dir, 'reload.js'), `ms_subscribe('ping', () => ms_publish('pong', 'v2'))\n`)
    await s.reload()
    assert.deepEqual(s.subscriptions, ['ping'])
    s.publish('ping', '')
    assert.deepEqual(payloads(s), ['bye=v1', 'pong=v2'])
  })

  it('close runs deinit and stops the script', async () => {
    const s = await script(
      'close.js',
      `setInterval(() => ms_publish('tick', ''), 1000)
       export function deinit() { ms_publish('bye', '') }`,
    )
    await s.close()
    assert.equal(s.running, false)
    assert.deepEqual(payloads(s), ['bye='])
    await s.advance('1m')
    s.publish('tick', '')
    assert.deepEqual(payloads(s), [])
  })
})
