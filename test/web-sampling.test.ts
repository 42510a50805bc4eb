// Issue 7, point 7: a busy broker spends only a few per cent feeding the dashboard. Above the
// record budget (here 50 messages a second, so that any loop exceeds it) the Topics tree
// samples, says so, and marks its counts as estimates, while device topics stay exact; under
// the budget every message is recorded again. Device publishes are QoS 1: the PUBACK comes
// after the broker routed the message.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TopicsView } from '../src/web/index.ts'
import { defined } from './defined.ts'
import { type FeedFrame, openFeed, startFlood, startWebEnv } from './web-helpers.ts'

const topics = (frame: FeedFrame): TopicsView => frame.data as unknown as TopicsView

test('above the record budget the Topics tree samples and says so; device topics stay exact; under it every message counts again', async (t) => {
  const env = await startWebEnv(t, { web: { recordBudget: 50, intervalMs: 100 } })
  const page = await openFeed(t, env)
  page.ws.send(JSON.stringify({ view: 'topics', filter: 'flood/' }))
  await page.next((f) => f.request.view === 'topics')

  const flooder = await env.client({ clientId: 'flooder' })
  const flood = startFlood(flooder, 100)
  try {
    const busy = topics(await page.next((f) => topics(f).sampling !== null))
    const sampling = defined(busy.sampling, 'the sampling figures')
    assert.ok(sampling.oneIn > 1, `one message in ${sampling.oneIn}`)
    assert.ok(sampling.rate > 50, `rate ${sampling.rate}`)

    // While it samples, a device's messages are each counted, and its relay state is current.
    const device = await env.client({ clientId: 'tasmota-busy' })
    for (const state of ['ON', 'OFF', 'ON', 'OFF', 'ON']) {
      await device.publishAsync('stat/busy/POWER', state, { qos: 1 })
    }
    const view = await env.view<TopicsView>('topics', { filter: 'stat/busy/' })
    assert.notEqual(view.sampling, null, 'still sampling while the device published')
    const row = view.tree.rows.find((r) => r.path === 'stat/busy/POWER')
    assert.deepEqual(
      { preview: row?.value?.preview, count: row?.value?.count, estimated: row?.value?.estimated },
      { preview: 'ON', count: 5, estimated: false },
    )
    assert.deepEqual(view.devices.find((d) => d.id === 'busy')?.relays, [{ name: 'POWER', state: 'ON' }])
    // The flood's topics were recorded as samples: their counts are marked as estimates.
    const flooded = await env.view<TopicsView>('topics', { filter: 'flood/' })
    const estimated = flooded.tree.rows.filter((r) => r.value?.estimated === true)
    assert.ok(estimated.length > 0, 'some flood topics carry estimated counts')
  } finally {
    await flood.stop()
  }

  // Quiet again: the next tick sees the rate under the budget, and each message counts.
  await page.next((f) => topics(f).sampling === null)
  await flooder.publishAsync('flood/7', 'after the flood', { qos: 1 })
  await flooder.publishAsync('quiet/one', 'a', { qos: 1 })
  await flooder.publishAsync('quiet/one', 'b', { qos: 1 })
  const quiet = await env.view<TopicsView>('topics', { filter: 'quiet/' })
  assert.equal(quiet.sampling, null)
  const one = quiet.tree.rows.find((r) => r.path === 'quiet/one')?.value
  assert.deepEqual(
    { preview: one?.preview, count: one?.count, estimated: one?.estimated },
    {
      preview: 'b',
      count: 2,
      estimated: false,
    },
  )
  // Recorded by the dashboard's listener and its device subscription alike, counted once.
  const device = await env.client({ clientId: 'tasmota-busy-2' })
  await device.publishAsync('stat/busy/POWER', 'OFF', { qos: 1 })
  const power = (await env.view<TopicsView>('topics', { filter: 'stat/busy/' })).tree.rows.find(
    (r) => r.path === 'stat/busy/POWER',
  )?.value
  assert.deepEqual({ preview: power?.preview, count: power?.count }, { preview: 'OFF', count: 6 })
  const seven = (await env.view<TopicsView>('topics', { filter: 'flood/7' })).tree.rows.find(
    (r) => r.path === 'flood/7',
  )
  assert.equal(seven?.value?.preview, 'after the flood')
})
