// The dashboard's script file API: read, save against the version read (409 when the file
// changed on disk), create, rename, delete; names confined to the scripts folder; the access
// rules (own password or loopback, Host check against DNS rebinding); a log line per change.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import WebSocket from 'ws'
import { readConfigFile } from '../src/config.ts'
import { webOf } from '../src/index.ts'
import type { ScriptsView } from '../src/web/index.ts'
import { defined } from './defined.ts'
import { listen, pingReply, startWebEnv, type WebEnv } from './web-helpers.ts'

const PING = (reply: string): string => `ms_subscribe('ping', () => ms_publish('pong', '${reply}'))\n`

interface FileAnswer {
  name: string
  content: string
  version: string
}
interface Outcome {
  version?: string
  scripts: { name: string; status: string; error?: string }[]
  problems: { script: string; file?: string; line?: number; column?: number; message: string }[]
}

/** A logger whose lines the test can read. */
function capturedLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

async function getJson<T>(env: WebEnv, path: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${env.base}${path}`, {
    headers: { ...(env.auth === undefined ? {} : { authorization: env.auth }), ...headers },
  })
  assert.equal(res.status, 200, `GET ${path}: ${res.status} ${await res.clone().text()}`)
  return (await res.json()) as T
}

/** A raw request with any Host header (fetch would send the real one). */
function rawGet(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

function wsStatus(port: number, host: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host } })
    ws.on('open', () => {
      ws.terminate()
      resolve('open')
    })
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error)
    })
  })
}

test('loopback dashboard: read, save, 409 on a disk change, create, rename, delete, a log line each', async (t) => {
  const { logger, lines } = capturedLogger()
  const env = await startWebEnv(t, { files: { 'ping.js': PING('v1') }, logger })
  const client = await env.client()
  assert.equal(await pingReply(client), 'v1')

  const view = await env.view<ScriptsView>('scripts')
  assert.deepEqual(view.editing, { allowed: true })
  const list = await getJson<{ files: { name: string; script: boolean }[]; editing: { allowed: boolean } }>(
    env,
    '/api/scripts/files',
  )
  assert.deepEqual(list.files, [{ name: 'ping.js', script: true }])
  assert.equal(list.editing.allowed, true)

  const read = await getJson<FileAnswer>(env, '/api/scripts/file?name=ping.js')
  assert.equal(read.content, PING('v1'))

  const saved = await env.post('/api/scripts/save', {
    name: 'ping.js',
    content: PING('v2'),
    base: read.version,
  })
  assert.equal(saved.status, 200)
  const outcome = (await saved.json()) as Outcome
  assert.notEqual(outcome.version, read.version)
  assert.deepEqual(outcome.problems, [])
  assert.equal(outcome.scripts[0]?.status, 'running')
  // The answer comes once the new version runs.
  assert.equal(await pingReply(client), 'v2')
  const file = defined(view.scripts[0], 'view.scripts[0]').file
  assert.equal(await readFile(file, 'utf8'), PING('v2'))

  // Changed on disk since the editor read it: refused, with what is on disk.
  await writeFile(file, PING('disk'))
  const stale = await env.post('/api/scripts/save', {
    name: 'ping.js',
    content: PING('v3'),
    base: outcome.version,
  })
  assert.equal(stale.status, 409)
  const conflict = (await stale.json()) as { version: string; content: string; error: string }
  assert.equal(conflict.content, PING('disk'))
  assert.equal(await readFile(file, 'utf8'), PING('disk'))
  const again = await env.post('/api/scripts/save', {
    name: 'ping.js',
    content: PING('v3'),
    base: conflict.version,
  })
  assert.equal(again.status, 200)
  assert.equal(await pingReply(client), 'v3')

  const created = await env.post('/api/scripts/create', {
    name: 'hello.js',
    content: "ms_subscribe('hi', () => ms_publish('hello', 'there'))\n",
  })
  assert.equal(created.status, 200)
  assert.equal(((await created.json()) as Outcome).scripts[0]?.status, 'running')
  const hello = await listen(client, 'hello')
  await client.publishAsync('hi', '')
  assert.equal((await hello.next).payload, 'there')
  assert.equal((await env.post('/api/scripts/create', { name: 'hello.js', content: '' })).status, 409)

  const renamed = await env.post('/api/scripts/rename', { from: 'hello.js', to: 'greet.js' })
  assert.equal(renamed.status, 200)
  const names = (s: ScriptsView): string[] => s.scripts.map((x) => x.name).sort()
  assert.deepEqual(names(await env.view<ScriptsView>('scripts')), ['greet.js', 'ping.js'])
  assert.equal((await env.post('/api/scripts/rename', { from: 'greet.js', to: 'ping.js' })).status, 409)

  assert.equal((await env.post('/api/scripts/delete', { name: 'greet.js' })).status, 200)
  assert.deepEqual(names(await env.view<ScriptsView>('scripts')), ['ping.js'])
  assert.equal((await env.post('/api/scripts/delete', { name: 'greet.js' })).status, 404)

  const changes = lines.filter((l) => l.component === 'dashboard' && typeof l.action === 'string')
  assert.deepEqual(
    changes.map((l) => [l.action, l.file, l.user, l.address]),
    [
      ['save', 'ping.js', 'anonymous', '127.0.0.1'],
      ['save', 'ping.js', 'anonymous', '127.0.0.1'],
      ['create', 'hello.js', 'anonymous', '127.0.0.1'],
      ['rename', 'hello.js -> greet.js', 'anonymous', '127.0.0.1'],
      ['delete', 'greet.js', 'anonymous', '127.0.0.1'],
    ],
  )
})

test('a load error comes back with its line and column, and the old version keeps answering', async (t) => {
  const env = await startWebEnv(t, { files: { 'ping.js': PING('old') } })
  const client = await env.client()
  const read = await getJson<FileAnswer>(env, '/api/scripts/file?name=ping.js')
  const broken = "ms_subscribe('ping', () => {\n  ms_publish('pong', 'new'\n})\n"
  const res = await env.post('/api/scripts/save', { name: 'ping.js', content: broken, base: read.version })
  assert.equal(res.status, 200)
  const outcome = (await res.json()) as Outcome
  assert.equal(outcome.problems.length, 1)
  const problem = defined(outcome.problems[0], 'outcome.problems[0]')
  assert.equal(problem.file, 'ping.js')
  assert.equal(problem.line, 3)
  assert.ok((problem.column ?? 0) >= 1)
  assert.match(problem.message, /SyntaxError/)
  assert.equal(outcome.scripts[0]?.status, 'running')
  assert.equal(await pingReply(client), 'old')
})

test('a module in lib/ is saved and the script importing it reloads', async (t) => {
  const env = await startWebEnv(t, {
    files: {
      'main.js':
        "import { reply } from './lib/reply.js'\nms_subscribe('ping', () => ms_publish('pong', reply))\n",
    },
  })
  const created = await env.post('/api/scripts/create', {
    name: 'lib/reply.js',
    content: "export const reply = 'a'\n",
  })
  assert.equal(created.status, 200)
  // The script that failed for want of the module loads with it.
  assert.deepEqual(
    ((await created.json()) as Outcome).scripts.map((s) => [s.name, s.status]),
    [['main.js', 'running']],
  )
  const client = await env.client()
  assert.equal(await pingReply(client), 'a')
  const read = await getJson<FileAnswer>(env, '/api/scripts/file?name=lib%2Freply.js')
  const saved = await env.post('/api/scripts/save', {
    name: 'lib/reply.js',
    content: "export const reply = 'b'\n",
    base: read.version,
  })
  const outcome = (await saved.json()) as Outcome
  assert.deepEqual(
    outcome.scripts.map((s) => [s.name, s.status]),
    [['main.js', 'running']],
  )
  assert.equal(await pingReply(client), 'b')
  const list = await getJson<{ files: { name: string; script: boolean }[] }>(env, '/api/scripts/files')
  assert.deepEqual(list.files, [
    { name: 'lib/reply.js', script: false },
    { name: 'main.js', script: true },
  ])
})

test('names outside the scripts folder, hidden or not .js/.mjs are refused', async (t) => {
  const env = await startWebEnv(t, { files: { 'ping.js': PING('v1') } })
  for (const name of [
    '../escape.js',
    'lib/../../escape.js',
    '/etc/passwd',
    '/tmp/x.js',
    'notes.txt',
    '.hidden.js',
    'lib/.hidden.js',
    'lib\\x.js',
    'node_modules/x.js',
    'a/b/c/d/e.js',
    '',
    42,
  ]) {
    const res = await env.post('/api/scripts/create', { name, content: '' })
    assert.equal(res.status, 400, `create ${JSON.stringify(name)}`)
    const read = await fetch(`${env.base}/api/scripts/file?name=${encodeURIComponent(String(name))}`)
    assert.equal(read.status, 400, `read ${JSON.stringify(name)}`)
  }
  assert.equal((await env.post('/api/scripts/rename', { from: 'ping.js', to: '../ping.js' })).status, 400)
  assert.equal((await env.post('/api/scripts/delete', { name: '../ping.js' })).status, 400)
  // Another site's page cannot post.
  const cross = await fetch(`${env.base}/api/scripts/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
    body: JSON.stringify({ name: 'x.js', content: '' }),
  })
  assert.equal(cross.status, 403)
})

