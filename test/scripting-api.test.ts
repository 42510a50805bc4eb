import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { defined } from './defined.ts'
import { collect, nextMessage, type ScriptEnv, sleep, startEnv, until } from './scripting-helpers.ts'

const scripts: Record<string, string> = {
  'echo.js': `
ms_subscribe('api/echo', (topic, payload, msg) => {
  ms_publish('api/echo/out', JSON.stringify({
    topic, payload, qos: msg.qos, retain: msg.retain, clientId: msg.clientId ?? null,
    bytes: Array.from(msg.bytes), isU8: msg.bytes instanceof Uint8Array,
  }))
})
ms_subscribe('api/wild/+/x', (t) => ms_publish('api/wild/out', 'plus:' + t))
ms_subscribe('api/hash/#', (t) => ms_publish('api/wild/out', 'hash:' + t))
ms_subscribe('#', (t) => { if (t.startsWith('$')) ms_publish('api/wild/out', 'leak:' + t) })
ms_subscribe('$test/#', (t) => ms_publish('api/wild/out', 'dollar:' + t))
ms_subscribe('api/dollar/go', () => ms_publish('$test/a', 'x'))
ms_subscribe('api/cross/go', () => ms_publish('api/cross', 'from-echo'))
ms_subscribe('api/types-go', () => {
  ms_publish('api/types/s', 'str')
  ms_publish('api/types/n', 42.5)
  ms_publish('api/types/b', true)
  ms_publish('api/types/u', new Uint8Array([0, 255, 1]))
  ms_publish('api/types/o', { a: 1, b: [2] })
  ms_publish('api/types/r', 'kept', { qos: 1, retain: true })
})
`,
  'other.js': `
ms_subscribe('api/cross', (t, p) => ms_publish('api/cross/out', 'other got ' + p))
`,
  'order.js': `
const order = []
ms_subscribe('api/order/a', () => { order.push('a-start'); ms_publish('api/order/b', ''); order.push('a-end') })
ms_subscribe('api/order/b', () => { order.push('b'); ms_publish('api/order/out', order.join(',')); order.length = 0 })
`,
  'late.js': `
ms_subscribe('api/late/go', () => {
  ms_subscribe('api/retained/#', (t, p, m) => ms_publish('api/late/out', t + '=' + p + ':' + m.retain))
})
`,
  'unsub.js': `
const id = ms_subscribe('api/unsub/in', (t, p) => ms_publish('api/unsub/out', p))
ms_subscribe('api/unsub/stop', () => ms_publish('api/unsub/out', 'stopped:' + ms_unsubscribe(id)))
`,
  'timers.js': `
ms_subscribe('api/timer/go', () => {
  let n = 0
  const t1 = setTimeout(() => ms_publish('api/timer/out', 'cancelled-fired'), 20)
  clearTimeout(t1)
  setTimeout((a) => ms_publish('api/timer/out', 'timeout:' + a), 10, 'arg')
  const iv = setInterval(() => { n++; if (n === 3) { clearInterval(iv); ms_publish('api/timer/out', 'interval:3') } }, 5)
})
`,
  'log.js': `print('hello', { a: 1 }, 7)
console.warn('careful')
console.error(new Error('shown'))
`,
  'sandbox.js': `
ms_subscribe('api/sandbox/go', () => ms_publish('api/sandbox/out', JSON.stringify([
  typeof require, typeof process, typeof std, typeof os, typeof fetch, typeof module, typeof host,
  typeof JSON, typeof Map, typeof Promise,
])))
`,
  'err.js': `// line 1
ms_subscribe('api/err/in', (t, p) => {
  if (p === 'bad') null.boom
  ms_publish('api/err/out', 'ok:' + p)
})
ms_subscribe('api/err/filter', () => {
  try { ms_subscribe('a/#/b', () => {}) } catch (e) { ms_publish('api/err/out', 'caught:' + e.message) }
})
setTimeout(() => { undefined.call() }, 1)
ms_subscribe('api/err/async', async (t, p) => {
  await null
  throw new RangeError('late ' + p)
})
`,
  'import-fs.mjs': `import * as fs from 'fs'
ms_publish('api/never', 'x')
`,
}

