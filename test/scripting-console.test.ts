// The dashboard console's engine: host.evaluate() runs an expression inside a running script,
// sees its module scope, persist and globals, and is bound by the script's limits.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { ConsoleReply } from '../src/scripting/index.ts'
import { nextMessage, type ScriptEnv, startEnv } from './scripting-helpers.ts'

const MIB = 1024 * 1024

const MAIN = `let count = 0
const seen = []
persist.boots = (persist.boots ?? 0) + 1
globalThis.mode = 'auto'
export function double(n) { return n * 2 }
function secret() { return 'inner' }
function boom() {
  throw new Error('kaput')
}
ms_subscribe('console/in', (t, p) => {
  count++
  seen.push(p)
  ms_publish('console/ack', String(count))
})
ms_subscribe('console/ping', (t, p) => ms_publish('console/pong', p))
`

function ok(reply: ConsoleReply): string {
  assert.ok(reply.ok, `expected a result, got ${JSON.stringify(reply)}`)
  return reply.result
}

function failed(reply: ConsoleReply): string {
  assert.ok(!reply.ok, `expected an error, got ${JSON.stringify(reply)}`)
  return reply.error
}

/** The script still answers messages: its VM and subscriptions survived. */
async function ping(env: ScriptEnv): Promise<void> {
  const c = await env.client()
  const token = Math.random().toString(36).slice(2)
  const pong = nextMessage(c, 'console/pong', (p) => p === token)
  await c.publishAsync('console/ping', token)
  await pong
}

