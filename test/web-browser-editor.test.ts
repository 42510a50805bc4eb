// The dashboard's script editor in a real browser (Debian's Chromium driven by playwright-core):
// open a script, complete a script global, change it and save with Ctrl+S, see the new
// behaviour over MQTT; a syntax error is marked at its line while the old version keeps
// answering; a change on disk shows a notice and reloads on request. No Content-Security-Policy
// violation on the way. With SCREENSHOT_DIR (e.g. docs) it keeps docs/dashboard-editor.png.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { ScriptsView } from '../src/web/index.ts'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { defined } from './defined.ts'
import { listen, pingReply, startWebEnv, TIMEOUT } from './web-helpers.ts'

/** A variable, so that the type check does not look for declarations of a build script. */
const BUILD_EDITOR = '../scripts/build-editor.mjs'

const PING = (reply: string): string => `ms_subscribe('ping', () => {\n  ms_publish('pong', '${reply}')\n})\n`

test('script editor in Chromium: complete, save with Ctrl+S, a syntax error at its line, a disk change', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  // npm test builds the bundle first; a single test run from a fresh clone builds it here.
  if (!existsSync(new URL('../src/web/assets/editor.js', import.meta.url))) {
    const build: { buildEditor(): Promise<unknown> } = await import(BUILD_EDITOR)
    await build.buildEditor()
  }
  const env = await startWebEnv(t, {
    files: {
      'ping.js': PING('v1'),
      'lights.js':
        "// Evening lights\nms_schedule('0 19 * * *', () => ms_publish('cmnd/lamp/POWER', 'ON'))\n",
    },
  })
  const client = await env.client()
  assert.equal(await pingReply(client), 'v1')

  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  const violations: string[] = []
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text())
  })
  const shots = process.env.SCREENSHOT_DIR
  if (shots !== undefined) await mkdir(shots, { recursive: true })

  await page.goto(env.base)
  await page.locator('#link', { hasText: 'live' }).waitFor()
  await page.click('button[data-view=scripts]')
  await page.click('button[data-edit="ping.js"]')
  const content = page.locator('#script-editor .cm-content')
  await content.waitFor()
  await page.locator('.cm-line', { hasText: "ms_publish('pong', 'v1')" }).waitFor()

  // Completion of the script globals, from examples/tinymqtt.d.ts.
  await content.click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type('ms_pu')
  const option = page.locator('.cm-tooltip-autocomplete li', { hasText: 'ms_publish' })
  await option.waitFor()
  await page.locator('.cm-completionInfo', { hasText: 'Publishes to MQTT clients' }).waitFor()
  await page.keyboard.press('Escape')

  await page.keyboard.press('Control+A')
  await page.keyboard.insertText(PING('v2'))
  await page.locator('.editor-state', { hasText: 'modified' }).waitFor()
  await page.keyboard.press('Control+S')
  await page.locator('.editor-state', { hasText: /^saved$/ }).waitFor()
  assert.equal(await pingReply(client), 'v2')

  // A syntax error on line 3: marked there, and the running version keeps answering.
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText("ms_subscribe('ping', () => {\n  ms_publish('pong', 'v3'\n})\n")
  await page.keyboard.press('Control+S')
  const marked = page.locator('.cm-line', { has: page.locator('.cm-lintRange-error') })
  await marked.waitFor()
  assert.equal(await marked.count(), 1)
  assert.equal(await marked.textContent(), '})')
  const lineNumbers = page.locator('.cm-lineNumbers .cm-gutterElement', { hasText: /^3$/ })
  assert.equal(await lineNumbers.count(), 1)
  await page.locator('.editor-problem', { hasText: /ping\.js:3:\d+ SyntaxError/ }).waitFor()
  await page.locator('.editor-state', { hasText: 'saved, not loaded' }).waitFor()
  assert.equal(await pingReply(client), 'v2')
  const view = await env.view<ScriptsView>('scripts')
  assert.equal(view.scripts.find((s) => s.name === 'ping.js')?.status, 'running')
  if (shots !== undefined)
    await page.screenshot({ path: join(shots, 'dashboard-editor.png'), fullPage: true })

  // Changed on disk while open: a notice, nothing overwritten, reloaded on request.
  const file = defined(
    view.scripts.find((s) => s.name === 'ping.js'),
    "view.scripts.find((s) => s.name === 'ping.js')",
  ).file
  await writeFile(file, PING('disk'))
  await page.locator('.editor-notice', { hasText: 'changed on disk' }).waitFor()
  await page.click('button[data-editor="reload"]')
  await page.locator('.cm-line', { hasText: "ms_publish('pong', 'disk')" }).waitFor()
  await page.locator('.editor-notice').waitFor({ state: 'hidden' })
  assert.equal(await pingReply(client), 'disk')

  // A new script from the form, saved, renamed and deleted from the editor.
  await page.fill('#new-script input[name=name]', 'hello')
  await page.click('#new-script button[type=submit]')
  await page.locator('.editor-name', { hasText: 'hello.js' }).waitFor()
  await page.locator('.cm-line', { hasText: '// hello.js' }).waitFor()
  await content.click()
  await page.keyboard.press('Control+A')
  // Deleted first: Chromium's own editing, replacing a selection across highlighted spans,
  // tries an inline style that the page's CSP refuses (CodeMirror redraws from its state anyway).
  await page.keyboard.press('Backspace')
  await page.keyboard.insertText("ms_subscribe('hi', () => ms_publish('hello', 'there'))\n")
  await page.click('button[data-editor="save"]')
  await page.locator('.editor-state', { hasText: /^saved$/ }).waitFor()
  const hello = await listen(client, 'hello')
  await client.publishAsync('hi', '')
  assert.equal((await hello.next).payload, 'there')
  await page.fill('.editor-rename', 'greet.js')
  await page.click('button[data-editor="rename"]')
  await page.locator('tr[data-script="greet.js"]').waitFor()
  page.once('dialog', (dialog) => void dialog.accept())
  await page.click('button[data-editor="delete"]')
  await page.locator('#script-editor').waitFor({ state: 'hidden' })
  await page.locator('tr[data-script="greet.js"]').waitFor({ state: 'detached' })

  assert.deepEqual(errors, [])
  assert.deepEqual(violations, [])
})

test('Scripts view in Chromium on a network address without a password: read-only, and says why', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const env = await startWebEnv(t, { files: { 'ping.js': PING('v1') }, host: '0.0.0.0' })
  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  await page.goto(env.base)
  await page.click('button[data-view=scripts]')
  await page.locator('tr[data-script="ping.js"] .badge', { hasText: 'running' }).waitFor()
  await page.locator('.note.read-only', { hasText: '--http-user' }).waitFor()
  assert.equal(await page.locator('button[data-edit]').count(), 0)
  assert.equal(await page.locator('.script-tools').isHidden(), true)
  assert.deepEqual(errors, [])
})
