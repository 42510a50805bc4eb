// Issue 7, point 7, in Chromium: while the broker is above the dashboard's record budget (50
// messages a second here) the Topics view says that it samples and marks estimated counts
// with ≈; once the traffic is back under the budget the notice goes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { startFlood, startWebEnv, TIMEOUT } from './web-helpers.ts'

test('Topics view in Chromium: a busy broker shows the sampling notice and estimated counts', {
  skip: chromiumSkip,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const env = await startWebEnv(t, { web: { recordBudget: 50, intervalMs: 100 } })
  const flooder = await env.client({ clientId: 'flooder' })
  await flooder.publishAsync('flood/0', 'first', { qos: 1, retain: true })

  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  await page.goto(env.base)
  await page.click('button[data-view=topics]')
  await page.locator('tr[data-topic="flood"]').waitFor()
  await page.click('tr[data-topic="flood"] button[data-expand]')
  await page.locator('tr[data-topic="flood/0"]').waitFor()

  const flood = startFlood(flooder, 20)
  try {
    const notice = page.locator('#view-topics .note.sampling')
    await notice.waitFor()
    assert.match((await notice.textContent()) ?? '', /about 1 message in [\d,]+ is recorded/)
    await page.locator('#view-topics td.num', { hasText: '≈' }).first().waitFor()
  } finally {
    await flood.stop()
  }
  await page.locator('#view-topics .note.sampling').waitFor({ state: 'detached' })
  assert.deepEqual(errors, [])
})
