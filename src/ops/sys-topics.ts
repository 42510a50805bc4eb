import type { Broker } from '../broker/broker.ts'
import type { BrokerStats } from '../broker/types.ts'
import { LoadAverage } from './load-averages.ts'
import type { MonitorSources } from './sources.ts'

/** Mosquitto's default, and the command line's: a $SYS update every 10 seconds. */
export const defaultSysInterval = 10

/** The counters with load averages: Mosquitto's `$SYS/broker/load/<name>/1min` etc. */
const loads: readonly [string, (s: BrokerStats) => number][] = [
  ['messages/received', (s) => s.packetsIn],
  ['messages/sent', (s) => s.packetsOut],
  ['publish/received', (s) => s.messagesIn],
  ['publish/sent', (s) => s.messagesOut],
  ['publish/dropped', (s) => s.messagesDropped],
  ['bytes/received', (s) => s.bytesIn],
  ['bytes/sent', (s) => s.bytesOut],
  ['connections', (s) => s.connects],
  ['sockets', (s) => sum(s.connectionsAccepted)],
]

function sum(counts: Record<string, number>): number {
  let total = 0
  for (const n of Object.values(counts)) total += n
  return total
}

/** A script name as one topic level: `+`, `#` and NUL may not appear in a topic name. */
function topicLevel(name: string): string {
  return name.replace(/[+#\0]/g, '_')
}

/**
 * Publishes the broker's state under `$SYS/broker/…` with Mosquitto's names, retained at QoS 0,
 * every `interval` seconds: a value is published again only when it changed, as Mosquitto does.
 * The broker keeps `$SYS` retained messages in memory only (router.ts), so updates cost the
 * store nothing; a `#` subscription does not match them (the `$` rule), and the ACL applies as
 * to any topic.
 */
export class SysTopics {
  private readonly published = new Map<string, string>()
  private readonly loadAverages = loads.map(() => new LoadAverage())
  private readonly scriptTopics = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private lastUpdate = 0

  constructor(
    private readonly broker: Broker,
    private readonly version: string,
    private readonly sources: MonitorSources = {},
  ) {}

  /** Publishes now, then every `interval` seconds until stop(). */
  start(interval: number): void {
    this.update()
    this.timer = setInterval(() => this.update(), interval * 1000)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One update: every value computed, the changed ones published. */
  update(): void {
    const now = performance.now()
    const elapsed = this.lastUpdate === 0 ? 0 : (now - this.lastUpdate) / 1000
    this.lastUpdate = now
    const s = this.broker.stats()
    const stored = s.storedMessages + s.retained
    const values: [string, string | number][] = [
      ['version', this.version],
      ['uptime', `${Math.floor(s.uptimeSeconds)} seconds`],
      ['clients/connected', s.clients],
      ['clients/disconnected', Math.max(0, s.sessions - s.clients)],
      ['clients/total', s.sessions],
      ['clients/maximum', s.clientsMaximum],
      ['clients/expired', s.sessionsExpired],
      ['messages/received', s.packetsIn],
      ['messages/sent', s.packetsOut],
      ['messages/stored', stored],
      ['publish/messages/received', s.messagesIn],
      ['publish/messages/sent', s.messagesOut],
      ['publish/messages/dropped', s.messagesDropped],
      ['bytes/received', s.bytesIn],
      ['bytes/sent', s.bytesOut],
      ['retained messages/count', s.retained],
      ['subscriptions/count', s.subscriptions],
      ['store/messages/count', stored],
      ['heap/current', s.memory.heapUsed],
    ]
    for (const [name, value] of values) this.set(`$SYS/broker/${name}`, String(value))
    for (let i = 0; i < loads.length; i++) {
      const entry = loads[i]
      const load = this.loadAverages[i]
      if (entry === undefined || load === undefined) continue
      load.update(entry[1](s), elapsed)
      for (const [window, value] of load.values()) this.set(`$SYS/broker/load/${entry[0]}/${window}`, value)
    }
    this.updateScripts()
  }

  /** `$SYS/broker/scripts/<name>/…`; a script that went away has its topics cleared. */
  private updateScripts(): void {
    const scripts = this.sources.scripts?.()
    if (scripts === undefined) return
    const current = new Set<string>()
    for (const script of scripts) {
      const base = `$SYS/broker/scripts/${topicLevel(script.name)}`
      const fields: [string, string | number][] = [
        ['status', script.status],
        ['callbacks', script.callbacks],
        ['errors', script.errors],
        ['publishes', script.publishes],
      ]
      for (const [field, value] of fields) {
        const topic = `${base}/${field}`
        current.add(topic)
        this.set(topic, String(value))
      }
    }
    for (const topic of this.scriptTopics) {
      if (current.has(topic)) continue
      this.published.delete(topic)
      this.publish(topic, '')
    }
    this.scriptTopics.clear()
    for (const topic of current) this.scriptTopics.add(topic)
  }

  private set(topic: string, value: string): void {
    if (this.published.get(topic) === value) return
    this.published.set(topic, value)
    this.publish(topic, value)
  }

  private publish(topic: string, payload: string): void {
    this.broker
      .publish({ topic, payload, qos: 0, retain: true })
      .catch((error: unknown) => this.broker.logger.warn({ err: error, topic }, '$SYS update not published'))
  }
}
