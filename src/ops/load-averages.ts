/**
 * Mosquitto's load averages ($SYS/broker/load/…/1min|5min|15min): the rate of a counter, per
 * minute, smoothed by an exponential moving average over 1, 5 and 15 minutes, as
 * Mosquitto's sys_tree.c computes them at each $SYS update:
 *   rate = Δcount × 60 / Δt;  load ← rate + e^(−Δt / window) × (load − rate)
 */

/** The three windows, in seconds, and the topic suffix of each. */
const windows = [
  { suffix: '1min', seconds: 60 },
  { suffix: '5min', seconds: 300 },
  { suffix: '15min', seconds: 900 },
] as const

export type LoadWindow = (typeof windows)[number]['suffix']

/** The smoothed rates of one counter. */
export class LoadAverage {
  private readonly loads = [0, 0, 0]
  private last: number | undefined

  /** Takes the counter's total `elapsedSeconds` after the previous update (the first sets the base). */
  update(total: number, elapsedSeconds: number): void {
    const previous = this.last
    this.last = total
    if (previous === undefined || elapsedSeconds <= 0) return
    const rate = ((total - previous) * 60) / elapsedSeconds
    for (let i = 0; i < windows.length; i++) {
      const window = windows[i]
      const load = this.loads[i]
      if (window === undefined || load === undefined) continue
      this.loads[i] = rate + Math.exp(-elapsedSeconds / window.seconds) * (load - rate)
    }
  }

  /** Each window's load, formatted as Mosquitto does (two decimals). */
  values(): [LoadWindow, string][] {
    return windows.map((w, i) => [w.suffix, (this.loads[i] ?? 0).toFixed(2)])
  }
}
