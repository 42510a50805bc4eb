/** Latency percentiles at a fixed 1,000 msg/s, QoS 0, one publisher → one subscriber. */
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

export const latency: Scenario = {
  id: 'latency',
  metrics: [
    { id: 'latency-p50', label: 'latency p50 at 1k msg/s (µs)', unit: 'us', better: 'lower' },
    { id: 'latency-p99', label: 'latency p99 at 1k msg/s (µs)', unit: 'us', better: 'lower' },
    { id: 'latency-p999', label: 'latency p99.9 at 1k msg/s (µs)', unit: 'us', better: 'lower' },
  ],
  run: (launcher, options) =>
    withBroker(launcher, async (broker) => {
      const cpu = new CpuWindow(broker.pid)
      const warmupMs = options.timings.warmupMs
      const result = await runJob(
        {
          kind: 'latency',
          port: broker.port,
          ratePerSec: 1000,
          payloadBytes: 64,
          warmupMs,
          measureMs: options.timings.latencyMs,
        },
        warmupMs + options.timings.latencyMs + 30_000,
        { onMark: cpu.onMark },
      )
      const notes = [...errorNotes(result.errors), ...cpu.notes()]
      if (result.generatorStallMs > 2) {
        notes.push(
          `the generator itself fell up to ${result.generatorStallMs.toFixed(0)} ms behind (busy machine)`,
        )
      }
      if (result.received < result.sent)
        notes.push(`${result.sent - result.received} of ${result.sent} messages lost`)
      return {
        values: { 'latency-p50': result.p50, 'latency-p99': result.p99, 'latency-p999': result.p999 },
        details: { ...result, ...cpu.figures },
        notes,
      }
    }),
}