test('loopback without a password: a forged Host is refused (HTTP and WebSocket), an allowed one is not', async (t) => {
  const env = await startWebEnv(t, {
    files: { 'ping.js': PING('v1') },
    web: { allowedHosts: ['broker.lan'] },
  })
  const port = defined(webOf(env.broker), 'webOf(env.broker)').port
  assert.equal(await rawGet(port, '/', 'evil.example'), 403)
  assert.equal(await rawGet(port, '/', `evil.example:${port}`), 403)
  assert.equal(await rawGet(port, '/api/scripts/file?name=ping.js', 'rebind.attacker.test'), 403)
  assert.equal(await rawGet(port, '/', `127.0.0.1:${port}`), 200)
  assert.equal(await rawGet(port, '/', `localhost:${port}`), 200)
  assert.equal(await rawGet(port, '/', `[::1]:${port}`), 200)
  assert.equal(await rawGet(port, '/', `broker.lan:${port}`), 200)
  assert.equal(await wsStatus(port, 'evil.example'), 403)
  assert.equal(await wsStatus(port, `localhost:${port}`), 'open')
})

test('on a network address without a password the scripts are read-only and the view says why', async (t) => {
  const { logger, lines } = capturedLogger()
  // The dashboard listens where MQTT does; the test still connects over 127.0.0.1.
  const env = await startWebEnv(t, { files: { 'ping.js': PING('v1') }, host: '0.0.0.0', logger })
  const view = await env.view<ScriptsView>('scripts')
  assert.equal(view.editing.allowed, false)
  assert.match(view.editing.reason ?? '', /--http-user/)
  const save = await env.post('/api/scripts/save', { name: 'ping.js', content: PING('x'), base: 'x' })
  assert.equal(save.status, 403)
  assert.match(((await save.json()) as { error: string }).error, /read-only/)
  assert.equal((await env.post('/api/scripts/create', { name: 'x.js', content: '' })).status, 403)
  // Nor is the source shown to anyone on the network.
  assert.equal((await fetch(`${env.base}/api/scripts/file?name=ping.js`)).status, 403)
  // Not bound to loopback: any Host reaches the (read-only) page.
  assert.equal(await rawGet(defined(webOf(env.broker), 'webOf(env.broker)').port, '/', 'broker.example'), 200)
  assert.ok(
    lines.some((l) => l.msg === 'script change from the dashboard refused' && l.address === '127.0.0.1'),
  )
})

