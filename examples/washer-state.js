// State machine kept across messages: tells when the washing machine has finished,
// from the power readings of its smart plug (tele/washer/POWER, in watts).
//
//   idle --(> 10 W)--> running --(< 5 W)--> finishing --(3 low readings)--> done
//                         ^-------(> 10 W)------'                           |
//   done --(> 10 W)--> running                                              |
//
// Each transition is published, retained, to tinymqtt/washer/state.

const RUNNING_WATTS = 10
const IDLE_WATTS = 5
const LOW_READINGS_TO_FINISH = 3

let state = 'idle'
let lowReadings = 0

/** @param {'idle' | 'running' | 'finishing' | 'done'} next */
function enter(next) {
  state = next
  ms_publish('tinymqtt/washer/state', state, { retain: true })
}

ms_subscribe('tele/washer/POWER', (_topic, payload) => {
  const watts = Number(payload)
  if (Number.isNaN(watts)) return
  switch (state) {
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
