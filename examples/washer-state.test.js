// Tests of washer-state.js: the state machine, its persist, and the HTTP notification
// answered by the test instead of a server.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'

const script = new URL('./washer-state.js', import.meta.url).pathname
const NOTIFY_URL = 'http://homeassistant.local:8123/api/webhook/washer-done'

/** Publishes power readings in watts, as the washer's plug does. */
const readings = (s, ...watts) => {
  for (const w of watts) s.publish('tele/washer/POWER', String(w))
}

test('a finished wash is published, counted in persist and announced over HTTP', async (t) => {
  const s = await loadScript(script, { persist: { cycles: 4 } })
  t.after(() => s.close())
  s.onFetch(() => ({ status: 200, body: { ok: true } }))

  readings(s, 2, 1500, 1800)
  assert.deepEqual(s.persist, { cycles: 4, state: 'running' })
  readings(s, 3, 2, 1)
  await s.settle()

  assert.deepEqual(
    s.take().map((m) => [m.topic, m.payload, m.retain]),
    [
      ['tinymqtt/washer/state', 'running', true],
      ['tinymqtt/washer/state', 'finishing', true],
      ['tinymqtt/washer/state', 'done', true],
      ['tinymqtt/washer/cycles', '5', true],
    ],
  )
  assert.deepEqual(s.persist, { cycles: 5, state: 'done' })
  assert.equal(s.fetches.length, 1)
  const [request] = s.fetches
  assert.equal(request.url, NOTIFY_URL)
  assert.equal(request.method, 'POST')
  assert.equal(request.headers['content-type'], 'application/json')
  assert.deepEqual(request.json(), { message: 'Washer done (cycle 5)' })
  assert.equal(request.state, 'answered')
  assert.deepEqual(s.logs, [])
})

test('a notification the server refuses is logged as a warning', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  readings(s, 1500, 3, 2, 1)
  // No handler: the request waits until the test answers it.
  assert.equal(s.fetches[0].state, 'pending')
  await s.fetches[0].respond({ status: 503 })
  assert.deepEqual(s.logs, [{ level: 'warn', text: 'notification answered 503' }])
})

test('a reading above 10 W while finishing means it is still running', async (t) => {
  const s = await loadScript(script, { persist: { state: 'finishing', cycles: 0 } })
  t.after(() => s.close())
  readings(s, 40, 2, 2)
  assert.deepEqual(
    s.take().map((m) => m.payload),
    ['running', 'finishing'],
  )
  assert.equal(s.fetches.length, 0)
})