describe('scripting API', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv(scripts)
  })
  after(() => env.close())

  it('passes topic, full payload and msg {qos, retain, bytes, clientId} to the callback', async () => {
    const c = await env.client({ clientId: 'tester-1' })
    const long = 'x'.repeat(1000)
    const got = nextMessage(c, 'api/echo/out')
    await c.publishAsync('api/echo', long, { qos: 1 })
    const out = JSON.parse((await got).payload.toString())
    assert.equal(out.topic, 'api/echo')
    assert.equal(out.payload, long)
    assert.equal(out.qos, 1)
    assert.equal(out.retain, false)
    assert.equal(out.clientId, 'tester-1')
    assert.equal(out.isU8, true)
    assert.equal(out.bytes.length, 1000)
  })

  it('gives binary payloads byte-exact in msg.bytes', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'api/echo/out')
    await c.publishAsync('api/echo', Buffer.from([0, 1, 2, 0xff, 0xfe]))
    assert.deepEqual(JSON.parse((await got).payload.toString()).bytes, [0, 1, 2, 255, 254])
  })

  it('matches + and # wildcards and keeps $ topics away from a leading #', async () => {
    const c = await env.client()
    const got = await collect(c, 'api/wild/out')
    await c.publishAsync('api/wild/a/x', '')
    await c.publishAsync('api/wild/a/b/x', '')
    await c.publishAsync('api/hash/deep/er', '')
    await c.publishAsync('api/dollar/go', '')
    await until(() => got.some((m) => m.payload === 'dollar:$test/a'), '$ delivery')
    await c.publishAsync('api/hash', '')
    await until(() => got.some((m) => m.payload === 'hash:api/hash'), '# parent-level match')
    const payloads = got.map((m) => m.payload).sort()
    assert.deepEqual(payloads, [
      'dollar:$test/a',
      'hash:api/hash',
      'hash:api/hash/deep/er',
      'plus:api/wild/a/x',
    ])
  })

  it('sends string, number, boolean, Uint8Array and object payloads with qos/retain options', async () => {
    const c = await env.client()
    const got: Record<string, Buffer> = {}
    c.on('message', (t, p) => {
      got[t] = p
    })
    await c.subscribeAsync('api/types/#', { qos: 1 })
    await c.publishAsync('api/types-go', '')
    await until(() => Object.keys(got).length === 6, 'six payloads')
    assert.equal(defined(got['api/types/s'], "got['api/types/s']").toString(), 'str')
    assert.equal(defined(got['api/types/n'], "got['api/types/n']").toString(), '42.5')
    assert.equal(defined(got['api/types/b'], "got['api/types/b']").toString(), 'true')
    assert.deepEqual([...defined(got['api/types/u'], "got['api/types/u']")], [0, 255, 1])
    assert.deepEqual(JSON.parse(defined(got['api/types/o'], "got['api/types/o']").toString()), {
      a: 1,
      b: [2],
    })
    const late = await env.client()
    const retained = await nextMessage(late, 'api/types/r')
    assert.equal(retained.payload.toString(), 'kept')
    assert.equal(retained.retain, true)
  })

  it('delivers messages from other scripts and from the script itself', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'api/cross/out')
    await c.publishAsync('api/cross/go', '')
    assert.equal((await got).payload.toString(), 'other got from-echo')
  })

  it('delivers a publish made inside a callback only after the callback returns', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'api/order/out')
    await c.publishAsync('api/order/a', '')
    assert.equal((await got).payload.toString(), 'a-start,a-end,b')
  })

  it('delivers matching retained messages when a script subscribes', async () => {
    const c = await env.client()
    await c.publishAsync('api/retained/x', 'r1', { qos: 1, retain: true })
    const got = nextMessage(c, 'api/late/out')
    await c.publishAsync('api/late/go', '')
    assert.equal((await got).payload.toString(), 'api/retained/x=r1:true')
  })

  it('ms_unsubscribe stops delivery and reports whether the id existed', async () => {
    const c = await env.client()
    const got = await collect(c, 'api/unsub/out')
    await c.publishAsync('api/unsub/in', 'one')
    await c.publishAsync('api/unsub/stop', '')
    await c.publishAsync('api/unsub/in', 'two')
    await c.publishAsync('api/unsub/stop', '')
    await until(() => got.length === 3, 'three replies')
    assert.deepEqual(
      got.map((m) => m.payload),
      ['one', 'stopped:true', 'stopped:false'],
    )
  })

  it('runs setTimeout (with arguments) and setInterval, and clears them', async () => {
    const c = await env.client()
    const got = await collect(c, 'api/timer/out')
    await c.publishAsync('api/timer/go', '')
    await until(() => got.length === 2, 'timer output')
    // A cleared timer that still fired would have done so before the last live timer went:
    // wait for none to be left, then leave its publish ample time to arrive.
    await until(() => env.host.scripts().find((s) => s.name === 'timers.js')?.timers === 0, 'no timers left')
    await sleep(500)
    assert.deepEqual(got.map((m) => m.payload).sort(), ['interval:3', 'timeout:arg'])
  })

  it('sends print and console.* to the broker log tagged with the script file', async () => {
    const hello = await env.log.waitFor((l) => l.script === 'log.js' && l.msg === 'hello {"a":1} 7')
    assert.equal(hello.level, 30)
    const warn = await env.log.waitFor((l) => l.script === 'log.js' && l.msg === 'careful')
    assert.equal(warn.level, 40)
    const error = await env.log.waitFor(
      (l) => l.script === 'log.js' && String(l.msg).startsWith('Error: shown'),
    )
    assert.equal(error.level, 50)
  })

  it('exposes no require, process, module loader or host object', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'api/sandbox/out')
    await c.publishAsync('api/sandbox/go', '')
    assert.deepEqual(JSON.parse((await got).payload.toString()), [
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'object',
      'function',
      'function',
    ])
    const status = env.host.scripts().find((s) => s.name === 'import-fs.mjs')
    assert.equal(status?.status, 'error')
    assert.match(status?.error ?? '', /^import-fs\.mjs/)
  })

  it('logs callback and timer errors with file:line:column and keeps the script running', async () => {
    const timerError = await env.log.waitFor((l) => l.script === 'err.js' && /setTimeout/.test(String(l.msg)))
    assert.match(String(timerError.msg), /^err\.js:9:\d+ TypeError/)
    const c = await env.client()
    const got = await collect(c, 'api/err/out')
    await c.publishAsync('api/err/in', 'bad')
    const line = await env.log.waitFor((l) => l.script === 'err.js' && /api\/err\/in/.test(String(l.msg)))
    assert.match(String(line.msg), /^err\.js:3:\d+ TypeError: .*boom/)
    await c.publishAsync('api/err/in', 'good')
    await c.publishAsync('api/err/filter', '')
    await until(() => got.length === 2, 'replies after the error')
    assert.equal(defined(got[0], 'got[0]').payload, 'ok:good')
    assert.match(defined(got[1], 'got[1]').payload, /^caught:ms_subscribe: '#' must be/)
  })

  it('logs the rejection of an async callback with its location', async () => {
    const c = await env.client()
    await c.publishAsync('api/err/async', 'x')
    const line = await env.log.waitFor((l) => l.script === 'err.js' && /late x/.test(String(l.msg)))
    assert.match(
      String(line.msg),
      /^err\.js:12:\d+ RangeError: late x \(error in async ms_subscribe callback for api\/err\/async\)/,
    )
  })
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

