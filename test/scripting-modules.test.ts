import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connectAsync, type MqttClient } from 'mqtt'
import { Broker } from '../src/broker/broker.ts'
import { type ScriptingHost, startScripting } from '../src/scripting/index.ts'
import { MemoryStore } from '../src/store/memory.ts'
import { collect, LogCapture, type ScriptEnv, sleep, startEnv } from './scripting-helpers.ts'

/** Pings until the script answers `expected` on `<name>/pong`. */
async function waitAnswer(
  client: MqttClient,
  name: string,
  expected: string,
  timeoutMs = 5000,
): Promise<void> {
  const replies = await collect(client, `${name}/pong`)
  const end = Date.now() + timeoutMs
  while (replies.at(-1)?.payload !== expected) {
    if (Date.now() > end)
      throw new Error(`${name} never answered ${expected}; got ${JSON.stringify(replies.slice(-3))}`)
    await client.publishAsync(`${name}/ping`, '')
    await sleep(25)
  }
}

const answering = (name: string, expression: string) =>
  `ms_subscribe('${name}/ping', () => ms_publish('${name}/pong', String(${expression})))\n`

const moduleC = (version: string) => `export function c() {\n  return '${version}'\n}\n`

describe('shared modules', () => {
  let env: ScriptEnv
  let client: MqttClient
  before(async () => {
    env = await startEnv({})
    await mkdir(join(env.dir, 'lib'))
    const files: Record<string, string> = {
      'lib/util.js': 'export const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x))\n',
      '_helpers.js': "export const greet = (s) => 'hello ' + s\nms_publish('helpers/ran', 'yes')\n",
      'lib/b.js': "import { c } from './c.js'\nexport const value = () => 'b+' + c()\n",
      'lib/c.js': moduleC('c1'),
      'util-user.js': `import { clamp } from './lib/util.js'\nimport { greet } from './_helpers.js'\n${answering('util', 'greet(clamp(15, 0, 10))')}`,
      'deep.js': `import { value } from './lib/b.js'\n${answering('deep', 'value()')}`,
      'direct.js': `import { c } from './lib/c.js'\n${answering('direct', 'c()')}`,
    }
    for (const [name, code] of Object.entries(files)) await env.write(name, code)
    client = await env.client()
    await waitAnswer(client, 'util', 'hello 10')
    await waitAnswer(client, 'deep', 'b+c1')
    await waitAnswer(client, 'direct', 'c1')
  })
  after(() => env.close())

  const reloads = (name: string, from: number) =>
    env.log.lines.slice(from).filter((l) => l.script === name && l.msg === 'script reloaded').length

  it('runs scripts that import modules; _ files and lib/ files are not scripts', async () => {
    assert.deepEqual(
      env.host
        .scripts()
        .map((s) => s.name)
        .sort(),
      ['deep.js', 'direct.js', 'util-user.js'],
    )
    for (const s of env.host.scripts()) assert.equal(s.status, 'running', `${s.name}: ${s.error}`)
    // The module's top level ran inside util-user.js's VM, as an import.
    assert.equal(env.log.lines.filter((l) => l.level >= 50).length, 0, env.log.tail())
  })

  it('a changed module reloads every script importing it, directly or not, and no other', async () => {
    const from = env.log.lines.length
    await env.write('lib/c.js', moduleC('c2'))
    await waitAnswer(client, 'deep', 'b+c2')
    await waitAnswer(client, 'direct', 'c2')
    await sleep(400) // past the debounce: a second or a stray reload would show
    assert.equal(reloads('deep.js', from), 1)
    assert.equal(reloads('direct.js', from), 1)
    assert.equal(reloads('util-user.js', from), 0)
  })

  it('rewriting a module with the same content reloads nothing', async () => {
    const from = env.log.lines.length
    await env.write('lib/c.js', moduleC('c2'))
    await sleep(500)
    assert.equal(reloads('deep.js', from), 0)
    assert.equal(reloads('direct.js', from), 0)
  })

  it('a broken module is logged as lib/c.js:line:column and the old versions keep running', async () => {
    const from = env.log.lines.length
    await env.write('lib/c.js', `${moduleC('c3')}const x = ;\n`)
    for (const script of ['deep.js', 'direct.js']) {
      const line = await env.log.waitFor((l) => l.script === script && l.level === 50, 5000, from)
      assert.match(String(line.msg), /^lib\/c\.js:4:11 SyntaxError: /)
      assert.match(String(line.msg), /previous version keeps running/)
      const status = env.host.scripts().find((s) => s.name === script)
      assert.equal(status?.status, 'running')
      assert.match(status?.error ?? '', /^lib\/c\.js:4:11 SyntaxError/)
    }
    await waitAnswer(client, 'deep', 'b+c2')
    await waitAnswer(client, 'direct', 'c2')
    // The fix loads.
    await env.write('lib/c.js', moduleC('c4'))
    await waitAnswer(client, 'deep', 'b+c4')
    await waitAnswer(client, 'direct', 'c4')
  })

  it('import() of a module works at run time', async () => {
    await env.write(
      'dynamic.js',
      "ms_subscribe('dynamic/ping', async () => {\n  const { clamp } = await import('./lib/util.js')\n  ms_publish('dynamic/pong', String(clamp(-5, 0, 10)))\n})\n",
    )
    await waitAnswer(client, 'dynamic', '0')
  })

  it('an error thrown inside a module at run time names the module', async () => {
    await env.write('lib/thrower.js', "export function boom() {\n  throw new Error('boom')\n}\n")
    await env.write(
      'throws.js',
      "import { boom } from './lib/thrower.js'\nms_subscribe('throws/go', () => boom())\n",
    )
    const from = env.log.lines.length
    await waitUntilRunning(env, 'throws.js')
    await client.publishAsync('throws/go', '')
    const line = await env.log.waitFor((l) => l.script === 'throws.js' && l.level === 50, 5000, from)
    assert.match(String(line.msg), /^lib\/thrower\.js:2:\d+ boom/)
  })
})

