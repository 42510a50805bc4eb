// Issue 7, point 7: the dashboard stays usable with 1,000 connected MQTT clients and 10,000
// topics. Real clients over TCP (raw sockets with a hand-encoded CONNECT: MQTT.js is too slow to
// open a thousand), each publishing 10 topics; the page in Debian's Chromium must show one page
// of rows at a time, page, filter and disconnect one client among the thousand, and still open
// the topic tree. Bounded waits only, no timing thresholds (`npm run bench -- web-page` measures).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { defined } from './defined.ts'
import { publish, RawClient } from './helpers.ts'
import { eventually, startWebEnv, TIMEOUT } from './web-helpers.ts'

const CLIENTS = 1000
const TOPICS_PER_CLIENT = 10
/** Connections opened at once: enough to be quick, few enough not to overflow the accept backlog. */
const BATCH = 100
const id = (i: number): string => `scale-${String(i).padStart(4, '0')}`
const num = (n: number): string => n.toLocaleString('en')

test('dashboard in Chromium with 1,000 clients and 10,000 topics: pages, filter, disconnect, tree', {
  skip: chromiumSkip,
  timeout: 60_000,
}, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const env = await startWebEnv(t)
  const clients: RawClient[] = []
  t.after(() => {
    for (const c of clients) c.destroy()
  })
  for (let start = 0; start < CLIENTS; start += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: BATCH }, async (_, k) => {
        const { client, connack } = await RawClient.connect(env.broker.port, { clientId: id(start + k) })
        assert.equal(connack.returnCode, 0)
        return client
      }),
    )
    clients.push(...batch)
  }
  // With no page open only retained and device topics are kept: a read of the topics view
  // records every topic from then on (for 60 s, and while the page below is open).
  await env.view('topics')
  // Each client publishes its 10 topics in one write: 10,000 topics from real connections.
  await Promise.all(
    clients.map((c, i) =>
      c.send(
        Buffer.concat(
          Array.from({ length: TOPICS_PER_CLIENT }, (_, j) =>
            publish({ topic: `scale/${id(i)}/${j}`, payload: `${id(i)}:${j}` }),
          ),
        ),
      ),
    ),
  )
  await eventually(
    () => env.view<{ topics: number }>('broker'),
    (v) => v.topics === CLIENTS * TOPICS_PER_CLIENT,
    'the dashboard to index 10,000 topics',
  )
  assert.equal(env.broker.clientList().length, CLIENTS)

  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  await page.goto(env.base)
  await page.locator('#link', { hasText: 'live' }).waitFor()

  // Clients: the total, but only one page of rows in the DOM.
  await page.click('button[data-view=clients]')
  const view = page.locator('#view-clients .content')
  const summary = view.locator('p').first()
  await view.locator('p', { hasText: /^1,000 connected$/ }).waitFor()
  const rows = view.locator('tr[data-client-row]')
  await view.locator('.pager', { hasText: '1–100 of 1,000' }).first().waitFor()
  assert.equal(await rows.count(), 100)
  const ids = (): Promise<string[]> =>
    rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-client-row') ?? ''))
  assert.deepEqual(
    await ids(),
    Array.from({ length: 100 }, (_, i) => id(i)),
  )

  // Forward page by page to the last one.
  for (let offset = 100; offset < CLIENTS; offset += 100) {
    await view.locator('.pager button', { hasText: 'next' }).first().click()
    const last = Math.min(offset + 100, CLIENTS)
    await view
      .locator('.pager', { hasText: `${num(offset + 1)}–${num(last)} of 1,000` })
      .first()
      .waitFor()
  }
  assert.deepEqual(
    await ids(),
    Array.from({ length: 100 }, (_, i) => id(900 + i)),
  )
  assert.equal(await view.locator('.pager button', { hasText: 'next' }).first().isDisabled(), true)

  // The filter finds one client among the thousand.
  const target = 123
  await page.fill('input.filter[data-for=clients]', id(target))
  await view.locator('p', { hasText: '1,000 connected, 1 matching' }).waitFor()
  assert.deepEqual(await ids(), [id(target)])

  // Disconnect closes exactly that client's connection; the live feed brings the count down.
  await view.locator(`tr[data-client-row="${id(target)}"] button[data-disconnect]`).click()
  await defined(clients[target], 'clients[target]').waitClosed(TIMEOUT)
  await page.locator('#toast', { hasText: `Disconnected ${id(target)}` }).waitFor()
  await view.locator('p', { hasText: '999 connected, 0 matching' }).waitFor()
  await page.fill('input.filter[data-for=clients]', '')
  await view.locator('p', { hasText: /^999 connected$/ }).waitFor()
  await view.locator('.pager', { hasText: '1–100 of 999' }).first().waitFor()
  assert.equal(await rows.count(), 100)
  assert.equal(await summary.textContent(), '999 connected')
  assert.deepEqual(
    clients.flatMap((c, i) => (c.closed ? [i] : [])),
    [target],
    'only the disconnected client lost its connection',
  )
  const connected = env.broker.clientList().map((c) => c.clientId)
  assert.equal(connected.length, CLIENTS - 1)
  assert.equal(connected.includes(id(target)), false)

  // A live frame patches the rows in place: a keyboard user's focus stays on its button.
  const row = view.locator(`tr[data-client-row="${id(5)}"]`)
  const button = row.locator('button[data-disconnect]')
  await button.focus()
  await row.evaluate((tr) => {
    ;(tr as unknown as { kept: boolean }).kept = true
  })
  const traffic = row.locator('td').nth(5)
  const before = await traffic.textContent()
  await defined(clients[5], 'clients[5]').send(publish({ topic: `scale/${id(5)}/0`, payload: 'again' }))
  await eventually(
    () => traffic.textContent(),
    (text) => text !== before,
    'the live feed to update the row',
  )
  assert.equal(await row.evaluate((tr) => (tr as unknown as { kept?: boolean }).kept), true)
  assert.equal(await button.evaluate((b) => b === b.ownerDocument.activeElement), true)

  // Topics: the first page of the tree, then a node opened among a thousand siblings.
  await page.click('button[data-view=topics]')
  const topics = page.locator('#view-topics .content')
  await topics.locator('p', { hasText: '10,000 topics' }).waitFor()
  const expand = topics.locator('tr[data-topic="scale"] button[data-expand]')
  await expand.click()
  await topics.locator('.pager', { hasText: '1–100 of 1,001' }).first().waitFor()
  assert.equal(await topics.locator('tr[data-topic]').count(), 100)
  assert.equal(await expand.getAttribute('aria-label'), 'collapse')
  assert.equal(await expand.evaluate((b) => b === b.ownerDocument.activeElement), true)
  await topics.locator(`tr[data-topic="scale/${id(5)}"] button[data-expand]`).click()
  const leaf = topics.locator(`tr[data-topic="scale/${id(5)}/7"]`)
  await leaf.waitFor()
  assert.match((await leaf.textContent()) ?? '', new RegExp(`${id(5)}:7`))
  assert.equal(await topics.locator('tr[data-topic]').count(), 100)
  assert.deepEqual(errors, [])
})
