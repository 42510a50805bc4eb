import type { ScheduleClock } from '../scripting/schedules.ts'
import type { LongTimer } from '../util/long-timer.ts'

interface Entry {
  at: number
  /** Creation order: timers due at the same time fire in the order they were set, as in Node. */
  seq: number
  callback: () => void
  /** Set for an interval: it is re-armed this much later each time it fires. */
  period: number | undefined
  cancelled: boolean
}

/**
 * The harness's time: a number that moves only when the test says so, and the timers of the
 * script (setTimeout, setInterval, ms_schedule, ms_fetch timeouts) waiting on it. Nothing fires
 * by itself; `fireNext` runs the earliest due timer after moving the time to its due time.
 */
export class FakeClock {
  private entries: Entry[] = []
  private seq = 0

  constructor(public now: number) {}

  setTimeout(callback: () => void, ms: number): LongTimer {
    return this.add(callback, Math.max(0, Number.isNaN(ms) ? 0 : ms), undefined)
  }

  setInterval(callback: () => void, ms: number): LongTimer {
    const period = Math.max(1, Number.isNaN(ms) ? 1 : ms)
    return this.add(callback, period, period)
  }

  /** The clock ms_schedule's Scheduler arms its runs with. */
  readonly scheduleClock: ScheduleClock = {
    now: () => this.now,
    setTimeout: (fn, ms) => this.setTimeout(fn, ms),
    clearTimeout: (handle) => (handle as LongTimer | undefined)?.cancel(),
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.entries.length
  }

  /**
   * Fires the earliest timer due at or before `until`, with the time moved to its due time
   * first (never backwards); false when none is due.
   */
  fireNext(until: number): boolean {
    let next: Entry | undefined
    for (const e of this.entries) {
      if (e.at <= until && (next === undefined || e.at < next.at || (e.at === next.at && e.seq < next.seq))) {
        next = e
      }
    }
    if (!next) return false
    this.now = Math.max(this.now, next.at)
    if (next.period !== undefined) {
      next.at += next.period
      next.seq = this.seq++
    } else {
      this.remove(next)
    }
    next.callback()
    return true
  }

  private add(callback: () => void, delay: number, period: number | undefined): LongTimer {
    const entry: Entry = { at: this.now + delay, seq: this.seq++, callback, period, cancelled: false }
    this.entries.push(entry)
    return {
      get deadline() {
        return entry.at
      },
      cancel: () => this.remove(entry),
    }
  }

  private remove(entry: Entry): void {
    if (entry.cancelled) return
    entry.cancelled = true
    this.entries = this.entries.filter((e) => e !== entry)
  }
}
