/**
 * The q-quantile of an ascending list by the rule every suite has used: the element at
 * floor(q·n), the last one for q = 1. Kept in one place so that the suites' medians and
 * percentiles stay comparable with the figures they printed before.
 */
export function quantile(sorted: readonly number[], q: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  if (value === undefined) throw new Error('quantile of an empty list')
  return value
}

/** A sorted copy, for quantile(). */
export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b)
}
