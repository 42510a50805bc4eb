// Wildcard subscription: keeps track of every device that reports stat/<device>/POWER
// and publishes, retained, the sorted list of devices that are switched on.
// A dashboard (or another script) subscribed to tinymqtt/power/on always sees the
// current list, even when it connects later.
// The payload parsing is shared with other scripts through lib/tasmota.js.

import { deviceOf, parsePower } from './lib/tasmota.js'

const on = new Set()

ms_subscribe('stat/+/POWER', (topic, payload) => {
  const state = parsePower(payload)
  if (state === undefined) return
  const device = deviceOf(topic)
  const wasOn = on.has(device)
  if (state) on.add(device)
  else on.delete(device)
  if (wasOn !== on.has(device)) {
    ms_publish('tinymqtt/power/on', [...on].sort(), { retain: true })
  }
})
