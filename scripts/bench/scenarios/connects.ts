/** Connection rate: CONNECT → CONNACK → DISCONNECT, 32 at a time. */
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { errorNotes, type Scenario, withBroker } from './types.ts'

export const CONNECT_CONCURRENCY = 32

export const connects: Scenario = {
  id: 'connects',
  metrics: [
    { id: 'connects', label: 'connects/s (CONNECT→CONNACK→DISCONNECT)', unit: 'conn/s', better: 'higher' },
  ],
  run: (launcher, options) =>
    withBroker(launcher, async (broker) => {
      const cpu = new CpuWindow(broker.pid)
      const { warmupMs, measureMs } = options.timings
      const result = await runJob(
        {
          kind: 'connects',
          port: broker.port,
          concurrency: CONNECT_CONCURRENCY,
          warmupMs,
          measureMs,
          maxConnects: 2_000_000,
        },
        warmupMs + measureMs + 30_000,
        { onMark: cpu.onMark },
      )
      const notes = [...errorNotes(result.errors), ...cpu.notes()]
      if (result.failed > 0) notes.push(`${result.failed} connection attempts failed`)
      return {
        values: { connects: result.perSec },
        details: { ...result, ...cpu.figures },
        notes,
      }
    }),
}