test('with its own password the dashboard asks for it and allows editing from any address', async (t) => {
  const { logger, lines } = capturedLogger()
  const env = await startWebEnv(t, {
    files: { 'ping.js': PING('v1') },
    host: '0.0.0.0',
    httpUser: 'editor',
    httpPass: 's3cret',
    logger,
  })
  assert.equal((await fetch(`${env.base}/api/view/scripts`)).status, 401)
  const wrong = `Basic ${Buffer.from('editor:nope').toString('base64')}`
  assert.equal(
    (await fetch(`${env.base}/api/view/scripts`, { headers: { authorization: wrong } })).status,
    401,
  )
  const auth = `Basic ${Buffer.from('editor:s3cret').toString('base64')}`
  const withAuth = { ...env, auth }
  const view = await getJson<ScriptsView>(withAuth, '/api/view/scripts')
  assert.equal(view.editing.allowed, true)
  const read = await getJson<FileAnswer>(withAuth, '/api/scripts/file?name=ping.js')
  const res = await fetch(`${env.base}/api/scripts/save`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ping.js', content: PING('v2'), base: read.version }),
  })
  assert.equal(res.status, 200)
  const client = await env.client()
  assert.equal(await pingReply(client), 'v2')
  assert.ok(lines.some((l) => l.action === 'save' && l.user === 'editor' && l.address === '127.0.0.1'))
})

