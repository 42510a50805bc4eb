// Issue 7, point 7: with no dashboard page open the broker does not feed the dashboard every
// message. Only the topics behind the Devices and Home Assistant views are subscribed to, and
// they stay complete; every topic is recorded while a page is open (and `lingerMs` after).
// Publishes are QoS 1: the PUBACK comes after the broker routed the message, so "published
// while no page was open" is a fact, not a race.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { webOf } from '../src/index.ts'
import type { HaView, TopicsView } from '../src/web/index.ts'
import { defined } from './defined.ts'
import { type FeedFrame, openFeed, startWebEnv, TIMEOUT, type WebEnv } from './web-helpers.ts'

const qos1 = { qos: 1 } as const

function topics(frame: FeedFrame): TopicsView {
  return frame.data as unknown as TopicsView
}

const value = (view: TopicsView, path: string): string | undefined =>
  view.tree.rows.find((r) => r.path === path)?.value?.preview

/** Whether the dashboard records every message; checked against the broker's listeners too. */
function recording(env: WebEnv): boolean {
  const web = defined(webOf(env.broker), 'webOf(env.broker)')
  assert.equal(env.broker.listenerCount('message'), web.recording ? 1 : 0)
  return web.recording
}

const pages = (env: WebEnv): number => defined(webOf(env.broker), 'webOf(env.broker)').pages

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + TIMEOUT
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('no page open: a Tasmota device shows with its relay state, and the broker has no dashboard listener', async (t) => {
  const env = await startWebEnv(t)
  const device = await env.client({ clientId: 'tasmota-desk' })
  await device.publishAsync('tele/desk/LWT', 'Online', { retain: true, qos: 1 })
  await device.publishAsync('stat/desk/POWER', 'ON', qos1)
  await device.publishAsync('stat/desk/RESULT', JSON.stringify({ POWER2: 'OFF' }), qos1)
  await device.publishAsync('tele/desk/STATE', JSON.stringify({ POWER3: 'ON' }), qos1)
  await device.publishAsync('tele/desk/SENSOR', JSON.stringify({ POWER4: 'ON' }), qos1)
  assert.equal(recording(env), false)
  // Nor does it listen to connects and disconnects (the broker then skips building their event).
  assert.equal(env.broker.listenerCount('clientConnect') + env.broker.listenerCount('clientDisconnect'), 0)
  // The Devices list is part of the topics view, whose read starts recording; the messages
  // above were all routed before it, so whatever it shows was kept without a page.
  const view = await env.view<TopicsView>('topics')
  assert.deepEqual(view.devices, [
    {
      id: 'desk',
      online: 'online',
      relays: [
        { name: 'POWER', state: 'ON' },
        { name: 'POWER2', state: 'OFF' },
        { name: 'POWER3', state: 'ON' },
      ],
      lastSeen: defined(view.devices[0], 'view.devices[0]').lastSeen,
    },
  ])
})

test('no page open: a Home Assistant entity shows the state and availability published on its topics', async (t) => {
  const env = await startWebEnv(t)
  const c = await env.client()
  await c.publishAsync(
    'homeassistant/sensor/hall/temp/config',
    JSON.stringify({
      '~': 'hall/temp',
      name: 'Hall temperature',
      stat_t: '~/state',
      avty: [{ t: '~/status' }, { topic: 'bridge/state', payload_available: 'up' }],
      avty_mode: 'all',
      dev: { ids: 'hall-1', name: 'Hall' },
    }),
    { retain: true, qos: 1 },
  )
  // A second entity on the same availability topic: one subscription, held twice.
  await c.publishAsync(
    'homeassistant/sensor/hall/hum/config',
    JSON.stringify({
      name: 'Hall humidity',
      state_topic: 'hall/hum',
      availability_topic: 'bridge/state',
      payload_available: 'up',
      device: { identifiers: ['hall-1'], name: 'Hall' },
    }),
    { retain: true, qos: 1 },
  )
  await c.publishAsync('hall/temp/state', '19.5', qos1)
  await c.publishAsync('hall/temp/status', 'online', qos1)
  await c.publishAsync('bridge/state', 'up', { retain: true, qos: 1 })
  await c.publishAsync('hall/hum', '55', qos1)
  const view = await env.view<HaView>('ha')
  assert.deepEqual(
    view.devices[0]?.entities.map((e) => [e.name, e.stateTopic, e.state, e.availability]),
    [
      ['Hall humidity', 'hall/hum', '55', 'online'],
      ['Hall temperature', 'hall/temp/state', '19.5', 'online'],
    ],
  )
  assert.equal(recording(env), false, 'reading the HA view does not record every topic')

  // The config moves the state elsewhere: the old topic's value is no longer the entity's.
  await c.publishAsync(
    'homeassistant/sensor/hall/hum/config',
    JSON.stringify({ name: 'Hall humidity', state_topic: 'hall/hum2', device: { identifiers: ['hall-1'] } }),
    { retain: true, qos: 1 },
  )
  await c.publishAsync('hall/hum2', '60', qos1)
  await c.publishAsync('bridge/state', 'offline', { retain: true, qos: 1 })
  const moved = await env.view<HaView>('ha')
  assert.deepEqual(
    moved.devices[0]?.entities.map((e) => [e.name, e.state, e.availability]),
    [
      ['Hall humidity', '60', 'n/a'],
      ['Hall temperature', '19.5', 'offline'],
    ],
  )
  // An empty config removes the entity.
  await c.publishAsync('homeassistant/sensor/hall/temp/config', '', { retain: true, qos: 1 })
  const removed = await env.view<HaView>('ha')
  assert.deepEqual(
    removed.devices.flatMap((d) => d.entities.map((e) => e.name)),
    ['Hall humidity'],
  )
  // Topics no entity reads any more were dropped: not shown later as if current.
  const tree = await env.view<TopicsView>('topics', { expanded: 'hall' })
  assert.deepEqual(
    tree.tree.rows.filter((r) => r.path.startsWith('hall')).map((r) => [r.path, r.value?.preview]),
    [
      ['hall', undefined],
      ['hall/hum2', '60'],
    ],
  )
})

