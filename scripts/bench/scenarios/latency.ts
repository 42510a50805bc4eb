/** Latency percentiles at a fixed 1,000 msg/s, QoS 0, one publisher → one subscriber. */
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

/** The latency job, shared by the scenario and the self-check's floor against the sink. */
export function latencyJob(port: number, timings: { warmupMs: number; latencyMs: number }) {
  return {
    kind: 'latency' as const,
    port,
    ratePerSec: 1000,
    payloadBytes: 64,
    warmupMs: timings.warmupMs,
    measureMs: timings.latencyMs,
  }
}

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
        latencyJob(broker.port, options.timings),
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
