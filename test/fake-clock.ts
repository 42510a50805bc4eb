// A clock the test moves by hand, for time-based broker behaviour (keepalive) that must not
// depend on how fast the machine is.
import type { TestContext } from 'node:test'

export interface FakeClock {
  /** Moves Date forward by `ms`, running the interval timers that fall due on the way. */
  advance(ms: number): Promise<void>
}

/** Below the broker's 500 ms sweep, so each sweep sees the time it was due at. */
const STEP_MS = 100

/**
 * Fakes `Date` and `setInterval` for the rest of the test `t` (restored after it). The broker's
 * keepalive sweep is a `setInterval` comparing `Date.now()` with a connection's last activity,
 * so the clock must be installed before the broker starts. `setTimeout` stays real: sockets,
 * clients and the tests' failure guards keep working.
 */
export function installFakeClock(t: TestContext): FakeClock {
  t.mock.timers.enable({ apis: ['Date', 'setInterval'], now: Date.now() })
  return {
    async advance(ms: number) {
      for (let left = ms; left > 0; left -= STEP_MS) t.mock.timers.tick(Math.min(STEP_MS, left))
      // Let the writes and closes the timers caused reach the sockets.
      await new Promise((r) => setImmediate(r))
    },
  }
}
