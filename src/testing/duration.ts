import { present } from '../util/invariant.ts'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y

/**
 * Reads a duration for `advance`: a number of milliseconds, or parts such as '10m', '1h30m',
 * '2s', '500ms', '1d12h'. Throws a RangeError naming the text when it cannot be read.
 */
export function parseDuration(duration: string | number): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new RangeError(`duration must be a finite number of milliseconds ≥ 0, got ${duration}`)
    }
    return duration
  }
  const text = duration.replace(/\s+/g, '')
  let total = 0
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text)
    if (!m) break
    const [, amount, unit = ''] = m
    total += Number(amount) * present(UNIT_MS[unit], 'the length of a duration unit')
  }
  if (text === '' || PART.lastIndex !== text.length) {
    throw new RangeError(
      `invalid duration '${duration}': expected parts such as '10m', '1h30m', '2s', '500ms' or a number of ms`,
    )
  }
  return total
}