test('a plain topic is recorded only while a page is open; a page opened later does not show its old value', async (t) => {
  const env = await startWebEnv(t, { web: { lingerMs: 0 } })
  const c = await env.client()
  await c.publishAsync('bench/x', 'before any page', qos1)
  await c.publishAsync('bench/kept', 'retained', { retain: true, qos: 1 })
  assert.equal(recording(env), false)

  const ask = { view: 'topics', expanded: ['bench'] }
  const page = await openFeed(t, env)
  page.ws.send(JSON.stringify(ask))
  const first = topics(await page.next((f) => f.request.view === 'topics'))
  assert.equal(recording(env), true)
  assert.notEqual(first.liveSince, null)
  // Retained values are there at once; a live-only topic appears when next published.
  assert.equal(value(first, 'bench/kept'), 'retained')
  assert.equal(value(first, 'bench/x'), undefined)
  await c.publishAsync('bench/x', 'while open', qos1)
  await page.next((f) => f.request.view === 'topics' && value(topics(f), 'bench/x') === 'while open')

  page.ws.close()
  await until('the page to close', () => pages(env) === 0)
  assert.equal(recording(env), false)
  await c.publishAsync('bench/x', 'after close', qos1)
  const again = await openFeed(t, env)
  again.ws.send(JSON.stringify(ask))
  const reopened = topics(await again.next((f) => f.request.view === 'topics'))
  assert.equal(value(reopened, 'bench/x'), undefined, 'no stale value shown as the last one')
  assert.equal(value(reopened, 'bench/kept'), 'retained')
  await c.publishAsync('bench/x', 'reopened', qos1)
  await again.next((f) => f.request.view === 'topics' && value(topics(f), 'bench/x') === 'reopened')
})

test('a reload keeps the tree: recording goes on for lingerMs after the last page closed', async (t) => {
  const env = await startWebEnv(t)
  const c = await env.client()
  const ask = { view: 'topics', expanded: ['bench'] }
  const page = await openFeed(t, env)
  page.ws.send(JSON.stringify(ask))
  await page.next((f) => f.request.view === 'topics')
  await c.publishAsync('bench/x', 'live', qos1)
  await page.next((f) => value(topics(f), 'bench/x') === 'live')
  page.ws.close()
  await until('the page to close', () => pages(env) === 0)
  assert.equal(recording(env), true)
  await c.publishAsync('bench/x', 'between pages', qos1)
  const reloaded = await openFeed(t, env)
  reloaded.ws.send(JSON.stringify(ask))
  await reloaded.next((f) => f.request.view === 'topics' && value(topics(f), 'bench/x') === 'between pages')
})

test('a page on the Broker or Clients view does not record every message; switching it to Topics does', async (t) => {
  const env = await startWebEnv(t, { web: { lingerMs: 0 } })
  const page = await openFeed(t, env)
  for (const view of ['broker', 'clients']) {
    page.ws.send(JSON.stringify({ view }))
    await page.next((f) => f.request.view === view)
    assert.equal(recording(env), false, `${view} view`)
  }
  page.ws.send(JSON.stringify({ view: 'topics' }))
  await page.next((f) => f.request.view === 'topics')
  assert.equal(recording(env), true)
  page.ws.send(JSON.stringify({ view: 'broker' }))
  await page.next((f) => f.request.view === 'broker')
  // The linger is 0: recording stops on the next tick after the page left the Topics view.
  await until('recording to stop', () => !defined(webOf(env.broker), 'webOf(env.broker)').recording)
  assert.equal(pages(env), 1)
})
