// Live-socket fuzzing: hostile raw sockets hit a broker while a healthy MQTT.js pair exchanges
// QoS 1 messages. Nothing may be lost, the broker stays up, every hostile socket is closed by
// the broker, retained messages survive and the connections go back to the baseline.
// Seeded like test/protocol-fuzz.test.ts (FUZZ_SEED, FUZZ_RUNS = hostile sockets);
// `npm run fuzz -- --live --seconds 60` runs it for longer.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { deliveryProblems, HealthyPair, hostilePlanArb, runHostile } from './fuzz-live.ts'
import { fuzzSettings } from './fuzz-packets.ts'
import { LogCapture, mqttConnect, startTestBroker, until, withTimeout } from './helpers.ts'

/** Error-level records are bugs (an exception out of a handler); warnings are the expected refusals. */
const ERROR = 50

test('hostile sockets neither lose healthy QoS 1 messages nor take the broker down', async (t) => {
  const { seed, numRuns } = fuzzSettings(40)
  t.diagnostic(`seed ${seed}, ${numRuns} hostile sockets`)
  const log = new LogCapture('warn')
  // A timer armed from a client's interval must never overflow (fires at once; see src/util/long-timer.ts).
  const warnings: string[] = []
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`)
  }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const broker = await startTestBroker(t, { logger: log.logger, connectTimeout: 1 })
  const port = broker.port

  broker.publish({ topic: 'fuzz/retained', payload: 'kept', qos: 1, retain: true })
  const pair = await HealthyPair.open(port, `fuzz/healthy/${seed}`)
  t.after(() => pair.close())
  const v5pair = await HealthyPair.open(port, `fuzz/healthy5/${seed}`, 5)
  t.after(() => v5pair.close())
  const baseline = broker.stats().connections

  const plans = fc.sample(hostilePlanArb, { seed, numRuns })
  const count = 300
  const [outcomes] = await Promise.all([
    // Staggered in two waves, so hostile traffic overlaps the whole exchange.
    Promise.all(
      plans.map(async (plan, i) => {
        if (i % 2 === 1) await new Promise((r) => setTimeout(r, 300))
        return runHostile(port, plan, 8000)
      }),
    ),
    pair.exchange(0, count),
    v5pair.exchange(0, count),
  ])

  await Promise.all([pair.settle(count, 10_000), v5pair.settle(count, 10_000)])
  assert.deepEqual(deliveryProblems(pair.received, count), [], 'MQTT 3.1.1 pair')
  assert.deepEqual(deliveryProblems(v5pair.received, count), [], 'MQTT 5 pair')

  const notClosed = outcomes.filter((o) => !o.closedByBroker && !o.accepted)
  assert.deepEqual(notClosed, [], 'every hostile socket that never connected was closed by the broker')
  t.diagnostic(
    `hostile: ${outcomes.filter((o) => o.closedByBroker).length} closed by the broker, ` +
      `${outcomes.filter((o) => o.accepted).length} accepted as valid sessions`,
  )

  // Still serving: a new client connects, finds the retained message intact and round-trips.
  const late = await mqttConnect(port, { clientId: 'fuzz-late' }, t)
  const retained = withTimeout(
    new Promise<{ topic: string; payload: string; retain: boolean }>((resolve) =>
      late.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), retain: packet.retain }),
      ),
    ),
    'the retained message',
  )
  await late.subscribeAsync('fuzz/retained', { qos: 1 })
  assert.deepEqual(await retained, { topic: 'fuzz/retained', payload: 'kept', retain: true })
  await late.endAsync()

  // Every hostile connection is gone, so its buffers are released.
  await until(() => broker.stats().connections === baseline, 'connections back to the baseline', 10_000)

  const errors = log.records.filter((r) => r.level >= ERROR)
  assert.deepEqual(errors, [], 'no internal errors while handling hostile input')
  assert.deepEqual(warnings, [], 'no process warnings')
})
