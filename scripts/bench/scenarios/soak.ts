/**
 * The Espressif soak: 5 clients publishing once a second, all subscribed to all, one
 * dropped abruptly and reconnected every 10 s. Reports lost messages and samples the
 * broker's RSS every second to show whether it stays flat.
 */
import { rssBytes } from '../procs.ts'
import { runJob } from '../workers.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

const SAMPLE_EVERY_MS = 1000

/**
 * Least-squares slope of RSS over time in bytes per minute. A garbage-collected broker's
 * RSS saw-tooths, so first-versus-last says little; a trend over all samples says
 * whether it keeps growing.
 */
export function slopePerMinute(series: ReadonlyArray<readonly [seconds: number, rss: number]>): number {
  const n = series.length
  if (n < 3) return Number.NaN
  const mx = series.reduce((a, [x]) => a + x, 0) / n
  const my = series.reduce((a, [, y]) => a + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of series) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? Number.NaN : (num / den) * 60
}

export const soak: Scenario = {
  id: 'soak',
  metrics: [
    { id: 'soak-lost', label: 'soak: messages lost', unit: 'count', better: 'lower' },
    {
      id: 'soak-rss-trend',
      label: 'soak: RSS trend after warm-up (per minute)',
      unit: 'bytes',
      better: 'lower',
    },
  ],
  run: (launcher, options) =>
    withBroker(launcher, async (broker) => {
      const series: Array<[seconds: number, rss: number]> = []
      const t0 = performance.now()
      const sampler = setInterval(() => {
        const rss = rssBytes(broker.pid)
        if (rss !== undefined) series.push([Math.round((performance.now() - t0) / 1000), rss])
      }, SAMPLE_EVERY_MS)
      try {
        const result = await runJob(
          {
            kind: 'soak',
            port: broker.port,
            clients: 5,
            seconds: options.soakSeconds,
            publishEveryMs: 1000,
            dropEveryMs: 10_000,
            reconnectDelayMs: 100,
          },
          options.soakSeconds * 1000 + 60_000,
        )
        const notes = errorNotes(result.errors)
        if (result.duplicates > 0) notes.push(`${result.duplicates} duplicate deliveries`)
        // The first third is warm-up: connections, first reconnect, the JIT and heap settling.
        const steady = series.filter(([s]) => s >= options.soakSeconds / 3)
        const rss = series.map(([, r]) => r)
        return {
          values: { 'soak-lost': result.lost, 'soak-rss-trend': slopePerMinute(steady) },
          details: {
            ...result,
            rssFirst: rss[0],
            rssLast: rss[rss.length - 1],
            rssMin: Math.min(...rss),
            rssMax: Math.max(...rss),
            rssSeries: series,
          },
          notes,
        }
      } finally {
        clearInterval(sampler)
      }
    }),
}
