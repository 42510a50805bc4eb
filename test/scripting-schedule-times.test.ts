import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { getTimes } from 'suncalc'
import {
  compileSchedule,
  MAX_TIMER_MS,
  type NextRun,
  type ScheduleClock,
  Scheduler,
} from '../src/scripting/schedules.ts'
import { nextSunEvent, parseSunSpec } from '../src/scripting/sun-events.ts'
import { defined } from './defined.ts'
import { type DstRuns, dstRuns } from './fixtures/schedule-dst-runs.ts'

const BERLIN = { latitude: 52.52, longitude: 13.405 }
const TROMSO = { latitude: 69.65, longitude: 18.96 }
const HOUR = 3_600_000
const DAY = 24 * HOUR
const ms = (iso: string) => Date.parse(iso)

function sunTime(dayIso: string, event: 'sunrise' | 'sunset' | 'dawn' | 'dusk' | 'solarNoon', at = BERLIN) {
  const t = getTimes(new Date(`${dayIso}T12:00:00Z`), at.latitude, at.longitude)[event]
  assert.ok(t instanceof Date, `${event} on ${dayIso}`)
  return t.getTime()
}

/** Every run of `next` in (from, to]. */
function runs(next: NextRun, from: number, to: number): number[] {
  const out: number[] = []
  for (let t = next(from); t !== undefined && t <= to; t = next(t)) out.push(t)
  return out
}

describe('sun-event schedules (next run)', () => {
  const sun = (spec: string, at = BERLIN) => compileSchedule(spec, { location: at })

  it('each event is the one suncalc computes for that day', () => {
    const from = ms('2025-06-01T00:00:00Z')
    for (const event of ['sunrise', 'sunset', 'dawn', 'dusk', 'solarNoon'] as const) {
      assert.equal(sun(event)(from), sunTime('2025-06-01', event), event)
    }
  })

  it('after the event has passed, the next one is the following day', () => {
    const sunset = sunTime('2025-06-01', 'sunset')
    assert.equal(sun('sunset')(sunset), sunTime('2025-06-02', 'sunset'))
    assert.equal(sun('sunset')(sunset - 1), sunset)
  })

  it('offsets move the event: sunset+15m, sunrise-1h30m, and seconds', () => {
    const from = ms('2025-06-01T00:00:00Z')
    assert.equal(sun('sunset+15m')(from), sunTime('2025-06-01', 'sunset') + 15 * 60_000)
    assert.equal(sun('sunrise-1h30m')(from), sunTime('2025-06-01', 'sunrise') - 90 * 60_000)
    assert.equal(sun('dusk + 1h 2m 3s')(from), sunTime('2025-06-01', 'dusk') + 3_723_000)
    // Sunrise was at ~02:45Z; an hour before it on the next day is the next run after 04:00Z.
    assert.equal(sun('sunrise-1h')(ms('2025-06-01T04:00:00Z')), sunTime('2025-06-02', 'sunrise') - HOUR)
  })

  it('a large positive offset still finds the earliest run', () => {
    const from = ms('2025-06-02T10:00:00Z')
    // Yesterday's sunset + 20h lies after `from`.
    assert.equal(sun('sunset+20h')(from), sunTime('2025-06-01', 'sunset') + 20 * HOUR)
  })

  it('polar night: Tromsø sunrise in December is skipped to the first sunrise in January', () => {
    const next = sun('sunrise', TROMSO)(ms('2025-12-10T00:00:00Z'))
    assert.ok(next !== undefined)
    const day = new Date(next).toISOString().slice(0, 10)
    assert.ok(day >= '2026-01-10' && day <= '2026-01-20', day)
    assert.equal(next, sunTime(day, 'sunrise', TROMSO))
    // No sunrise on any day in between.
    for (let d = ms('2025-12-10T12:00:00Z'); d < next - DAY; d += DAY) {
      assert.equal(getTimes(new Date(d), TROMSO.latitude, TROMSO.longitude).sunrise, null)
    }
    // Civil dawn still happens every day there.
    const dawn = sun('dawn', TROMSO)(ms('2025-12-10T00:00:00Z'))
    assert.equal(dawn, sunTime('2025-12-10', 'dawn', TROMSO))
  })

  it('polar day: Tromsø sunset at midsummer is skipped to late July', () => {
    const next = sun('sunset', TROMSO)(ms('2025-06-21T00:00:00Z'))
    assert.ok(next !== undefined)
    const day = new Date(next).toISOString().slice(0, 10)
    assert.ok(day >= '2025-07-20' && day <= '2025-07-31', day)
    assert.equal(next, sunTime(day, 'sunset', TROMSO))
    assert.ok(
      defined(
        sun('solarNoon', TROMSO)(ms('2025-06-21T00:00:00Z')),
        "sun('solarNoon', TROMSO)(ms('2025-06-21T00:00:00Z'))",
      ) < ms('2025-06-22T00:00:00Z'),
    )
  })

  it('at the pole the next sunrise is months away and still found', () => {
    const next = nextSunEvent(
      { event: 'sunrise', offsetMs: 0 },
      { latitude: 89.9, longitude: 0 },
      ms('2025-10-01T00:00:00Z'),
    )
    assert.ok(next !== undefined)
    assert.ok(new Date(next).toISOString().slice(0, 7) <= '2026-03', new Date(next).toISOString())
  })

  it('reads specs and refuses broken offsets', () => {
    assert.deepEqual(parseSunSpec('sunset'), { event: 'sunset', offsetMs: 0 })
    assert.deepEqual(parseSunSpec('sunrise-1h30m'), { event: 'sunrise', offsetMs: -5_400_000 })
    assert.equal(parseSunSpec('*/5 * * * * *'), undefined)
    for (const bad of ['sunset+', 'sunset+15', 'sunset+15x', 'sunset 15m', 'sunset+1m2h']) {
      assert.throws(() => parseSunSpec(bad), /invalid sun event/, bad)
    }
  })

  it('without a location a sun event is refused with a message naming the options', () => {
    assert.throws(() => compileSchedule('sunset'), /--latitude <deg> --longitude <deg>/)
  })
})

