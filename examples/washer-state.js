// State machine kept across messages: tells when the washing machine has finished,
// from the power readings of its smart plug (tele/washer/POWER, in watts).
//
//   idle --(> 10 W)--> running --(< 5 W)--> finishing --(3 low readings)--> done
//                         ^-------(> 10 W)------'                           |
//   done --(> 10 W)--> running                                              |
//
// Each transition is published, retained, to tinymqtt/washer/state. The state and the number
// of finished cycles live in `persist`, so a reload or a broker restart in the middle of a wash
// carries on where it was; each finished cycle is counted on tinymqtt/washer/cycles and
// announced with an HTTP request to NOTIFY_URL (a Home Assistant webhook, an ntfy topic …).

const NOTIFY_URL = 'http://homeassistant.local:8123/api/webhook/washer-done'
const RUNNING_WATTS = 10
const IDLE_WATTS = 5
const LOW_READINGS_TO_FINISH = 3

/** @type {'idle' | 'running' | 'finishing' | 'done'} */
persist.state ??= 'idle'
persist.cycles ??= 0
let lowReadings = 0

/** @param {'idle' | 'running' | 'finishing' | 'done'} next */
function enter(next) {
  persist.state = next
  ms_publish('tinymqtt/washer/state', next, { retain: true })
  if (next === 'done') finished()
}

function finished() {
  persist.cycles++
  ms_publish('tinymqtt/washer/cycles', persist.cycles, { retain: true })
  ms_fetch(NOTIFY_URL, { method: 'POST', body: { message: `Washer done (cycle ${persist.cycles})` } })
    .then((res) => {
      if (!res.ok) console.warn(`notification answered ${res.status}`)
    })
    .catch((e) => console.warn(`notification failed: ${e.message}`))
}

ms_subscribe('tele/washer/POWER', (_topic, payload) => {
  const watts = Number(payload)
  if (Number.isNaN(watts)) return
  switch (persist.state) {
    case 'idle':
    case 'done':
      if (watts > RUNNING_WATTS) enter('running')
      break
    case 'running':
      if (watts < IDLE_WATTS) {
        lowReadings = 1
        enter('finishing')
      }
      break
    case 'finishing':
      if (watts > RUNNING_WATTS) enter('running')
      else if (watts < IDLE_WATTS && ++lowReadings >= LOW_READINGS_TO_FINISH) enter('done')
      break
  }
})
