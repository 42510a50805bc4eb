// Issue 7, point 8: the dashboard in a real browser — Debian's Chromium driven by playwright-core.
// A client appears in the list, a fake Tasmota device's Toggle button reaches the device over
// MQTT, a script's syntax error is shown, and a Home Assistant config shows up as an entity.
// Set SCREENSHOT_DIR (e.g. docs) to keep a screenshot of each view.
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { listen, startWebEnv, TIMEOUT } from './web-helpers.ts'

test('dashboard in Chromium: clients, Toggle on a Tasmota device, script error, HA entity', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const env = await startWebEnv(t, {
    user: 'admin',
    pass: 'pw',
    files: {
      'relay.js': "ms_subscribe('stat/+/POWER1', (topic, payload) => print(topic, payload))\n",
      'broken.js': "ms_subscribe('x', () => {\n  print('never'\n})\n",
    },
  })
  const plug = await env.client({ clientId: 'tasmota-plug' })
  await plug.publishAsync('tele/plug/LWT', 'Online', { retain: true })
  await plug.publishAsync('stat/plug/POWER1', 'OFF')
  await plug.publishAsync(
    'homeassistant/sensor/plug/energy/config',
    JSON.stringify({
      name: 'Energy',
      stat_t: 'tele/plug/SENSOR',
      unit_of_measurement: 'kWh',
      dev: { ids: ['plug'], name: 'Plug' },
    }),
    { retain: true },
  )
  await plug.publishAsync('tele/plug/SENSOR', '1.25')
  const toggle = await listen(plug, 'cmnd/plug/POWER1')

  const browser = await launchChromium({
    httpCredentials: { username: 'admin', password: 'pw' },
    timeout: TIMEOUT,
  })
  t.after(() => browser.close())
  const { page, errors } = browser
  const shots = process.env.SCREENSHOT_DIR
  if (shots !== undefined) await mkdir(shots, { recursive: true })
  const shoot = async (name: string): Promise<void> => {
    if (shots !== undefined)
      await page.screenshot({ path: join(shots, `dashboard-${name}.png`), fullPage: true })
  }

  await page.goto(env.base)
  await page.locator('#link', { hasText: 'live' }).waitFor()
  await page.locator('.card', { hasText: 'Connected clients' }).locator('.big', { hasText: '1' }).waitFor()
  await shoot('broker')

  await page.click('button[data-view=clients]')
  const row = page.locator('tr[data-client-row="tasmota-plug"]')
  await row.waitFor()
  assert.match((await row.textContent()) ?? '', /127\.0\.0\.1/)
  await shoot('clients')

  await page.click('button[data-view=topics]')
  const device = page.locator('[data-device="plug"]')
  await device.locator('.badge', { hasText: 'online' }).waitFor()
  await page.locator('tr[data-topic="tele"]').waitFor()
  await page.click('tr[data-topic="tele"] button[data-expand]')
  await page.click('tr[data-topic="tele/plug"] button[data-expand]')
  await page.locator('tr[data-topic="tele/plug/LWT"]', { hasText: 'Online' }).waitFor()
  await shoot('topics')
  await device.locator('button[data-toggle][data-relay="POWER1"]').click()
  assert.equal((await toggle.next).payload, 'TOGGLE')

  await page.click('button[data-view=scripts]')
  const broken = page.locator('tr[data-script="broken.js"]')
  await broken.locator('pre.error').waitFor()
  assert.match((await broken.locator('pre.error').textContent()) ?? '', /broken\.js:\d+:\d+/)
  await page.locator('tr[data-script="relay.js"] .badge', { hasText: 'running' }).waitFor()
  await page.locator('.log .line', { hasText: 'stat/plug/POWER1 OFF' }).waitFor()
  await shoot('scripts')

  await page.click('button[data-view=ha]')
  const entity = page.locator('tr[data-entity="homeassistant/sensor/plug/energy/config"]')
  await entity.waitFor()
  assert.match((await entity.textContent()) ?? '', /Energy[\s\S]*1\.25 kWh/)
  await shoot('homeassistant')

  // Topic names and payloads are data, never markup.
  await plug.publishAsync('xss/<img src=x onerror="window.__xss=1">', '<img src=x onerror="window.__xss=2">')
  await page.click('button[data-view=topics]')
  await page.fill('input.filter[data-for=topics]', 'xss/')
  const xss = page.locator('tr[data-topic^="xss/"]')
  await xss.waitFor()
  assert.match((await xss.textContent()) ?? '', /<img src=x onerror="window.__xss=2">/)
  assert.equal(await page.evaluate('typeof window.__xss'), 'undefined')
  await page.fill('input.filter[data-for=topics]', '')

  // 10,000 topics: the tree shows one page of them at a time.
  for (let i = 0; i < 10_000; i++) void env.broker.publish({ topic: `bulk/${i}`, payload: String(i) })
  await page.click('tr[data-topic="bulk"] button[data-expand]')
  await page.locator('.pager', { hasText: 'of 10,0' }).first().waitFor()
  assert.equal(await page.locator('tr[data-topic^="bulk/"]').count(), 99)
  assert.deepEqual(errors, [])
})