async function waitUntilRunning(env: ScriptEnv, name: string): Promise<void> {
  const end = Date.now() + 5000
  while (env.host.scripts().find((s) => s.name === name)?.status !== 'running') {
    if (Date.now() > end) throw new Error(`${name} never ran; ${env.log.tail()}`)
    await sleep(20)
  }
}

describe('imports that are not allowed or do not resolve', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv({
      'escape.js': "const a = 1\nimport { x } from '../outside.js'\n",
      'absolute.js': "const a = 1\nimport '/abs.js'\n",
      'bare.js': "const a = 1\nimport lodash from 'lodash'\n",
      'unresolved.js': "const a = 1\nimport { m } from './missing.js'\n",
      'nested.js': "import { y } from './_imports-missing.js'\n",
      '_imports-missing.js': "// a module\n\nexport { y } from './lib/nope.js'\n",
    })
  })
  after(() => env.close())

  const errorOf = (name: string) => env.host.scripts().find((s) => s.name === name)

  it('is a load error naming file:line:column of the import', () => {
    const expected: Record<string, RegExp> = {
      'escape.js': /^escape\.js:2:19 cannot import '\.\.\/outside\.js': it is outside the scripts folder/,
      'absolute.js': /^absolute\.js:2:8 cannot import '\/abs\.js': absolute paths are not allowed/,
      'bare.js': /^bare\.js:2:20 cannot import 'lodash': packages and built-in modules are not available/,
      'unresolved.js': /^unresolved\.js:2:19 cannot import '\.\/missing\.js': missing\.js not found/,
      'nested.js': /^_imports-missing\.js:3:19 cannot import '\.\/lib\/nope\.js': lib\/nope\.js not found/,
    }
    for (const [name, pattern] of Object.entries(expected)) {
      const status = errorOf(name)
      assert.equal(status?.status, 'error', name)
      assert.match(status?.error ?? '', pattern)
      assert.ok(
        env.log.lines.some((l) => l.script === name && l.level === 50 && pattern.test(String(l.msg))),
        `${name} logged: ${env.log.tail()}`,
      )
    }
  })

  it('a missing module that appears later loads the script', async () => {
    await mkdir(join(env.dir, 'lib'))
    await env.write('lib/nope.js', 'export const y = 1\n')
    await waitUntilRunning(env, 'nested.js')
  })
})

describe('a single script file (--scripts ./autoexec.js)', () => {
  let dir: string
  let broker: Broker
  let host: ScriptingHost
  let client: MqttClient
  const log = new LogCapture()
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tinymqtt-single-'))
    await mkdir(join(dir, 'lib'))
    await writeFile(join(dir, 'lib', 'u.js'), "export const u = 'u1'\n")
    await writeFile(join(dir, 'autoexec.js'), `import { u } from './lib/u.js'\n${answering('auto', 'u')}`)
    await writeFile(join(dir, 'other.js'), answering('other', "'other'"))
    broker = new Broker({ port: 0, host: '127.0.0.1', logger: log.logger, store: new MemoryStore() })
    await broker.start()
    host = await startScripting(broker, { path: join(dir, 'autoexec.js') })
    client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 })
  })
  after(async () => {
    await client.endAsync(true)
    await host.close()
    await broker.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('imports relative to its folder and reloads when a module changes', async () => {
    await waitAnswer(client, 'auto', 'u1')
    assert.deepEqual(
      host.scripts().map((s) => s.name),
      ['autoexec.js'],
    )
    await writeFile(join(dir, 'lib', 'u.js'), "export const u = 'u2'\n")
    await waitAnswer(client, 'auto', 'u2')
  })

  it('loads once a missing module is created', async () => {
    const from = log.lines.length
    await writeFile(
      join(dir, 'autoexec.js'),
      `import { late } from './lib/late.js'\n${answering('auto', 'late')}`,
    )
    const line = await log.waitFor((l) => l.script === 'autoexec.js' && l.level === 50, 5000, from)
    assert.match(
      String(line.msg),
      /^autoexec\.js:1:22 cannot import '\.\/lib\/late\.js': lib\/late\.js not found/,
    )
    await writeFile(join(dir, 'lib', 'late.js'), "export const late = 'late1'\n")
    await waitAnswer(client, 'auto', 'late1')
  })

  it('stays confined to its folder', async () => {
    const from = log.lines.length
    await writeFile(join(dir, 'autoexec.js'), "import '../autoexec.js'\n")
    const line = await log.waitFor((l) => l.script === 'autoexec.js' && l.level === 50, 5000, from)
    assert.match(String(line.msg), /^autoexec\.js:1:8 cannot import '\.\.\/autoexec\.js': it is outside/)
    await waitAnswer(client, 'auto', 'late1')
  })
})
