/**
 * The Espressif soak: 5 clients publishing once a second, all subscribed to all, one
 * dropped abruptly and reconnected every 10 s. Reports lost messages and samples the
 * broker's RSS every second to show whether it stays flat. With --soak-hostile, tinymqtt
 * also runs misbehaving scripts and a healthy one that must keep answering.
 */
import { type BrokerLauncher, tinymqttWithScripts } from '../brokers.ts'
import {
  HEALTHY_REPLY,
  HEALTHY_REQUEST,
  type HostileScripts,
  writeHostileScripts,
} from '../hostile-scripts.ts'
import { rssBytes } from '../procs.ts'
import { runJob } from '../workers.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

/** How often the hostile soak rewrites its churn script (each write is one reload). */
const REWRITE_EVERY_MS = 3000
/** How often the healthy script is asked a question. */
const HEALTHY_EVERY_MS = 1000

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
    { id: 'soak-acked-lost', label: 'soak: acknowledged QoS 1 lost', unit: 'count', better: 'lower' },
  ],
  run: (plain, options) => {
    // Only tinymqtt has a scripting host; the others run the plain soak.
    const hostile: HostileScripts | undefined =
      options.soakHostile && plain.name === 'tinymqtt' ? writeHostileScripts(REWRITE_EVERY_MS) : undefined
    const launcher: BrokerLauncher = hostile === undefined ? plain : tinymqttWithScripts(hostile.dir)
    return withBroker(launcher, async (broker) => {
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
            ...(hostile === undefined
              ? {}
              : {
                  healthy: {
                    requestTopic: HEALTHY_REQUEST,
                    replyTopic: HEALTHY_REPLY,
                    everyMs: HEALTHY_EVERY_MS,
                  },
                }),
          },
          options.soakSeconds * 1000 + 60_000,
        )
        const notes = errorNotes(result.errors)
        if (result.duplicates > 0) notes.push(`${result.duplicates} duplicate deliveries`)
        // The first third is warm-up: connections, first reconnect, the JIT and heap settling.
        const steady = series.filter(([s]) => s >= options.soakSeconds / 3)
        const rss = series.map(([, r]) => r)
        const trend = slopePerMinute(steady)
        if (result.ackedLost > 0)
          notes.push(`${result.ackedLost} deliveries of acknowledged QoS 1 publishes lost`)
        if (hostile !== undefined) {
          notes.push(
            `hostile scripts: ${hostile.rewrites()} reloads forced; healthy script answered ` +
              `${result.healthyReplies}/${result.healthyRequests} requests`,
          )
        } else if (options.soakHostile) notes.push('no scripting host: the plain soak')
        notes.push(
          `QoS 1: ${result.acknowledged}/${result.published} acknowledged, ${result.expected} deliveries ` +
            `expected, ${result.lost} lost (${result.ackedLost} of them acknowledged)`,
          `RSS: ${mb(rss[0])} → ${mb(rss[rss.length - 1])} MB (min ${mb(Math.min(...rss))}, max ` +
            `${mb(Math.max(...rss))}); trend after warm-up ${(trend / 1e6).toFixed(2)} MB/min over ${steady.length} samples`,
        )
        return {
          values: {
            'soak-lost': result.lost,
            'soak-rss-trend': trend,
            'soak-acked-lost': result.ackedLost,
          },
          details: {
            ...result,
            hostile: hostile !== undefined,
            reloadsForced: hostile?.rewrites(),
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
    }).finally(() => hostile?.stop())
  },
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? '?' : (bytes / 1e6).toFixed(1))
