// Issue 7: the dashboard over HTTP, black-box — the page, the JSON views, the live feed, basic
// auth, the publish and disconnect actions, and the device / Home Assistant lists built from
// real MQTT traffic.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import type { BrokerView, ClientsView, HaView, ScriptsView, TopicsView } from '../src/web/index.ts'
import { defined } from './defined.ts'
import { eventually, listen, openFeed, startWebEnv } from './web-helpers.ts'

test('serves the page, its assets, and a broker view with listeners, counters and memory', async (t) => {
  const env = await startWebEnv(t)
  const page = await fetch(`${env.base}/`)
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-type') ?? '', /text\/html/)
  assert.match(await page.text(), /tinymqtt/)
  for (const asset of ['/app.js', '/style.css']) assert.equal((await fetch(env.base + asset)).status, 200)
  // app.js is an ES module: every module it imports, directly or not, is served as JavaScript,
  // and every module in src/web/assets is one of them (editor.js, the bundle, is loaded on demand).
  const served = new Set<string>()
  const pending = ['app.js']
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (served.has(name)) continue
    const res = await fetch(`${env.base}/${name}`)
    assert.equal(res.status, 200, name)
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/, name)
    served.add(name)
    for (const [, imported] of (await res.text()).matchAll(/^import [^']*'\.\/([\w-]+\.js)'$/gm)) {
      pending.push(defined(imported, 'imported'))
    }
  }
  const modules = readdirSync(new URL('../src/web/assets', import.meta.url)).filter(
    (name) => name.endsWith('.js') && name !== 'editor.js',
  )
  assert.deepEqual([...served].sort(), modules.sort())
  assert.equal((await fetch(`${env.base}/nope`)).status, 404)

  const client = await env.client({ clientId: 'counter' })
  await client.publishAsync('a/b', 'hello', { retain: true })
  const view = await eventually(
    () => env.view<BrokerView>('broker'),
    (v) => v.stats.retained === 1,
    'retained count',
  )
  assert.equal(view.stats.clients, 1)
  assert.ok(view.stats.messagesIn >= 1)
  assert.ok(view.stats.memory.rss > 0)
  assert.deepEqual(
    view.listeners.map((l) => [l.name, l.port]),
    [
      ['mqtt', env.broker.port],
      ['dashboard', Number(new URL(env.base).port)],
    ],
  )
  assert.deepEqual(Object.keys(view.rates).sort(), ['bytesIn', 'bytesOut', 'messagesIn', 'messagesOut'])
})

