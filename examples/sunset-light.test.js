// Tests of sunset-light.js: a sun schedule on the fake clock, with and without a location.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'

const script = new URL('./sunset-light.js', import.meta.url).pathname
// Berlin on midsummer day: sunset at 21:33:20 local time (19:33:20 UTC).
const berlin = { latitude: 52.52, longitude: 13.4 }

test('the porch light goes on at sunset, not before', async (t) => {
  const s = await loadScript(script, { now: '2026-06-21T18:00:00+02:00', ...berlin })
  t.after(() => s.close())
  assert.deepEqual(s.logs, [{ level: 'info', text: 'porch light on at 2026-06-21T19:33:20.307Z' }])
  await s.advance('3h33m')
  assert.deepEqual(s.published, [])
  await s.advance('1m')
  assert.deepEqual(
    s.take().map((m) => [m.topic, m.payload]),
    [['cmnd/porch/POWER', 'ON']],
  )
})

test('and again the next evening', async (t) => {
  const s = await loadScript(script, { now: '2026-06-21T22:00:00+02:00', ...berlin })
  t.after(() => s.close())
  await s.advance('1d')
  assert.deepEqual(
    s.take().map((m) => m.payload),
    ['ON'],
  )
})

test('without the broker location it says so and schedules nothing', async (t) => {
  const s = await loadScript(script, { now: '2026-06-21T18:00:00+02:00' })
  t.after(() => s.close())
  assert.equal(s.logs.length, 1)
  assert.match(
    s.logs[0].text,
    /^sunset-light\.js needs the broker's location \(--latitude\/--longitude\); not scheduling/,
  )
  assert.equal(s.timers, 0)
  await s.advance('1d')
  assert.deepEqual(s.published, [])
})
