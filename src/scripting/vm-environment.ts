import { type LongTimer, setLongInterval, setLongTimeout } from '../util/long-timer.ts'
import { type PerformFetch, performFetch } from './fetch.ts'
import type { ScheduleClock } from './schedules.ts'

/**
 * The outside world of a VM: the timers behind setTimeout/setInterval and ms_schedule, and the
 * network behind ms_fetch. The broker uses the real ones; the test harness (src/testing) passes
 * a fake clock and a fake network, so a script runs the same code in both.
 */
export interface VmEnvironment {
  setTimeout(callback: () => void, ms: number): LongTimer
  setInterval(callback: () => void, ms: number): LongTimer
  /** What ms_schedule arms its runs with; undefined: the real clock. */
  scheduleClock?: ScheduleClock | undefined
  fetch: PerformFetch
}

export const realEnvironment: VmEnvironment = {
  setTimeout: setLongTimeout,
  setInterval: setLongInterval,
  fetch: performFetch,
}
