// `tinymqtt test [path]`, run through the CLI (from source) as a user would.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Broker } from '../src/broker/broker.ts'
import { createLogger } from '../src/log.ts'
import { startScripting } from '../src/scripting/index.ts'
import { MemoryStore } from '../src/store/memory.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')

function runCli(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, out }))
  })
}

const passing = `import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'
test('echo answers', async () => {
  const s = await loadScript(new URL('./echo.js', import.meta.url).pathname)
  s.publish('ping', 'x')
  assert.deepEqual(s.take().map((m) => m.payload), ['x'])
  await s.close()
})
`
const failing = `import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'
test('echo answers twice', async () => {
  const s = await loadScript(new URL('../echo.js', import.meta.url).pathname)
  s.publish('ping', 'x')
  assert.deepEqual(s.take().map((m) => m.payload), ['x', 'x'])
})
`
const bomb = `import { test } from 'node:test'\ntest('must never run', () => { throw new Error('ran') })\n`

async function scriptsFolder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-test-cmd-'))
  for (const [name, code] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), code)
  }
  return dir
}

describe('tinymqtt test', () => {
  it('runs the examples tests and passes', async () => {
    const { code, out } = await runCli(['test', 'examples'], ROOT)
    assert.equal(code, 0, out)
    for (const name of [
      'relay 2 of the Tasmota device switches the OpenBeken device the same way',
      'TIMER switches the light on, and off when the time is up',
      'the porch light goes on at sunset, not before',
      'without the broker location it says so and schedules nothing',
      'a finished wash is published, counted in persist and announced over HTTP',
    ]) {
      assert.match(out, new RegExp(`✔ ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    }
  })

  it('finds tests in subfolders, skips node_modules and hidden folders, and fails on a failure', async () => {
    const dir = await scriptsFolder({
      'package.json': '{ "type": "module" }\n',
      'echo.js': `ms_subscribe('ping', (_t, p) => ms_publish('pong', p))\n`,
      'echo.test.js': passing,
      'more/echo.test.mjs': failing,
      'node_modules/pkg/x.test.js': bomb,
      '.hidden/x.test.js': bomb,
    })
    try {
      const { code, out } = await runCli(['test'], dir)
      assert.equal(code, 1, out)
      assert.match(out, /✔ echo answers \(/)
      assert.match(out, /✖ echo answers twice/)
      assert.match(out, /expected: \[ 'x', 'x' \]/)
      assert.match(out, /more\/echo\.test\.mjs/)
      assert.doesNotMatch(out, /must never run/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('defaults to the --scripts folder, and says so when there is no test', async () => {
    const dir = await scriptsFolder({ 'package.json': '{ "type": "module" }\n', 'scripts/echo.js': '' })
    try {
      const none = await runCli(['--scripts', 'scripts', 'test'], dir)
      assert.equal(none.code, 1)
      assert.match(none.out, /no \*\.test\.js or \*\.test\.mjs files under scripts/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the broker never loads test files as scripts', async () => {
    const dir = await scriptsFolder({
      'echo.js': `ms_subscribe('ping', (_t, p) => ms_publish('pong', p))\n`,
      'echo.test.js': bomb,
      'other.test.mjs': bomb,
    })
    const broker = new Broker({
      port: 0,
      host: '127.0.0.1',
      logger: createLogger('silent'),
      store: new MemoryStore(),
    })
    await broker.start()
    try {
      const host = await startScripting(broker, { path: dir, watch: false })
      assert.deepEqual(
        host.scripts().map((s) => s.name),
        ['echo.js'],
      )
      await host.close()
      const single = await startScripting(broker, { path: join(dir, 'echo.test.js'), watch: false })
      assert.deepEqual(single.scripts(), [])
      await single.close()
    } finally {
      await broker.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
