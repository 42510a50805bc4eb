// Tests of autoexec.js, run with `npx tinymqtt test` (Node's test runner plus tinymqtt/testing).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadScript } from 'tinymqtt/testing'

const script = new URL('./autoexec.js', import.meta.url).pathname

test('relay 2 of the Tasmota device switches the OpenBeken device the same way', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  assert.deepEqual(s.logs, [
    { level: 'info', text: 'mirroring stat/tasmota_476739/POWER2 -> cmnd/obk174083A4/POWER' },
  ])

  s.publish('stat/tasmota_476739/POWER2', 'ON', { retain: false, qos: 0 })
  s.publish('stat/tasmota_476739/POWER2', 'OFF')
  assert.deepEqual(
    s.take().map((m) => [m.topic, m.payload]),
    [
      ['cmnd/obk174083A4/POWER', 'ON'],
      ['cmnd/obk174083A4/POWER', 'OFF'],
    ],
  )
})

test('other relays and devices are left alone', async (t) => {
  const s = await loadScript(script)
  t.after(() => s.close())
  s.publish('stat/tasmota_476739/POWER1', 'ON')
  s.publish('stat/tasmota_000000/POWER2', 'ON')
  assert.deepEqual(s.published, [])
  assert.deepEqual(s.errors, [])
})
