/**
 * The guest's clock. QuickJS reads the time through emscripten, whose glue calls the host's
 * global `Date.now()` (and `new Date(...)` for the time zone) at the moment the guest asks:
 * there is no per-VM clock to inject. So while the harness runs a call into its VM (between
 * VmHost.enterCall and leaveCall, which ScriptVm brackets every call with, crashes included)
 * the global `Date` is this fake, whose now is the harness's clock, and outside the call it is
 * the real one again: the test runner and the test's own code never see the fake. Calls are
 * synchronous, so nothing else runs in between. ScriptVm's CPU deadline is on
 * `performance.now()`, which stays real, so the CPU limit holds while the time stands still.
 */

const RealDate = Date

/** A `Date` whose "now" (`Date.now()`, `new Date()`, `Date()`) is `now()`; every other use is the real Date's. */
export function fakeDate(now: () => number): DateConstructor {
  const fakeNow = () => now()
  return new Proxy(RealDate, {
    construct(target, args: unknown[], newTarget: (...a: unknown[]) => unknown) {
      return Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget) as object
    },
    apply() {
      return new RealDate(now()).toString()
    },
    get(target, key, receiver) {
      if (key === 'now') return fakeNow
      return Reflect.get(target, key, receiver) as unknown
    },
  })
}

/**
 * `globalThis.Date` is `date` from `enter()` to `leave()`. ScriptVm calls enterCall again
 * inside a call (when the guest's clock moves) without a matching leaveCall, so entering twice
 * is the same as once.
 */
export class DateSwitch {
  constructor(private readonly date: DateConstructor) {}

  enter(): void {
    globalThis.Date = this.date
  }

  leave(): void {
    globalThis.Date = RealDate
  }
}
