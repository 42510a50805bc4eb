/**
 * src/ops: running the broker as a service. This module is the main one of its monitoring
 * half: it starts the $SYS topics and the Prometheus metrics for a broker.
 *
 * Owns: the $SYS publisher (sys-topics.ts) with Mosquitto's load averages (load-averages.ts),
 * the Prometheus metrics (metrics.ts) and their stand-alone HTTP server (metrics-server.ts), and
 * the shapes of what they read besides the broker (sources.ts). The broker keeps the counters
 * (src/broker/counters.ts); this folder only reads them, through Broker.stats().
 *
 * This half imports of the broker only its public API (the Broker facade and types.ts); the
 * scripts' and bridges' state reaches it from src/index.ts as plain shapes. The folder's rules
 * are in index.ts.
 */
import { readFile } from 'node:fs/promises'
import type { Broker } from '../broker/broker.ts'
import { healthHandler } from './health.ts'
import { BrokerMetrics } from './metrics.ts'
import { startMetricsServer } from './metrics-server.ts'
import type { MonitorSources } from './sources.ts'
import { SysTopics } from './sys-topics.ts'

export type { MonitoredBridge, MonitoredScript, MonitorSources } from './sources.ts'
export { defaultSysInterval } from './sys-topics.ts'

export interface MonitoringOptions {
  /** Seconds between $SYS updates (0 or unset: no $SYS topics; the command line defaults it to 10). */
  sysInterval?: number | undefined
  /** Serve GET /metrics on this port alone (0 picks a free one); unset: no metrics server. */
  metricsPort?: number | undefined
  /** Build the metrics even without a metrics port (the dashboard serves them at /metrics). */
  metrics?: boolean | undefined
  sources?: MonitorSources | undefined
}

export interface Monitoring {
  /** The Prometheus metrics, when asked for (metricsPort or `metrics`). */
  readonly metrics: BrokerMetrics | undefined
  /** The bound port of the metrics server, when there is one. */
  readonly metricsPort: number | undefined
  /** One scrape, for a server of the embedder's (the dashboard); undefined without metrics. */
  readonly scrape: (() => Promise<{ body: string; contentType: string }>) | undefined
}

const running = new WeakMap<Broker, Monitoring>()

/** `tinymqtt <version>`, from the package's own package.json (beside src/ and dist/). */
async function brokerVersion(): Promise<string> {
  try {
    const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    const version = (JSON.parse(text) as { version?: unknown }).version
    return typeof version === 'string' ? `tinymqtt ${version}` : 'tinymqtt'
  } catch {
    return 'tinymqtt'
  }
}

/** Starts $SYS and the metrics for a running broker; both stop when it closes. */
export async function startMonitoring(broker: Broker, options: MonitoringOptions = {}): Promise<Monitoring> {
  const sysInterval = options.sysInterval ?? 0
  const sources = options.sources ?? {}
  const metrics =
    options.metrics || options.metricsPort !== undefined ? new BrokerMetrics(broker, sources) : undefined
  const scrape = metrics
    ? async () => ({ body: await metrics.scrape(), contentType: metrics.contentType })
    : undefined
  let server: { port: number; close: () => Promise<void> } | undefined
  if (scrape && options.metricsPort !== undefined) {
    try {
      server = await startMetricsServer(
        options.metricsPort,
        broker.options.host,
        scrape,
        broker.logger,
        healthHandler(broker),
      )
    } catch (error) {
      metrics?.close()
      throw error
    }
  }
  let sys: SysTopics | undefined
  if (sysInterval > 0) {
    sys = new SysTopics(broker, await brokerVersion(), sources)
    sys.start(sysInterval)
  }
  broker.addCloseHook(async () => {
    sys?.stop()
    metrics?.close()
    await server?.close()
  })
  const monitoring: Monitoring = { metrics, metricsPort: server?.port, scrape }
  running.set(broker, monitoring)
  return monitoring
}

/** The monitoring started with this broker (startBroker's sysInterval / metricsPort / http). */
export function monitoringOf(broker: Broker): Monitoring | undefined {
  return running.get(broker)
}
