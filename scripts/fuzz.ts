/**
 * Long fuzz runs of the MQTT input path; `npm test` runs the same properties bounded
 * (test/protocol-fuzz.test.ts, test/broker-fuzz-live.test.ts).
 *
 *   node --import tsx scripts/fuzz.ts --runs 1000000        framer and decoder properties
 *   node --import tsx scripts/fuzz.ts --live --seconds 60   hostile sockets against a live broker
 *   --seed <n> replays a run (the seed is printed); --sockets <n> hostile sockets at once (live).
 *
 * With `node --expose-gc` the live run reports heap and RSS after a forced collection.
 * Exits 1 when a property fails or the live run loses a message or leaks a connection.
 */
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import mqtt from 'mqtt'
import pino from 'pino'
import { startBroker } from '../src/index.ts'
import {
  deliveryProblems,
  HealthyPair,
  type HostilePlan,
  hostilePlanArb,
  runHostile,
} from '../test/fuzz-live.ts'
import { fuzzProperties } from '../test/fuzz-properties.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    live: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '60' },
    sockets: { type: 'string', default: '40' },
  },
})
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
console.log(`seed ${seed}`)

process.exitCode = values.live ? await live() : properties()

/** Each property gets `--runs` scaled by its share of the `npm test` runs (the heaviest gets all). */
function properties(): number {
  const runs = Number(values.runs)
  const heaviest = Math.max(...fuzzProperties.map((p) => p.runs))
  let failed = 0
  for (const p of fuzzProperties) {
    const numRuns = Math.max(1, Math.round((runs * p.runs) / heaviest))
    const start = performance.now()
    try {
      p.check({ seed, numRuns })
      console.log(`ok   ${p.name}: ${numRuns} runs in ${((performance.now() - start) / 1000).toFixed(1)} s`)
    } catch (error) {
      failed++
      console.log(`FAIL ${p.name}\n${(error as Error).message}`)
    }
  }
  return failed === 0 ? 0 : 1
}

async function live(): Promise<number> {
  const seconds = Number(values.seconds)
  const concurrency = Number(values.sockets)
  let internalErrors = 0
  const logger = pino(
    { level: 'error' },
    {
      write: (line: string) => {
        // The first few in full: each is a bug to turn into a regression test.
        if (internalErrors++ < 5) console.log(`error record: ${line.trim()}`)
      },
    },
  )
  const warnings: string[] = []
  process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`))
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logger, connectTimeout: 1 })
  const port = broker.port
  broker.publish({ topic: 'fuzz/retained', payload: 'kept', qos: 1, retain: true })
  const pairs = [
    await HealthyPair.open(port, 'fuzz/healthy/4', 4),
    await HealthyPair.open(port, 'fuzz/healthy/5', 5),
  ]
  const baseline = broker.stats().connections
  const memory = { start: process.memoryUsage(), peakRss: 0 }
  const sampler = setInterval(() => {
    memory.peakRss = Math.max(memory.peakRss, process.memoryUsage().rss)
  }, 250)

  const deadline = Date.now() + seconds * 1000
  const outcomes = { closed: 0, accepted: 0, neither: [] as string[] }
  let batch = 0
  // Plans come in seeded batches, so a run with the same seed sends the same bytes.
  const plans: HostilePlan[] = []
  const nextPlan = (): HostilePlan => {
    if (plans.length === 0) plans.push(...fc.sample(hostilePlanArb, { seed: seed + batch++, numRuns: 100 }))
    const plan = plans.pop()
    // fc.sample just gave 100 when the list was empty.
    if (plan === undefined) throw new Error('fast-check sampled no hostile plans')
    return plan
  }
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const o = await runHostile(port, nextPlan(), 8000)
      if (o.closedByBroker) outcomes.closed++
      if (o.accepted) outcomes.accepted++
      if (!o.closedByBroker && !o.accepted) outcomes.neither.push(o.name)
    }
  }
  const exchange = async (pair: HealthyPair): Promise<number> => {
    let sent = 0
    while (Date.now() < deadline) {
      await pair.exchange(sent, 100)
      sent += 100
    }
    return sent
  }
  const [, ...sent] = await Promise.all([
    Promise.all(Array.from({ length: concurrency }, worker)),
    ...pairs.map(exchange),
  ])
  clearInterval(sampler)

  const problems: string[] = []
  for (const [i, pair] of pairs.entries()) {
    // Promise.all gave one count per pair, in order.
    const count = sent[i] ?? 0
    await pair.settle(count, 10_000)
    for (const p of deliveryProblems(pair.received, count)) problems.push(`${pair.topic}: ${p}`)
  }
  for (const name of outcomes.neither)
    problems.push(`a hostile socket (${name}) was neither closed nor accepted`)
  const late = await mqtt.connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0 })
  const retained = await new Promise<string>((resolve) => {
    late.once('message', (_t, payload) => resolve(payload.toString()))
    void late.subscribeAsync('fuzz/retained', { qos: 1 })
    setTimeout(() => resolve('(nothing)'), 5000).unref()
  })
  if (retained !== 'kept') problems.push(`retained message is ${retained}`)
  await late.endAsync()
  const settleBy = Date.now() + 10_000
  while (broker.stats().connections !== baseline && Date.now() < settleBy)
    await new Promise((r) => setTimeout(r, 50))
  const connections = broker.stats().connections
  if (connections !== baseline) problems.push(`${connections} connections, baseline ${baseline}`)
  if (internalErrors > 0) problems.push(`${internalErrors} error-level log records`)
  problems.push(...warnings)

  // Hostile clients that connected with a persistent session leave it behind, as they may.
  const { sessions, retained: retainedCount } = broker.stats()
  globalThis.gc?.()
  const end = process.memoryUsage()
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`
  console.log(
    `${seconds} s, ${concurrency} hostile sockets at once: ${outcomes.closed} closed by the broker, ` +
      `${outcomes.accepted} accepted as valid sessions; healthy QoS 1 messages: ${sent.join(' + ')}`,
  )
  console.log(
    `RSS ${mb(memory.start.rss)} at start, ${mb(memory.peakRss)} peak, ${mb(end.rss)} at end; ` +
      `heap ${mb(memory.start.heapUsed)} → ${mb(end.heapUsed)}${globalThis.gc ? ' (after gc)' : ''}; ` +
      `${sessions} sessions and ${retainedCount} retained messages left by hostile clients`,
  )
  await Promise.all(pairs.map((p) => p.close()))
  await broker.close()
  for (const p of problems) console.log(`FAIL ${p}`)
  if (problems.length === 0) console.log('ok: no message lost, broker up, connections back to the baseline')
  return problems.length === 0 ? 0 : 1
}
