// Tests of staircase-timer.js: the countdown runs on the harness's fake clock.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'

const script = new URL('./staircase-timer.js', import.meta.url).pathname
const payloads = (s) => s.take().map((m) => `${m.topic} ${m.payload}`)

test('TIMER switches the light on, and off when the time is up', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  s.publish('cmnd/staircase/TIMER', '60')
  assert.deepEqual(payloads(s), ['cmnd/staircase/POWER ON'])
  await s.advance('59s')
  assert.deepEqual(payloads(s), [])
  await s.advance('1s')
  assert.deepEqual(payloads(s), ['cmnd/staircase/POWER OFF'])
})

test('a new TIMER while the light is on restarts the countdown', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  s.publish('cmnd/staircase/TIMER', '60')
  await s.advance('45s')
  s.publish('cmnd/staircase/TIMER', '60')
  assert.deepEqual(payloads(s), ['cmnd/staircase/POWER ON'])
  await s.advance('59s')
  assert.deepEqual(payloads(s), [])
  await s.advance('1s')
  assert.deepEqual(payloads(s), ['cmnd/staircase/POWER OFF'])
})

test('a TIMER that is not a number of seconds is ignored with a warning', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  s.publish('cmnd/staircase/TIMER', 'soon')
  assert.deepEqual(s.published, [])
  assert.deepEqual(s.logs, [
    { level: 'warn', text: 'ignoring TIMER "soon": not a positive number of seconds' },
  ])
})

test('a reload while the light is on switches it off', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  s.publish('cmnd/staircase/TIMER', '60')
  await s.reload()
  assert.deepEqual(payloads(s), ['cmnd/staircase/POWER ON', 'cmnd/staircase/POWER OFF'])
  await s.advance('2m')
  assert.deepEqual(payloads(s), [])
})
