import assert from 'node:assert/strict'
import { open, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { collect, GUARD_MS, type ScriptEnv, sleep, startEnv, until } from './scripting-helpers.ts'

/**
 * The quiet period before a reload. Writes meant to fold into one reload come 20–30 ms apart, so
 * a whole second leaves a busy machine ample room between them.
 */
const DEBOUNCE_MS = 1000

const script = (name: string, version: string) => `
const VERSION = '${version}'
ms_subscribe('${name}/ping', () => ms_publish('${name}/pong', VERSION))
export function init() { print('init ' + VERSION) }
export function deinit() { ms_publish('${name}/deinit', VERSION) }
`

/** Pings until the script answers with `version`; the reply shows which version is live. */
async function waitVersion(
  client: MqttClient,
  name: string,
  version: string,
  timeoutMs = GUARD_MS,
): Promise<void> {
  const replies = await collect(client, `${name}/pong`)
  const end = Date.now() + timeoutMs
  while (replies.at(-1)?.payload !== version) {
    if (Date.now() > end)
      throw new Error(`${name} never answered ${version}; got ${JSON.stringify(replies.slice(-3))}`)
    await client.publishAsync(`${name}/ping`, '')
    await sleep(25)
  }
}

describe('hot reload', () => {
  let env: ScriptEnv
  let client: MqttClient
  const names = ['inplace', 'truncate', 'rename', 'burst', 'broken', 'badinit', 'gone']
  before(async () => {
    const files: Record<string, string> = {}
    for (const n of names) files[`${n}.js`] = script(n, 'v1')
    env = await startEnv(files, { reloadDebounceMs: DEBOUNCE_MS })
    client = await env.client()
    for (const n of names) await waitVersion(client, n, 'v1')
  })
  after(() => env.close())

  const reloads = (name: string, from: number) =>
    env.log.lines.slice(from).filter((l) => l.script === name && l.msg === 'script reloaded').length
  const inits = (name: string, from: number) =>
    env.log.lines
      .slice(from)
      .filter((l) => l.script === name && String(l.msg).startsWith('init '))
      .map((l) => l.msg)

  /** After the new version is live, waits past another debounce so a second (wrong) reload would show. */
  async function assertOneReload(name: string, from: number, version: string): Promise<void> {
    await waitVersion(client, name, version)
    await sleep(DEBOUNCE_MS + 500)
    assert.equal(reloads(`${name}.js`, from), 1)
    assert.deepEqual(inits(`${name}.js`, from), [`init ${version}`])
  }

  it('write in place: one reload, old deinit() runs, new version live', async () => {
    const deinits = await collect(client, 'inplace/deinit')
    const from = env.log.lines.length
    await env.write('inplace.js', script('inplace', 'v2'))
    await assertOneReload('inplace', from, 'v2')
    assert.deepEqual(
      deinits.map((m) => m.payload),
      ['v1'],
    )
  })

  it('truncate then write: one reload with the final content', async () => {
    const from = env.log.lines.length
    const file = join(env.dir, 'truncate.js')
    await truncate(file, 0)
    await sleep(30)
    const fh = await open(file, 'r+')
    await fh.write(script('truncate', 'v2'))
    await fh.close()
    await assertOneReload('truncate', from, 'v2')
  })

  it('write a temp file and rename it over the script: one reload', async () => {
    const from = env.log.lines.length
    const tmp = join(env.dir, '.rename.js.tmp')
    await writeFile(tmp, script('rename', 'v2'))
    await rename(tmp, join(env.dir, 'rename.js'))
    await assertOneReload('rename', from, 'v2')
  })

  it('three writes within 50 ms: exactly one reload, with the last content', async () => {
    const from = env.log.lines.length
    await env.write('burst.js', script('burst', 'v2'))
    await sleep(20)
    await env.write('burst.js', script('burst', 'v3'))
    await sleep(20)
    await env.write('burst.js', script('burst', 'v4'))
    await assertOneReload('burst', from, 'v4')
  })

  it('a syntax error is logged as file:line:column and the old version keeps running', async () => {
    const deinits = await collect(client, 'broken/deinit')
    const from = env.log.lines.length
    await env.write('broken.js', `${script('broken', 'v2')}\nconst x = ;\n`)
    const line = await env.log.waitFor((l) => l.script === 'broken.js' && l.level === 50, undefined, from)
    assert.match(String(line.msg), /^broken\.js:7:\d+ SyntaxError: /)
    assert.match(String(line.msg), /previous version keeps running/)
    await waitVersion(client, 'broken', 'v1')
    const status = env.host.scripts().find((s) => s.name === 'broken.js')
    assert.equal(status?.status, 'running')
    assert.match(status?.error ?? '', /^broken\.js:7:\d+ SyntaxError/)
    assert.equal(deinits.length, 0)
    // Fixing the file loads the fix.
    await env.write('broken.js', script('broken', 'v3'))
    await waitVersion(client, 'broken', 'v3')
    assert.equal(env.host.scripts().find((s) => s.name === 'broken.js')?.error, undefined)
  })

  it('a new version whose init() throws is discarded and the old one keeps running', async () => {
    const from = env.log.lines.length
    await env.write(
      'badinit.js',
      `${script('badinit', 'v2')}\nexport function init() { throw new Error('nope') }\n`,
    )
    const line = await env.log.waitFor((l) => l.script === 'badinit.js' && l.level === 50, undefined, from)
    assert.match(String(line.msg), /^badinit\.js:(6|7):\d+ /)
    await waitVersion(client, 'badinit', 'v1')
  })

  it('deleting a file unloads the script; a new file is loaded', async () => {
    const deinits = await collect(client, 'gone/deinit')
    await rm(join(env.dir, 'gone.js'))
    await until(() => deinits.length === 1, 'deinit of the deleted script')
    await until(() => !env.host.scripts().some((s) => s.name === 'gone.js'), 'script list without gone.js')
    await env.write('fresh.mjs', script('fresh', 'f1'))
    await waitVersion(client, 'fresh', 'f1')
    assert.equal(env.host.scripts().find((s) => s.name === 'fresh.mjs')?.status, 'running')
  })
})
