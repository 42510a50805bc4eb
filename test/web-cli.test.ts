// Issue 7, point 1: `--http <port>` on the command line and `"http"` in the config file start
// the dashboard on the broker's bind address; without them there is none.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { readConfigFile } from '../src/config.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')
/** Starting node with tsx takes a while on a busy 2-core machine: a failure guard only. */
const START_TIMEOUT = 30_000

test('tinymqtt --http 0 serves the dashboard and logs its port', async (t) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, '--memory', '--port', '0', '--host', '127.0.0.1', '--http', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  )
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  // stdout is a pipe, so pino writes JSON lines.
  const listening = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no "dashboard listening" line')), START_TIMEOUT)
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      for (const line of out.split('\n')) {
        if (!line.includes('dashboard listening')) continue
        clearTimeout(timer)
        resolve(JSON.parse(line) as { host: string; port: number })
      }
    })
    child.once('exit', (code) => reject(new Error(`CLI exited with ${code}`)))
  })
  assert.equal(listening.host, '127.0.0.1')
  const page = await fetch(`http://127.0.0.1:${listening.port}/`)
  assert.equal(page.status, 200)
  assert.match(await page.text(), /<title>tinymqtt dashboard<\/title>/)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

test('the config file accepts "http" as a port', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-web-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  await writeFile(file, JSON.stringify({ http: 8080 }))
  assert.deepEqual(await readConfigFile(file), { http: 8080 })
  await writeFile(file, JSON.stringify({ http: 'yes' }))
  await assert.rejects(readConfigFile(file), /"http" must be a non-negative integer/)
})