describe('script console: host.evaluate()', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv(
      { 'main.js': MAIN, 'broken.js': 'ms_subscribe(\n' },
      // The soft CPU limit is checked; the hard one stays far away on a busy machine.
      { cpuLimitMs: 300, hardCpuLimitMs: 60_000 },
    )
    const c = await env.client()
    let acked = nextMessage(c, 'console/ack', (p) => p === '1')
    await c.publishAsync('console/in', 'a')
    await acked
    acked = nextMessage(c, 'console/ack', (p) => p === '2')
    await c.publishAsync('console/in', 'b')
    await acked
  })
  after(() => env.close())

  it("reads the script's module-scope variables, persist, globals, exports and functions", async () => {
    assert.equal(ok(await env.host.evaluate('main.js', 'count')), '2')
    assert.equal(ok(await env.host.evaluate('main.js', 'seen')), '["a","b"]')
    assert.equal(ok(await env.host.evaluate('main.js', 'persist.boots')), '1')
    assert.equal(ok(await env.host.evaluate('main.js', 'mode')), '"auto"')
    assert.equal(ok(await env.host.evaluate('main.js', 'double(count * 10)')), '40')
    assert.equal(ok(await env.host.evaluate('main.js', 'secret()')), '"inner"')
    assert.equal(ok(await env.host.evaluate('main.js', "ms_get('console/in').payload")), '"b"')
    assert.equal(ok(await env.host.evaluate('main.js', 'typeof nothingHere')), '"undefined"')
    assert.equal(ok(await env.host.evaluate('main.js', 'double')), '[Function double]')
    assert.equal(ok(await env.host.evaluate('main.js', 'await Promise.resolve(count + 1)')), '3')
    // A promise that settles in a later call into the script (a timer) is waited for.
    const later = 'await new Promise((resolve) => setTimeout(() => resolve(count * 3), 50))'
    assert.equal(ok(await env.host.evaluate('main.js', later)), '6')
  })

  it("assigns the script's own variables: the script sees the change", async () => {
    assert.equal(ok(await env.host.evaluate('main.js', 'count = 10; count')), '10')
    const c = await env.client()
    const acked = nextMessage(c, 'console/ack')
    await c.publishAsync('console/in', 'c')
    assert.equal((await acked).payload.toString(), '11')
    assert.equal(ok(await env.host.evaluate('main.js', 'seen.length')), '3')
  })

  it('a publish from the console reaches an MQTT client', async () => {
    const c = await env.client()
    // Subscribed before the expression runs: the publish comes from the script, not from `c`.
    await c.subscribeAsync('console/out')
    const got = nextMessage(c, 'console/out')
    const reply = await env.host.evaluate('main.js', "ms_publish('console/out', 'count=' + count)")
    assert.equal(ok(reply), 'undefined')
    assert.match((await got).payload.toString(), /^count=\d+$/)
  })

  it('errors read file:line:column message, in the expression or in the script', async () => {
    assert.match(
      failed(await env.host.evaluate('main.js', 'nosuch + 1')),
      /^console:1:1 ReferenceError: 'nosuch' is not defined/,
    )
    assert.match(failed(await env.host.evaluate('main.js', 'boom()')), /^main\.js:8:\d+ kaput$/)
    assert.match(failed(await env.host.evaluate('main.js', '1 +')), /^console:1:\d+ SyntaxError/)
    assert.match(
      failed(await env.host.evaluate('main.js', "await Promise.reject(new TypeError('no'))")),
      /^console:1:\d+ TypeError: no$/,
    )
  })

  it('a long result is cut at 10,000 characters', async () => {
    const result = ok(await env.host.evaluate('main.js', "'x'.repeat(50000)"))
    assert.ok(result.startsWith('"xxxx'))
    assert.match(result, /… \(40002 more characters\)$/)
    assert.equal(result.length, 10_000 + '… (40002 more characters)'.length)
  })

  it('awaits an ms_fetch made by the expression', async (t) => {
    const server = createServer((req, res) => res.end(`hello ${req.url}`))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/count`
    const expression = `(await ms_fetch('${url}')).text + ' ' + count`
    assert.match(ok(await env.host.evaluate('main.js', expression)), /^"hello \/count \d+"$/)
  })

  it('a reload while the console waits for a promise answers with an error', async () => {
    const waiting = env.host.evaluate('main.js', 'await new Promise(() => {})')
    // The evaluation is in the worker before the reload is asked for.
    assert.equal(ok(await env.host.evaluate('main.js', '1')), '1')
    await env.host.reload('main.js')
    assert.match(failed(await waiting), /main\.js stopped before the promise settled/)
    assert.equal(ok(await env.host.evaluate('main.js', 'count')), '0')
    const c = await env.client()
    const acked = nextMessage(c, 'console/ack', (p) => p === '1')
    await c.publishAsync('console/in', 'after reload')
    await acked
  })

  it('the CPU limit interrupts an endless loop; the script keeps running', async () => {
    const error = failed(await env.host.evaluate('main.js', 'while (true) {}'))
    assert.match(error, /^console:1:\d+ InternalError: interrupted: exceeded the CPU limit of 300 ms/)
    assert.match(ok(await env.host.evaluate('main.js', 'count')), /^\d+$/)
    await ping(env)
    assert.equal(env.host.scripts().find((s) => s.name === 'main.js')?.status, 'running')
  })

  it('an unknown script, or one that is not running, is an error', async () => {
    assert.match(failed(await env.host.evaluate('nope.js', '1')), /no script named nope\.js/)
    assert.match(failed(await env.host.evaluate('broken.js', '1')), /broken\.js is not running \(error\)/)
  })
})

describe('script console: memory limit', () => {
  let env: ScriptEnv
  before(async () => {
    // The CPU limits are out of reach, so that it is the memory limit that stops the loop.
    env = await startEnv(
      { 'main.js': MAIN },
      { memoryLimitBytes: 24 * MIB, cpuLimitMs: 600_000, hardCpuLimitMs: 1_200_000 },
    )
  })
  after(() => env.close())

  it('an expression that allocates without bound is aborted; the script keeps running', async () => {
    const error = failed(
      await env.host.evaluate(
        'main.js',
        "const keep = []; while (true) keep.push('x'.repeat(10000) + keep.length)",
      ),
    )
    assert.match(error, /out of memory: exceeded the memory limit of 25165824 bytes/)
    assert.equal(ok(await env.host.evaluate('main.js', 'count + 1')), '1')
    await ping(env)
  })
})