describe('cron schedules (next run)', () => {
  it('reads 5 and 6 fields, ranges, steps, lists and names', () => {
    const from = ms('2025-01-01T00:00:00Z')
    const utc = { timezone: 'UTC' }
    assert.deepEqual(runs(compileSchedule('*/20 * * * * *', utc), from, from + 60_000), [
      from + 20_000,
      from + 40_000,
      from + 60_000,
    ])
    assert.equal(compileSchedule('30 8 * * MON-FRI', utc)(from), ms('2025-01-01T08:30:00Z')) // a Wednesday
    assert.equal(compileSchedule('0 12 * JUL sat,sun', utc)(from), ms('2025-07-05T12:00:00Z'))
    assert.deepEqual(runs(compileSchedule('0 9-17/4 1 1 *', utc), from, from + DAY), [
      ms('2025-01-01T09:00:00Z'),
      ms('2025-01-01T13:00:00Z'),
      ms('2025-01-01T17:00:00Z'),
    ])
  })

  it('refuses a wrong field count or value with a clear message', () => {
    assert.throws(() => compileSchedule('* * * *'), /expected a cron expression of 5 fields/)
    assert.throws(() => compileSchedule('0 0 0 * * * 2030'), /expected a cron expression of 5 fields/)
    assert.throws(() => compileSchedule('61 * * * *'), /invalid cron expression '61 \* \* \* \*': .*minute/)
    assert.throws(() => compileSchedule('every day'), SyntaxError)
  })
})

const berlin = (t: number) => new Date(t).toLocaleString('sv-SE', { timeZone: 'Europe/Berlin' })

function checkDst(runs: DstRuns): void {
  assert.equal(runs.zone, 'Europe/Berlin')
  // Spring: 02:30 does not exist on 30 March; that day's run comes right after the gap, once.
  assert.deepEqual(runs.springDaily.map(berlin), [
    '2025-03-29 02:30:00',
    '2025-03-30 03:00:00',
    '2025-03-31 02:30:00',
    '2025-04-01 02:30:00',
  ])
  // Autumn: 02:30 happens twice on 26 October; it runs once, at the first.
  assert.deepEqual(runs.autumnDaily.map(berlin), [
    '2025-10-25 02:30:00',
    '2025-10-26 02:30:00',
    '2025-10-27 02:30:00',
    '2025-10-28 02:30:00',
  ])
  assert.equal(runs.autumnDaily[1], ms('2025-10-26T00:30:00Z'))
  // Hourly: once per real hour across each change, none missed or doubled: the 24 real hours
  // from noon to noon hold 24 runs, one hour apart, although the wall-clock day has 23 or 25 hours.
  for (const hourly of [runs.springHourly, runs.autumnHourly]) {
    assert.equal(hourly.length, 24)
    assert.deepEqual(
      new Set(hourly.slice(1).map((t, i) => t - defined(hourly[i], 'hourly[i]'))),
      new Set([HOUR]),
    )
  }
  assert.deepEqual(
    runs.autumnHourly.map(berlin).filter((t) => t.startsWith('2025-10-26 02:')),
    ['2025-10-26 02:00:00', '2025-10-26 02:00:00'],
  )
  assert.ok(!runs.springHourly.map(berlin).some((t) => t.startsWith('2025-03-30 02:')))
}

