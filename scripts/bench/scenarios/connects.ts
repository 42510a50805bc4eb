/** Connection rate: CONNECT → CONNACK → DISCONNECT, 32 at a time. */
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

const CONNECT_CONCURRENCY = 32

/** The connects job, shared by the scenario and the generator's self-check against the sink. */
export function connectsJob(port: number, timings: { warmupMs: number; measureMs: number }) {
  return {
    kind: 'connects' as const,
    port,
    concurrency: CONNECT_CONCURRENCY,
    warmupMs: timings.warmupMs,
    measureMs: timings.measureMs,
    maxConnects: 2_000_000,
  }
}

export const connects: Scenario = {
  id: 'connects',
  metrics: [
    { id: 'connects', label: 'connects/s (CONNECT→CONNACK→DISCONNECT)', unit: 'conn/s', better: 'higher' },
  ],
  run: (launcher, options) =>
    withBroker(launcher, async (broker) => {
      const cpu = new CpuWindow(broker.pid)
      const { warmupMs, measureMs } = options.timings
      const result = await runJob(connectsJob(broker.port, options.timings), warmupMs + measureMs + 30_000, {
        onMark: cpu.onMark,
      })
      const notes = [...errorNotes(result.errors), ...cpu.notes()]
      if (result.failed > 0) notes.push(`${result.failed} connection attempts failed`)
      return {
        values: { connects: result.perSec },
        details: { ...result, ...cpu.figures },
        notes,
      }
    }),
}
