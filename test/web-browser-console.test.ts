// The Scripts view's per-script panel in Chromium: a script's own log lines live, and the
// Console input evaluating expressions inside the running script; read-only when the dashboard
// has no user and password and is not bound to a loopback address.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startBroker } from '../src/index.ts'
import { startScripting } from '../src/scripting/index.ts'
import { ScriptLog, scriptBrokerWithLog, startWeb } from '../src/web/index.ts'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { defined } from './defined.ts'
import { LogCapture } from './scripting-helpers.ts'
import { startWebEnv, TIMEOUT } from './web-helpers.ts'

const COUNTER = `let count = 0
const readings = []
ms_subscribe('counter/add', (topic, payload) => {
  count += Number(payload)
  readings.push(Number(payload))
  print('added', payload, 'count', count)
})
print('counter ready')
`

test('Scripts view in Chromium: live log of one script, console evaluates inside it', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const env = await startWebEnv(t, {
    user: 'admin',
    pass: 'pw',
    files: { 'counter.js': COUNTER, 'other.js': "print('other ready')\n" },
  })
  const browser = await launchChromium({
    httpCredentials: { username: 'admin', password: 'pw' },
    timeout: TIMEOUT,
  })
  t.after(() => browser.close())
  const { page, errors } = browser

  await page.goto(env.base)
  await page.locator('#link', { hasText: 'live' }).waitFor()
  await page.click('button[data-view=scripts]')
  await page.click('button[data-console="counter.js"]')
  const panel = page.locator('#script-panel')
  const log = panel.locator('#script-panel-log')
  await log.locator('.line', { hasText: 'counter ready' }).waitFor()

  const device = await env.client()
  await device.publishAsync('counter/add', '5')
  await log.locator('.line', { hasText: 'added 5 count 5' }).waitFor()
  await device.publishAsync('counter/add', '7')
  await log.locator('.line', { hasText: 'added 7 count 12' }).waitFor()
  // Only this script's lines: the other script's print is in the general log, not in the panel.
  await page.locator('.content .log .line', { hasText: 'other ready' }).waitFor()
  assert.equal(await log.locator('.line', { hasText: 'other ready' }).count(), 0)

  const input = page.getByRole('textbox', { name: 'Console' })
  assert.equal(await input.isEnabled(), true)
  await input.fill('count * 2 + readings.length')
  await input.press('Enter')
  const out = panel.locator('#console-out')
  await out.locator('.console-line.result', { hasText: /^26$/ }).waitFor()
  assert.equal(
    await out.locator('.console-line.input').first().textContent(),
    '› count * 2 + readings.length',
  )

  // The console assigns the script's own state: the script's next message sees it.
  await input.fill('count = 100')
  await input.press('Enter')
  await out.locator('.console-line.result', { hasText: /^100$/ }).waitFor()
  await device.publishAsync('counter/add', '1')
  await log.locator('.line', { hasText: 'added 1 count 101' }).waitFor()

  await input.fill('readings.nope.deeper')
  await input.press('Enter')
  const error = out.locator('.console-line.error')
  await error.waitFor()
  assert.match((await error.textContent()) ?? '', /^console:1:\d+ TypeError: .*deeper/)

  // ↑ brings the last expression back.
  await input.press('ArrowUp')
  assert.equal(await input.inputValue(), 'readings.nope.deeper')
  assert.deepEqual(errors, [])
})

test('the console is read-only without a user and password on a non-loopback address', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-console-'))
  await writeFile(join(dir, 'counter.js'), COUNTER)
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent' })
  t.after(async () => {
    await broker.close()
    await rm(dir, { recursive: true, force: true })
  })
  const scriptLog = new ScriptLog()
  const scripting = await startScripting(scriptBrokerWithLog(broker, scriptLog), { path: dir })
  broker.addCloseHook(() => scripting.close())
  // Listening on every interface (the page still connects to 127.0.0.1): no loopback bind.
  const web = await startWeb(broker, { port: 0, host: '0.0.0.0', scripting, scriptLog })
  const base = `http://127.0.0.1:${web.port}`

  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  await page.goto(base)
  await page.click('button[data-view=scripts]')
  await page.click('button[data-console="counter.js"]')
  await page.locator('#script-panel-log .line', { hasText: 'counter ready' }).waitFor()
  const notice = page.locator('#console-readonly')
  await notice.waitFor()
  assert.match((await notice.textContent()) ?? '', /read-only.*0\.0\.0\.0 without one/)
  assert.equal(await page.getByRole('textbox', { name: 'Console' }).isDisabled(), true)

  // The API refuses it too, whatever the page shows.
  const res = await fetch(`${base}/api/scripts/eval`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'counter.js', expression: 'count' }),
  })
  assert.equal(res.status, 403)
  assert.match(((await res.json()) as { error: string }).error, /read-only/)
  assert.equal(scripting.scripts()[0]?.status, 'running')
  assert.deepEqual(errors, [])
})

test('POST /api/scripts/eval: logged with the user and address, other origins refused', async (t) => {
  const capture = new LogCapture()
  const env = await startWebEnv(t, {
    user: 'admin',
    pass: 'pw',
    logger: capture.logger,
    files: { 'counter.js': COUNTER },
  })
  const res = await env.post('/api/scripts/eval', { name: 'counter.js', expression: 'count + 1' })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { ok: true, result: '1' })
  const line = await capture.waitFor((l) => l.msg === 'script console evaluation')
  assert.equal(line.user, 'admin')
  assert.equal(line.address, '127.0.0.1')
  assert.equal(line.script, 'counter.js')
  assert.equal(line.expression, 'count + 1')

  const missing = await env.post('/api/scripts/eval', { name: 'nope.js', expression: '1' })
  assert.equal(missing.status, 200)
  assert.match(((await missing.json()) as { error: string }).error, /no script named nope\.js/)

  const crossSite = await fetch(`${env.base}/api/scripts/eval`, {
    method: 'POST',
    headers: {
      authorization: defined(env.auth, 'env.auth'),
      origin: 'http://evil.example',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ name: 'counter.js', expression: "ms_publish('x', 'y')" }),
  })
  assert.equal(crossSite.status, 403)
  const noAuth = await fetch(`${env.base}/api/scripts/eval`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'counter.js', expression: '1' }),
  })
  assert.equal(noAuth.status, 401)
})