describe('cron schedules across daylight-saving changes (Europe/Berlin)', () => {
  it('with the zone given explicitly', () => {
    checkDst(dstRuns({ timezone: 'Europe/Berlin' }))
  })

  it('in the local zone, as the broker runs them (a child process with TZ=Europe/Berlin)', async () => {
    const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'schedule-dst-runs.ts')
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, TZ: 'Europe/Berlin' },
    })
    checkDst(JSON.parse(stdout) as DstRuns)
  })
})

describe('Scheduler (timers for the next run)', () => {
  class FakeClock implements ScheduleClock {
    time = 0
    armed: Array<{ fn: () => void; at: number; delay: number; live: boolean }> = []
    now = () => this.time
    setTimeout = (fn: () => void, delay: number) => {
      const t = { fn, at: this.time + delay, delay, live: true }
      this.armed.push(t)
      return t
    }
    clearTimeout = (handle: unknown) => {
      if (handle !== undefined) (handle as { live: boolean }).live = false
    }
    /** Moves the clock to `to`, firing due timers in order. */
    advance(to: number) {
      for (;;) {
        const due = this.armed.filter((t) => t.live && t.at <= to).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        due.live = false
        this.time = due.at
        due.fn()
      }
      this.time = to
    }
  }

  it('a run more than 2^31-1 ms away is armed in capped steps and fires once, on time', () => {
    const clock = new FakeClock()
    const fired: number[] = []
    const scheduler = new Scheduler((_id, at) => fired.push(at), clock)
    const far = 60 * DAY
    scheduler.add(1, (from) => (from < far ? far : undefined))
    assert.equal(scheduler.next(1), far)
    assert.ok(clock.armed.every((t) => t.delay <= MAX_TIMER_MS))
    clock.advance(far - 1)
    assert.deepEqual(fired, [])
    assert.ok(clock.armed.length >= 2, 'the wait was re-armed')
    assert.ok(clock.armed.every((t) => t.delay <= MAX_TIMER_MS))
    clock.advance(far + DAY)
    assert.deepEqual(fired, [far])
    assert.equal(scheduler.next(1), undefined)
  })

  it('a timer that fires early is re-armed; a late one runs once and continues from now', () => {
    const clock = new FakeClock()
    const fired: number[] = []
    const scheduler = new Scheduler((_id, at) => fired.push(at), clock)
    const everySecond: NextRun = (from) => Math.floor(from / 1000) * 1000 + 1000
    scheduler.add(1, everySecond)
    // The wall clock is set back before the timer fires: the timer comes too early.
    defined(clock.armed[0], 'clock.armed[0]').at = 500
    clock.advance(500)
    assert.deepEqual(fired, [])
    clock.advance(1000)
    assert.deepEqual(fired, [1000])
    // The process stalls for 10 s: the overdue run happens once, then the next from now.
    const live = defined(
      clock.armed.find((t) => t.live),
      'clock.armed.find((t) => t.live)',
    )
    clock.time = 12_345
    live.live = false
    live.fn()
    assert.deepEqual(fired, [1000, 2000])
    assert.equal(scheduler.next(1), 13_000)
  })

  it('names the following run inside the callback, and remove() stops it', () => {
    const clock = new FakeClock()
    const seen: Array<number | undefined> = []
    const scheduler: Scheduler = new Scheduler((id) => seen.push(scheduler.next(id)), clock)
    scheduler.add(7, (from) => Math.floor(from / 1000) * 1000 + 1000)
    clock.advance(1000)
    assert.deepEqual(seen, [2000])
    assert.equal(scheduler.remove(7), true)
    assert.equal(scheduler.remove(7), false)
    clock.advance(10_000)
    assert.deepEqual(seen, [2000])
    assert.equal(scheduler.next(7), undefined)
  })
})
