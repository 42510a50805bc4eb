// Timer example: a staircase light. Publishing a number of seconds to
// cmnd/staircase/TIMER switches the light on and off again after that time; a new
// command while it is on restarts the countdown. Topics are built by lib/tasmota.js, a
// module shared with power-overview.js.

import { topic } from './lib/tasmota.js'

const TIMER = topic('cmnd', 'staircase', 'TIMER')
const POWER = topic('cmnd', 'staircase', 'POWER')

/** @type {number | undefined} */
let offTimer

ms_subscribe(TIMER, (_topic, payload) => {
  const seconds = Number(payload)
  if (!(seconds > 0)) {
    console.warn(`ignoring TIMER ${JSON.stringify(payload)}: not a positive number of seconds`)
    return
  }
  if (offTimer === undefined) ms_publish(POWER, 'ON')
  clearTimeout(offTimer)
  offTimer = setTimeout(() => {
    offTimer = undefined
    ms_publish(POWER, 'OFF')
  }, seconds * 1000)
})

export function deinit() {
  // Leave the light off rather than on forever when the script is replaced.
  if (offTimer !== undefined) ms_publish(POWER, 'OFF')
}
