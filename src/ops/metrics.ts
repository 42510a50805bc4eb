import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Broker } from '../broker/broker.ts'
import type { BrokerStats } from '../broker/types.ts'
import type { MonitoredBridge, MonitoredScript, MonitorSources } from './sources.ts'

/** The store's commits take from well under a millisecond (a page cache write) to seconds (a slow disk). */
const commitBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * The broker's Prometheus metrics (text exposition format, through prom-client). The broker
 * only increments integers (src/broker/counters.ts); everything here is read at scrape time by
 * the metrics' collect() callbacks from one stats() snapshot per scrape, so a scrape costs the
 * broker nothing between scrapes. Node's process metrics (CPU, memory, event loop lag, GC) come
 * from prom-client's default collectors.
 */
export class BrokerMetrics {
  readonly registry = new Registry()
  /** The snapshot the collect() callbacks of one scrape read. */
  private stats: BrokerStats
  private scripts: readonly MonitoredScript[] = []
  private bridges: readonly MonitoredBridge[] = []
  private readonly commitTimes: Histogram
  private readonly observeCommit = (seconds: number): void => this.commitTimes.observe(seconds)

  constructor(
    private readonly broker: Broker,
    private readonly sources: MonitorSources = {},
  ) {
    this.stats = broker.stats()
    const registers = [this.registry]
    const gauge = (name: string, help: string, read: (s: BrokerStats) => number): void => {
      const self = this
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(self.stats))
        },
      })
    }
    const counter = (name: string, help: string, read: (s: BrokerStats) => number): void => {
      const self = this
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read(self.stats))
        },
      })
    }
    gauge('tinymqtt_clients_connected', 'Clients connected now (CONNECT accepted)', (s) => s.clients)
    gauge(
      'tinymqtt_clients_maximum',
      'The most clients connected at once since start',
      (s) => s.clientsMaximum,
    )
    gauge(
      'tinymqtt_connections',
      'Open network connections, including ones not past CONNECT',
      (s) => s.connections,
    )
    gauge('tinymqtt_sessions', 'Sessions held, connected or not', (s) => s.sessions)
    gauge('tinymqtt_subscriptions', 'Subscriptions of all sessions', (s) => s.subscriptions)
    gauge('tinymqtt_retained_messages', 'Retained messages held', (s) => s.retained)
    gauge(
      'tinymqtt_stored_messages',
      'Messages held for sessions (in flight and queued)',
      (s) => s.storedMessages,
    )
    counter(
      'tinymqtt_messages_received_total',
      'PUBLISH messages routed: from clients, scripts, wills, bridges and $SYS',
      (s) => s.messagesIn,
    )
    counter('tinymqtt_messages_sent_total', 'PUBLISH packets sent to clients', (s) => s.messagesOut)
    counter('tinymqtt_packets_received_total', 'MQTT packets of every kind received', (s) => s.packetsIn)
    counter('tinymqtt_packets_sent_total', 'MQTT packets of every kind sent', (s) => s.packetsOut)
    counter('tinymqtt_bytes_received_total', 'Bytes received from clients', (s) => s.bytesIn)
    counter('tinymqtt_bytes_sent_total', 'Bytes sent to clients', (s) => s.bytesOut)
    counter('tinymqtt_connects_total', 'CONNECTs accepted', (s) => s.connects)
    counter(
      'tinymqtt_auth_failures_total',
      'CONNECTs refused for bad credentials or missing authorization',
      (s) => s.authFailures,
    )
    counter(
      'tinymqtt_sessions_expired_total',
      'Offline sessions discarded at their expiry',
      (s) => s.sessionsExpired,
    )
    const self = this
    new Counter({
      name: 'tinymqtt_messages_dropped_total',
      help: 'Messages dropped for a subscriber: queue_full (QoS 1/2 beyond its queue), slow_consumer (QoS 0 shed for a client that does not read), too_large (over its Maximum Packet Size)',
      labelNames: ['reason'],
      registers,
      collect() {
        const by = self.stats.messagesDroppedBy
        this.reset()
        this.inc({ reason: 'queue_full' }, by.queueFull)
        this.inc({ reason: 'slow_consumer' }, by.slowConsumer)
        this.inc({ reason: 'too_large' }, by.tooLarge)
      },
    })
    new Counter({
      name: 'tinymqtt_connections_total',
      help: 'Network connections accepted, by listener',
      labelNames: ['listener'],
      registers,
      collect() {
        this.reset()
        for (const [listener, count] of Object.entries(self.stats.connectionsAccepted))
          this.inc({ listener }, count)
      },
    })
    this.commitTimes = new Histogram({
      name: 'tinymqtt_store_commit_seconds',
      help: 'Time of each commit (group commit) of the durable store',
      buckets: commitBuckets,
      registers,
    })
    broker.on('storeCommit', this.observeCommit)
    const perScript = (name: string, help: string, read: (s: MonitoredScript) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['script'],
        registers,
        collect() {
          this.reset()
          for (const script of self.scripts) this.inc({ script: script.name }, read(script))
        },
      })
    }
    perScript(
      'tinymqtt_script_callbacks_total',
      'Calls into a script: messages delivered to its subscriptions, timer and schedule runs',
      (s) => s.callbacks,
    )
    perScript('tinymqtt_script_errors_total', 'Errors a script threw, or that stopped it', (s) => s.errors)
    perScript('tinymqtt_script_publishes_total', 'Messages a script published', (s) => s.publishes)
    new Gauge({
      name: 'tinymqtt_script_up',
      help: 'Whether a script is running (1) or not (0: loading, failed or stopped)',
      labelNames: ['script'],
      registers,
      collect() {
        this.reset()
        for (const script of self.scripts) this.set({ script: script.name }, isRunning(script.status) ? 1 : 0)
      },
    })
    new Gauge({
      name: 'tinymqtt_bridge_up',
      help: 'Whether a bridge is connected to its remote broker',
      labelNames: ['bridge'],
      registers,
      collect() {
        this.reset()
        for (const bridge of self.bridges) this.set({ bridge: bridge.name }, bridge.connected ? 1 : 0)
      },
    })
    collectDefaultMetrics({ register: this.registry })
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** The exposition text; the state is read once, now, for every metric. */
  async scrape(): Promise<string> {
    this.stats = this.broker.stats()
    this.scripts = this.sources.scripts?.() ?? []
    this.bridges = this.sources.bridges?.() ?? []
    return this.registry.metrics()
  }

  close(): void {
    this.broker.off('storeCommit', this.observeCommit)
  }
}

/** Running, possibly rate-limited or with a recent limit hit: still handling its messages. */
function isRunning(status: string): boolean {
  return status === 'running' || status === 'throttled' || status === 'over-limit'
}
