/** Fan-in, fan-out and QoS 1 end to end: one full-speed stream job each. */
import type { StreamJob } from '../load/jobs.ts'
import type { Options } from '../options.ts'
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { errorNotes, type Measurement, type Scenario, withBroker } from './types.ts'

type Shape = Pick<
  StreamJob,
  | 'publishers'
  | 'subscribers'
  | 'qos'
  | 'perPublisherTopic'
  | 'topic'
  | 'filter'
  | 'batch'
  | 'window'
  | 'inflight'
>

export function streamJob(port: number, shape: Shape, options: Options): StreamJob {
  return {
    kind: 'stream',
    port,
    payloadBytes: 64,
    warmupMs: options.timings.warmupMs,
    measureMs: options.timings.measureMs,
    drainMs: 10_000,
    // Far above what any broker here reaches in the window; only a runaway would hit it.
    maxMessages: 2_000_000_000,
    ...shape,
  }
}

export function streamDeadline(options: Options): number {
  return options.timings.warmupMs + options.timings.measureMs + 30_000
}

function streamScenario(id: 'fan-in' | 'fan-out' | 'qos1', label: string, shape: Shape): Scenario {
  return {
    id,
    metrics: [{ id, label, unit: 'msg/s', better: 'higher' }],
    run: (launcher, options) =>
      withBroker(launcher, async (broker): Promise<Measurement> => {
        const cpu = new CpuWindow(broker.pid)
        const result = await runJob(streamJob(broker.port, shape, options), streamDeadline(options), {
          onMark: cpu.onMark,
        })
        const notes = [...errorNotes(result.errors), ...cpu.notes()]
        if (result.lost > 0) {
          const pct = ((100 * result.lost) / Math.max(1, result.sent * shape.subscribers)).toFixed(2)
          notes.push(`${result.lost} of ${result.sent * shape.subscribers} deliveries lost (${pct}%)`)
        }
        return {
          values: { [id]: result.deliverRate },
          details: { ...result, ...cpu.figures },
          notes,
        }
      }),
  }
}

export const FAN_IN: Shape = {
  publishers: 8,
  subscribers: 1,
  qos: 0,
  perPublisherTopic: true,
  topic: 'bench/',
  filter: 'bench/+',
  batch: 128,
  window: 16_384,
  inflight: 0,
}

export const fanIn = streamScenario('fan-in', 'fan-in QoS 0, 8 → 1 (msg/s)', FAN_IN)

export const fanOut = streamScenario('fan-out', 'fan-out QoS 0, 1 → 50 (deliveries/s)', {
  publishers: 1,
  subscribers: 50,
  qos: 0,
  perPublisherTopic: false,
  topic: 'bench/fanout',
  filter: 'bench/fanout',
  batch: 32,
  window: 1000,
  inflight: 0,
})

export const QOS1: Shape = {
  publishers: 8,
  subscribers: 1,
  qos: 1,
  perPublisherTopic: true,
  topic: 'bench/',
  filter: 'bench/+',
  batch: 1,
  // Well under the brokers' default queue of 1,000 per client, so QoS 1 is never dropped by policy.
  window: 500,
  inflight: 20,
}

export const qos1 = streamScenario('qos1', 'QoS 1 end to end, 8 → 1 (msg/s)', QOS1)
