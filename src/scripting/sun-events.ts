import { getTimes } from 'suncalc'
import type { Location } from './location.ts'

/** The sun events a schedule may name; `dawn` and `dusk` are civil twilight (sun 6° below the horizon). */
export const SUN_EVENTS = ['sunrise', 'sunset', 'dawn', 'dusk', 'solarNoon'] as const
export type SunEventName = (typeof SUN_EVENTS)[number]

export interface SunSpec {
  event: SunEventName
  /** Milliseconds added to the event (negative: before it). */
  offsetMs: number
}

const DAY_MS = 86_400_000
/**
 * How far ahead to look for an event. At the poles sunrise comes once a year, so a year and a
 * bit always finds the next one where it occurs at all.
 */
const SEARCH_DAYS = 370
const SPEC = /^([A-Za-z]+)\s*(?:([+-])\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?)?$/

/**
 * Reads `sunset`, `sunset+15m`, `sunrise-1h30m` (hours, minutes, seconds). Returns undefined when
 * `spec` does not start with a sun event's name (it may be a cron expression); throws when it
 * does but the offset cannot be read.
 */
export function parseSunSpec(spec: string): SunSpec | undefined {
  const text = spec.trim()
  const name = /^[A-Za-z]+/.exec(text)?.[0]
  const event = SUN_EVENTS.find((e) => e === name)
  if (event === undefined) return undefined
  const m = SPEC.exec(text)
  const hasUnit = m !== null && (m[3] !== undefined || m[4] !== undefined || m[5] !== undefined)
  if (m === null || (m[2] !== undefined && !hasUnit)) {
    throw new SyntaxError(
      `invalid sun event '${spec}': expected ${event} with an optional offset such as ${event}+15m or ${event}-1h30m`,
    )
  }
  const ms = (Number(m[3] ?? 0) * 3600 + Number(m[4] ?? 0) * 60 + Number(m[5] ?? 0)) * 1000
  return { event, offsetMs: m[2] === '-' ? -ms : ms }
}

/** The event's instant on the solar day around `dayMs` (a UTC noon), or undefined when it does not occur that day. */
function eventOn(dayMs: number, event: SunEventName, at: Location): number | undefined {
  const times = getTimes(new Date(dayMs), at.latitude, at.longitude)
  const t = times[event]
  return t instanceof Date ? t.getTime() : undefined
}

/**
 * The first time strictly after `from` (epoch ms) at which the event plus its offset falls.
 * Days on which the event does not happen (polar day or night) are skipped; undefined only when
 * it does not happen within a year.
 */
export function nextSunEvent(spec: SunSpec, at: Location, from: number): number | undefined {
  // Start a day early (two with a large negative offset) so an offset that moves the event
  // across midnight is not missed; events of successive days are in order, so the first
  // match is the next one.
  const back = 1 + Math.ceil(Math.max(0, spec.offsetMs) / DAY_MS)
  const firstDay = Math.floor(from / DAY_MS) - back
  for (let day = firstDay; day <= firstDay + SEARCH_DAYS + back; day++) {
    const t = eventOn(day * DAY_MS + DAY_MS / 2, spec.event, at)
    if (t !== undefined && t + spec.offsetMs > from) return t + spec.offsetMs
  }
  return undefined
}