test('the config file takes httpUser, httpPass and httpAllowedHosts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-edit-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  const settings = { httpUser: 'editor', httpPass: 'pw', httpAllowedHosts: ['broker.lan'] }
  await writeFile(file, JSON.stringify(settings))
  assert.deepEqual(await readConfigFile(file), settings)
  await writeFile(file, JSON.stringify({ httpAllowedHosts: 'broker.lan' }))
  await assert.rejects(readConfigFile(file), /"httpAllowedHosts" must be an array of host names/)
})

test('tinymqtt --http-user/--http-pass asks for them; --http-allowed-hosts takes a list', async (t) => {
  const { child, port } = await startCliDashboard(t, [
    ...['--host', '127.0.0.1', '--http', '0', '--http-user', 'editor', '--http-pass', 'pw'],
    ...['--http-allowed-hosts', 'a.lan, b.lan'],
  ])
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/view/scripts`)).status, 401)
  const auth = `Basic ${Buffer.from('editor:pw').toString('base64')}`
  const res = await fetch(`http://127.0.0.1:${port}/api/view/scripts`, { headers: { authorization: auth } })
  assert.equal(res.status, 200)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

test('a loopback dashboard started from the CLI honours --http-allowed-hosts', async (t) => {
  const { child, port } = await startCliDashboard(t, [
    ...['--host', '127.0.0.1', '--http', '0', '--http-allowed-hosts', 'a.lan, b.lan'],
  ])
  assert.equal(await rawGet(port, '/', `b.lan:${port}`), 200)
  assert.equal(await rawGet(port, '/', `c.lan:${port}`), 403)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

/** Runs the CLI (in memory, MQTT on a free port) with `args`; resolves once its dashboard listens. */
async function startCliDashboard(
  t: TestContext,
  args: string[],
): Promise<{ child: ChildProcess; port: number }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const cli = ['--import', 'tsx', join(root, 'src', 'cli.ts'), '--memory', '--port', '0']
  const child = spawn(process.execPath, [...cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.includes('dashboard listening'))
      if (line) resolve((JSON.parse(line) as { port: number }).port)
    })
    child.once('exit', (code) => reject(new Error(`CLI exited with ${code}`)))
  })
  return { child, port }
}
