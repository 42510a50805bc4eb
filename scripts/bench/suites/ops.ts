/**
 * The cost of monitoring a busy broker: `npm run bench -- ops`. Measures the CPU (process.cpuUsage,
 * not wall time, so a shared machine skews it less) of one Prometheus scrape (the exposition text
 * of every metric, Node's process metrics included) and of one $SYS update in which every value
 * changed (as under steady traffic), on a broker holding `clients` sessions with subscriptions and
 * `retained` retained messages, with one client subscribed to `$SYS/#` so each update is also
 * delivered. Each figure is the loop's CPU minus the same loop without the measured call, and is
 * related to the budget: a scrape every second, $SYS every 10 s (and every second), on a
 * broker routing 100,000 messages a second.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { type Broker, monitoringOf, startBroker } from '../../../src/index.ts'
import { SysTopics } from '../../../src/ops/sys-topics.ts'
import type { OpsOptions } from '../options.ts'

const BUDGET_RATE = 100_000

function cpuMs(): number {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** CPU ms per round of `measured` (awaited, then one event-loop turn so its writes go out), less the bare loop. */
async function perRound(rounds: number, between: () => void, measured: () => unknown): Promise<number> {
  const loop = async (call: boolean): Promise<number> => {
    const start = cpuMs()
    for (let i = 0; i < rounds; i++) {
      between()
      if (call) await measured()
      await tick()
    }
    return (cpuMs() - start) / rounds
  }
  await loop(true) // warm-up
  const results: number[] = []
  for (let r = 0; r < 3; r++) results.push((await loop(true)) - (await loop(false)))
  return Math.max(0, Math.min(...results))
}

async function connectClients(broker: Broker, count: number): Promise<MqttClient[]> {
  const clients: MqttClient[] = []
  for (let i = 0; i < count; i++) {
    const client = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: broker.port,
      clientId: `ops-bench-${i}`,
      clean: false,
      reconnectPeriod: 0,
    })
    await client.subscribeAsync([`devices/${i}/set`, `rooms/${i % 20}/#`], { qos: 1 })
    clients.push(client)
  }
  return clients
}

export async function run(options: OpsOptions): Promise<number> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', metricsPort: 0 })
  const scrape = monitoringOf(broker)?.scrape
  if (!scrape) throw new Error('no metrics')
  for (let i = 0; i < options.retained; i++)
    await broker.publish({ topic: `state/${i}`, payload: `{"value":${i}}`, retain: true })
  const clients = await connectClients(broker, options.clients)
  const watcher = await mqtt.connectAsync({ host: '127.0.0.1', port: broker.port, reconnectPeriod: 0 })
  await watcher.subscribeAsync('$SYS/#')
  const stats = broker.stats()
  console.log(
    `broker: ${stats.clients} clients, ${stats.sessions} sessions, ${stats.subscriptions} subscriptions, ` +
      `${stats.retained} retained; ${options.rounds} rounds, best of 3`,
  )

  let n = 0
  // Between rounds one message moves every counter, so each $SYS update republishes every value.
  const traffic = (): void => {
    void broker.publish({ topic: `rooms/${n++ % 20}/temperature`, payload: '21.5' })
  }
  const body = (await scrape()).body
  const scrapeMs = await perRound(options.rounds, traffic, scrape)
  const sys = new SysTopics(broker, 'tinymqtt bench', {})
  const sysMs = await perRound(options.rounds, traffic, () => sys.update())

  const share = (ms: number, perSecond: number): string => `${((ms * perSecond) / 10).toFixed(3)} %`
  console.log(
    `one scrape:      ${(scrapeMs * 1000).toFixed(0)} µs CPU (${body.length} bytes of exposition text)`,
  )
  console.log(
    `one $SYS update: ${(sysMs * 1000).toFixed(0)} µs CPU (every value changed, delivered to one subscriber)`,
  )
  console.log(
    `of one core: scrape every 1 s ${share(scrapeMs, 1)}; $SYS every 10 s ${share(sysMs, 0.1)}, every 1 s ${share(sysMs, 1)}`,
  )
  console.log(
    `per message at ${BUDGET_RATE.toLocaleString('en')} msg/s: scrape every 1 s ${((scrapeMs * 1e6) / BUDGET_RATE).toFixed(2)} ns, ` +
      `$SYS every 10 s ${((sysMs * 1e5) / BUDGET_RATE).toFixed(2)} ns (the hot path's own counting is a few integer increments)`,
  )
  for (const client of clients) await client.endAsync()
  await watcher.endAsync()
  await broker.close()
  return 0
}
