import { Cron } from 'croner'
import { maxTimerDelayMs } from '../util/long-timer.ts'
import type { Location } from './location.ts'
import { nextSunEvent, parseSunSpec, SUN_EVENTS } from './sun-events.ts'

/** The next run strictly after `from` (epoch ms), or undefined when there is none. */
export type NextRun = (from: number) => number | undefined

export interface ScheduleContext {
  /** Where sun events are computed; without it a sun event is refused. */
  location?: Location | undefined
  /** IANA time zone for cron expressions; default the process's local zone (`TZ`). */
  timezone?: string | undefined
}

/**
 * Turns a schedule spec into its next-run function: a sun event (`sunset`, `sunrise-1h30m`)
 * or a cron expression of 5 fields, or 6 with seconds first. Throws an error that says what
 * is wrong with the spec.
 */
export function compileSchedule(spec: string, context: ScheduleContext = {}): NextRun {
  const sun = parseSunSpec(spec)
  if (sun !== undefined) {
    const at = context.location
    if (at === undefined) {
      throw new Error(
        `sun event '${spec}' needs the broker's location: start it with --latitude <deg> --longitude <deg> (config file: latitude, longitude)`,
      )
    }
    return (from) => nextSunEvent(sun, at, from)
  }
  const fields = spec.trim().split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) {
    throw new SyntaxError(
      `invalid schedule '${spec}': expected a cron expression of 5 fields (minute hour day month weekday), 6 with seconds first, or a sun event (${SUN_EVENTS.join(', ')})`,
    )
  }
  let cron: Cron
  try {
    // Paused: croner only computes run times here; the VM owns the timers.
    cron = new Cron(spec.trim(), { paused: true, timezone: context.timezone })
  } catch (e) {
    const reason = e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e)
    throw new SyntaxError(`invalid cron expression '${spec}': ${reason}`)
  }
  return (from) => cron.nextRun(new Date(from))?.getTime()
}

/** Node's setTimeout takes at most this; a longer wait is armed in steps (see Scheduler.fire). */
export const MAX_TIMER_MS = maxTimerDelayMs

export interface ScheduleClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

interface Entry {
  nextRun: NextRun
  at: number | undefined
  timer: unknown
}

/**
 * Keeps one timer per schedule armed for its next run. The wall clock is read again whenever a
 * timer fires: a timer that fires early (the clock was set back, or the wait was capped) is
 * re-armed, and the run after a late one is computed from the current time, so a schedule never
 * runs twice for one time and, after a suspended machine, runs once rather than catching up.
 */
export class Scheduler {
  private readonly entries = new Map<number, Entry>()

  constructor(
    private readonly onDue: (id: number, at: number) => void,
    private readonly clock: ScheduleClock = realClock,
  ) {}

  get size(): number {
    return this.entries.size
  }

  /** Starts a schedule; its first run is the first time after now. */
  add(id: number, nextRun: NextRun): void {
    const entry: Entry = { nextRun, at: nextRun(this.clock.now()), timer: undefined }
    this.entries.set(id, entry)
    this.arm(id, entry)
  }

  remove(id: number): boolean {
    const entry = this.entries.get(id)
    if (!entry) return false
    this.clock.clearTimeout(entry.timer)
    this.entries.delete(id)
    return true
  }

  /** Epoch ms of the schedule's next run; undefined for an unknown id or a schedule with no further run. */
  next(id: number): number | undefined {
    return this.entries.get(id)?.at
  }

  clear(): void {
    for (const entry of this.entries.values()) this.clock.clearTimeout(entry.timer)
    this.entries.clear()
  }

  private arm(id: number, entry: Entry): void {
    if (entry.at === undefined) return
    const delay = Math.min(Math.max(entry.at - this.clock.now(), 0), MAX_TIMER_MS)
    entry.timer = this.clock.setTimeout(() => this.fire(id, entry), delay)
  }

  private fire(id: number, entry: Entry): void {
    if (this.entries.get(id) !== entry || entry.at === undefined) return
    const due = entry.at
    const now = this.clock.now()
    if (now < due) {
      this.arm(id, entry)
      return
    }
    // The following run is set before the callback so ms_next inside it already names it.
    entry.at = entry.nextRun(Math.max(now, due))
    this.arm(id, entry)
    this.onDue(id, due)
  }
}