describe('scripting API: broker settings', () => {
  let env: ScriptEnv
  let blocker: Server | undefined
  before(async () => {
    env = await startEnv({
      'settings.js': `
ms_subscribe('set/auth', (t, p) => { const [u, pw] = p.split(':'); ms_user(u); ms_pass(pw); ms_publish('set/done', 'auth') })
ms_subscribe('set/user', (t, p) => { ms_user(p); ms_publish('set/done', 'user') })
ms_subscribe('set/port', (t, p) => {
  try { ms_port(Number(p)); ms_publish('set/done', 'moved:' + p) } catch (e) { ms_publish('set/done', 'error:' + e.message) }
})
`,
    })
  })
  after(async () => {
    blocker?.close()
    await env.close()
  })

  it('ms_port moves the listener live (its current port is a no-op); a port that cannot be bound throws in the script and keeps the old one', async () => {
    const c = await env.client()
    const current = env.broker.port
    let done = nextMessage(c, 'set/done')
    await c.publishAsync('set/port', String(current))
    assert.equal((await done).payload.toString(), `moved:${current}`, 'the current port is accepted as is')
    const port = await freePort()
    done = nextMessage(c, 'set/done')
    await c.publishAsync('set/port', String(port))
    assert.equal((await done).payload.toString(), `moved:${port}`)
    assert.equal(env.broker.port, port)
    const moved = await env.client()
    const echo = nextMessage(moved, 'set/echo')
    await c.publishAsync('set/echo', 'still connected')
    assert.equal((await echo).payload.toString(), 'still connected')

    blocker = createServer()
    const taken = await new Promise<number>((resolve) => {
      defined(blocker, 'blocker').listen(0, '127.0.0.1', () => {
        const a = defined(blocker, 'blocker').address()
        resolve(typeof a === 'object' && a ? a.port : 0)
      })
    })
    done = nextMessage(c, 'set/done', (p) => p.startsWith('error:'))
    await c.publishAsync('set/port', String(taken))
    assert.match((await done).payload.toString(), /^error:ms_port: cannot listen on port \d+/)
    assert.equal(env.broker.port, port)
    await env.client()
  })

  it('ms_user / ms_pass set the single user for new connections; existing clients stay', async () => {
    const c = await env.client()
    const done = nextMessage(c, 'set/done', (p) => p === 'auth')
    await c.publishAsync('set/auth', 'admin:secret')
    await done
    await assert.rejects(env.client())
    await assert.rejects(env.client({ username: 'admin', password: 'wrong' }))
    const ok = await env.client({ username: 'admin', password: 'secret' })
    const echo = nextMessage(ok, 'set/echo2')
    await c.publishAsync('set/echo2', 'old client still publishes')
    assert.equal((await echo).payload.toString(), 'old client still publishes')
    // ms_user alone renames the user and keeps the password.
    const renamed = nextMessage(c, 'set/done', (p) => p === 'user')
    await c.publishAsync('set/user', 'root')
    await renamed
    await assert.rejects(env.client({ username: 'admin', password: 'secret' }))
    await env.client({ username: 'root', password: 'secret' })
  })
})