test('with a user set, every route and the feed require HTTP Basic with the broker credentials', async (t) => {
  const env = await startWebEnv(t, { user: 'admin', pass: 's3cret' })
  for (const path of ['/', '/app.js', '/api/view/broker']) {
    const res = await fetch(env.base + path)
    assert.equal(res.status, 401, path)
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/)
  }
  const wrong = `Basic ${Buffer.from('admin:nope').toString('base64')}`
  assert.equal((await fetch(`${env.base}/`, { headers: { authorization: wrong } })).status, 401)
  assert.equal(
    (await fetch(`${env.base}/`, { headers: { authorization: defined(env.auth, 'env.auth') } })).status,
    200,
  )
  const refused = await fetch(`${env.base}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'x', payload: 'y' }),
  })
  assert.equal(refused.status, 401)

  const { WebSocket } = await import('ws')
  const anonymous = new WebSocket(`${env.base.replace('http', 'ws')}/ws`)
  const status = await new Promise<number>((resolve) => {
    anonymous.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    anonymous.on('open', () => resolve(101))
    anonymous.on('error', () => undefined)
  })
  assert.equal(status, 401)
  const feed = await openFeed(t, env)
  feed.ws.send(JSON.stringify({ view: 'broker' }))
  const frame = await feed.next((f) => f.request.view === 'broker')
  assert.ok('stats' in frame.data)
})

test('the feed answers a changed request at once, not on the next batch tick', async (t) => {
  // A tick an hour long: only the immediate answer can deliver these frames.
  const env = await startWebEnv(t, { web: { intervalMs: 3_600_000 } })
  const feed = await openFeed(t, env)
  feed.ws.send(JSON.stringify({ view: 'clients' }))
  const clients = await feed.next((f) => f.request.view === 'clients')
  assert.ok('clients' in clients.data)
  // A request right after another waits for the tick, so this one is sent after a pause.
  await new Promise((resolve) => setTimeout(resolve, 100))
  feed.ws.send(JSON.stringify({ view: 'broker' }))
  const broker = await feed.next((f) => f.request.view === 'broker')
  assert.ok('stats' in broker.data)
})

test('the feed refuses a WebSocket from another origin', async (t) => {
  const env = await startWebEnv(t)
  await assert.rejects(openFeed(t, env, { origin: 'http://evil.example' }), /403/)
})

test('clients view lists an MQTT.js client; the disconnect action disconnects it', async (t) => {
  const env = await startWebEnv(t)
  const client = await env.client({ clientId: 'kitchen-lamp', keepalive: 42 })
  await client.subscribeAsync('cmnd/kitchen-lamp/#', { qos: 1 })
  const view = await env.view<ClientsView>('clients')
  assert.equal(view.total, 1)
  const row = defined(view.clients[0], 'view.clients[0]')
  assert.equal(row.clientId, 'kitchen-lamp')
  assert.equal(row.address, '127.0.0.1')
  assert.equal(row.protocolVersion, 4)
  assert.equal(row.keepalive, 42)
  assert.ok(row.packetsIn >= 2 && row.bytesIn > 0)
  assert.deepEqual(row.subscriptions, [{ filter: 'cmnd/kitchen-lamp/#', qos: 1 }])

  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  const res = await env.post('/api/disconnect', { clientId: 'kitchen-lamp' })
  assert.equal(res.status, 200)
  await closed
  assert.equal((await env.view<ClientsView>('clients')).total, 0)
  assert.equal((await env.post('/api/disconnect', { clientId: 'kitchen-lamp' })).status, 404)
})

test('clients view pages and filters', async (t) => {
  const env = await startWebEnv(t)
  await Promise.all(
    Array.from({ length: 120 }, (_, i) => env.client({ clientId: `c${String(i).padStart(3, '0')}` })),
  )
  const first = await env.view<ClientsView>('clients')
  assert.equal(first.total, 120)
  assert.equal(first.clients.length, 100)
  assert.equal(defined(first.clients[0], 'first.clients[0]').clientId, 'c000')
  const second = await env.view<ClientsView>('clients', { offset: '100' })
  assert.deepEqual(
    second.clients.map((c) => c.clientId),
    Array.from({ length: 20 }, (_, i) => `c${100 + i}`),
  )
  const filtered = await env.view<ClientsView>('clients', { filter: 'c11' })
  assert.equal(filtered.matching, 10)
})

test('publish action publishes to MQTT subscribers (QoS, retain); bad input is refused', async (t) => {
  const env = await startWebEnv(t)
  const sub = await env.client()
  const got = await listen(sub, 'garden/pump')
  const res = await env.post('/api/publish', { topic: 'garden/pump', payload: 'ON', qos: 1, retain: true })
  assert.equal(res.status, 200)
  assert.equal((await got.next).payload, 'ON')
  const late = await env.client()
  const retained = await (await listen(late, 'garden/pump')).next
  assert.deepEqual(retained, { payload: 'ON', retain: true })

  assert.equal((await env.post('/api/publish', { topic: 'a/+', payload: 'x' })).status, 400)
  assert.equal((await env.post('/api/publish', { topic: '', payload: 'x' })).status, 400)
  assert.equal((await env.post('/api/publish', { topic: 'a', qos: 3 })).status, 400)
  // A cross-site form cannot send JSON without a preflight, and another origin is refused.
  const form = await fetch(`${env.base}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'topic=a&payload=b',
  })
  assert.equal(form.status, 415)
  const cross = await fetch(`${env.base}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
    body: JSON.stringify({ topic: 'a', payload: 'b' }),
  })
  assert.equal(cross.status, 403)
})

test('topics view: a tree with last values, opened nodes, search, and pages over 10,000 topics', async (t) => {
  const env = await startWebEnv(t)
  const client = await env.client()
  await client.publishAsync('home/kitchen/temp', '21.5', { retain: true })
  // With no page open only retained topics are known; a read of this view records the rest
  // from then on (test/web-recording.test.ts).
  await eventually(
    () => env.view<TopicsView>('topics'),
    (v) => v.tree.topicCount === 1 && v.liveSince !== null,
    'the retained topic',
  )
  await client.publishAsync('home/kitchen/hum', '40')
  await client.publishAsync('home/cellar', Buffer.from([0xff, 0x00, 0xfe]))
  const closed = await eventually(
    () => env.view<TopicsView>('topics'),
    (v) => v.tree.topicCount === 3,
    'three topics',
  )
  assert.deepEqual(
    closed.tree.rows.map((r) => [r.path, r.children, r.topics]),
    [['home', 2, 3]],
  )
  const open = await env.view<TopicsView>('topics', { expanded: 'home,home/kitchen' })
  assert.deepEqual(
    open.tree.rows.map((r) => [r.path, r.depth, r.value?.preview]),
    [
      ['home', 0, undefined],
      ['home/cellar', 1, '0xff00fe'],
      ['home/kitchen', 1, undefined],
      ['home/kitchen/hum', 2, '40'],
      ['home/kitchen/temp', 2, '21.5'],
    ],
  )
  assert.equal(defined(open.tree.rows[4], 'open.tree.rows[4]').value?.retain, true)
  const found = await env.view<TopicsView>('topics', { filter: 'HUM' })
  assert.deepEqual(
    found.tree.rows.map((r) => r.path),
    ['home/kitchen/hum'],
  )

  for (let i = 0; i < 10_000; i++) env.broker.publish({ topic: `bulk/${i}`, payload: String(i) })
  const bulk = await eventually(
    () => env.view<TopicsView>('topics', { expanded: 'bulk', offset: '9900' }),
    (v) => v.tree.topicCount === 10_003,
    '10,003 topics',
  )
  assert.equal(bulk.tree.total, 10_002) // bulk, its 10,000 children, home
  assert.equal(bulk.tree.rows.length, 100)
})

test('devices: a fake Tasmota device from LWT, POWER and STATE; Toggle publishes cmnd/<dev>/POWER<n> TOGGLE', async (t) => {
  const env = await startWebEnv(t)
  const device = await env.client({
    clientId: 'tasmota_ABC123',
    will: { topic: 'tele/plug1/LWT', payload: Buffer.from('Offline'), retain: true, qos: 1 },
  })
  await device.publishAsync('tele/plug1/LWT', 'Online', { retain: true })
  await device.publishAsync('stat/plug1/POWER1', 'ON')
  await device.publishAsync(
    'tele/plug1/STATE',
    JSON.stringify({ Time: '2024-01-01T00:00:00', POWER1: 'ON', POWER2: 'OFF' }),
  )
  await device.publishAsync('stat/lamp/POWER', 'OFF')
  await device.publishAsync('cmnd/ignored/POWER', 'ON')
  const view = await eventually(
    () => env.view<TopicsView>('topics'),
    (v) => v.devices.length === 2 && v.devices[1]?.relays.length === 2,
    'two devices',
  )
  assert.deepEqual(view.devices, [
    {
      id: 'lamp',
      online: 'unknown',
      relays: [{ name: 'POWER', state: 'OFF' }],
      lastSeen: defined(view.devices[0], 'view.devices[0]').lastSeen,
    },
    {
      id: 'plug1',
      online: 'online',
      relays: [
        { name: 'POWER1', state: 'ON' },
        { name: 'POWER2', state: 'OFF' },
      ],
      lastSeen: defined(view.devices[1], 'view.devices[1]').lastSeen,
    },
  ])
  // The page's Toggle button posts exactly this.
  const command = await listen(device, 'cmnd/plug1/POWER2')
  await env.post('/api/publish', { topic: 'cmnd/plug1/POWER2', payload: 'TOGGLE' })
  assert.equal((await command.next).payload, 'TOGGLE')

  await device.publishAsync('stat/plug1/POWER2', 'ON')
  await eventually(
    () => env.view<TopicsView>('topics'),
    (v) => v.devices[1]?.relays[1]?.state === 'ON',
    'POWER2 ON',
  )
  // The device drops off the network: its will marks it offline.
  device.stream.destroy()
  await eventually(
    () => env.view<TopicsView>('topics'),
    (v) => v.devices[1]?.online === 'offline',
    'plug1 offline',
  )
})

test('Home Assistant discovery: entities grouped by device with state and availability; malformed payloads listed', async (t) => {
  const env = await startWebEnv(t)
  const c = await env.client()
  const device = { identifiers: ['dev-1'], name: 'Living room sensor', manufacturer: 'ACME', model: 'S1' }
  await c.publishAsync(
    'homeassistant/sensor/livingroom/temperature/config',
    JSON.stringify({
      name: 'Temperature',
      unique_id: 'lr-temp',
      state_topic: 'lr/temp',
      unit_of_measurement: '°C',
      availability_topic: 'lr/status',
      device,
    }),
    { retain: true },
  )
  // Abbreviated keys and the `~` base topic, in the form without node_id.
  await c.publishAsync(
    'homeassistant/binary_sensor/lr-motion/config',
    JSON.stringify({
      '~': 'lr/motion',
      name: 'Motion',
      stat_t: '~/state',
      dev: { ids: 'dev-1', name: 'Living room sensor' },
    }),
    { retain: true },
  )
  await c.publishAsync('homeassistant/switch/broken/config', '{"name": "Broken", ', { retain: true })
  await c.publishAsync('homeassistant/light/array/config', '[1,2]', { retain: true })
  await c.publishAsync('homeassistant/light/removed/config', '', { retain: false })
  await c.publishAsync('lr/temp', '21.3')
  await c.publishAsync('lr/status', 'online')
  await c.publishAsync('lr/motion/state', 'ON')
  const view = await eventually(
    () => env.view<HaView>('ha'),
    (v) =>
      v.devices[0]?.entities.length === 2 &&
      v.malformed.length === 2 &&
      v.devices[0].entities[1]?.state === '21.3',
    'discovered entities',
  )
  assert.equal(view.devices.length, 1)
  const sensor = defined(view.devices[0], 'the sensor device')
  const motion = defined(sensor.entities[0], 'the motion entity')
  const temperature = defined(sensor.entities[1], 'the temperature entity')
  assert.equal(sensor.name, 'Living room sensor')
  assert.equal(sensor.manufacturer, 'ACME')
  assert.deepEqual(
    [
      temperature.name,
      temperature.component,
      temperature.nodeId,
      temperature.state,
      temperature.unit,
      temperature.availability,
    ],
    ['Temperature', 'sensor', 'livingroom', '21.3', '°C', 'online'],
  )
  assert.deepEqual(
    [motion.name, motion.stateTopic, motion.state, motion.availability, motion.nodeId],
    ['Motion', 'lr/motion/state', 'ON', 'n/a', undefined],
  )
  assert.deepEqual(
    view.malformed.map((m) => [m.configTopic, m.error.split(':')[0]]),
    [
      ['homeassistant/light/array/config', 'payload must be a JSON object'],
      ['homeassistant/switch/broken/config', 'invalid JSON'],
    ],
  )
  await c.publishAsync('lr/status', 'offline')
  await eventually(
    () => env.view<HaView>('ha'),
    (v) => v.devices[0]?.entities[1]?.availability === 'offline',
    'offline',
  )
})

test('scripts view shows each script with status, error location, subscriptions and timers', async (t) => {
  const env = await startWebEnv(t, {
    files: {
      'good.js': "ms_subscribe('a/#', (t, p) => print('got', t, p))\nsetInterval(() => {}, 60000)\n",
      'bad.js': 'const x = \n',
    },
  })
  const view = await env.view<ScriptsView>('scripts')
  assert.equal(view.enabled, true)
  const byName = Object.fromEntries(view.scripts.map((s) => [s.name, s]))
  assert.equal(byName['good.js']?.status, 'running')
  assert.equal(byName['good.js']?.subscriptions, 1)
  assert.equal(byName['good.js']?.timers, 1)
  assert.equal(byName['bad.js']?.status, 'error')
  assert.match(byName['bad.js']?.error ?? '', /bad\.js:\d+:\d+/)
  // The log tail: the load error, and a print from a callback.
  assert.ok(
    view.log.some((l) => l.script === 'bad.js' && l.level === 'error' && /bad\.js:\d+:\d+/.test(l.msg)),
  )
  await env.broker.publish({ topic: 'a/b', payload: 'hello' })
  await eventually(
    () => env.view<ScriptsView>('scripts'),
    (v) => v.log.some((l) => l.script === 'good.js' && l.msg.includes('got a/b hello')),
    'the print in the log tail',
  )
})

test('live feed: batched frames for the view a page asks for, and only when something changed', async (t) => {
  const env = await startWebEnv(t)
  const feed = await openFeed(t, env)
  feed.ws.send(JSON.stringify({ view: 'topics' }))
  await feed.next((f) => f.request.view === 'topics')
  const client = await env.client()
  await client.publishAsync('live/one', '1')
  const frame = await feed.next(
    (f) => f.request.view === 'topics' && (f.data as unknown as TopicsView).tree.topicCount === 1,
  )
  assert.equal(
    defined(
      (frame.data as unknown as TopicsView).tree.rows[0],
      '(frame.data as unknown as TopicsView).tree.rows[0]',
    ).path,
    'live',
  )
  feed.ws.send(JSON.stringify({ view: 'clients' }))
  const clients = await feed.next((f) => f.request.view === 'clients')
  assert.equal((clients.data as unknown as ClientsView).total, 1)
  // A second client connecting is pushed without waiting for the page to ask.
  await env.client({ clientId: 'second' })
  await feed.next((f) => f.request.view === 'clients' && (f.data as unknown as ClientsView).total === 2)
})

test('scripts view: Reload runs an unchanged script again in a fresh VM; an unknown name is 404', async (t) => {
  const env = await startWebEnv(t, {
    files: { 'boot.js': "let n = 0\nexport function init() { ms_publish('boot/count', String(++n)) }\n" },
  })
  const client = await env.client()
  const boots: string[] = []
  client.on('message', (_topic, payload) => boots.push(payload.toString()))
  await client.subscribeAsync('boot/count')
  const res = await env.post('/api/reload', { name: 'boot.js' })
  assert.equal(res.status, 200)
  await eventually(
    async () => boots,
    (b) => b.length === 1,
    'the init() of the reloaded version',
  )
  // A fresh VM: its counter starts again, so the new init publishes 1, not 2.
  assert.deepEqual(boots, ['1'])
  assert.equal((await env.post('/api/reload', { name: 'nope.js' })).status, 404)
})
