/**
 * QoS 1 flood: 4 publishers, 20 in flight each and nothing else holding them back, into one
 * QoS 1 subscriber. Unlike `qos1` (which keeps a window on sent − delivered so no broker
 * queue ever fills), this one overloads the subscriber's queue on purpose and counts what
 * the publishers were acknowledged against what arrived: a broker that acknowledges and then
 * drops shows it here.
 */
import type { Options } from '../options.ts'
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { streamDeadline, streamJob } from './stream.ts'
import { errorNotes, type Measurement, type Scenario, withBroker } from './types.ts'

const SHAPE = {
  publishers: 4,
  subscribers: 1,
  qos: 1,
  perPublisherTopic: true,
  topic: 'bench/',
  filter: 'bench/+',
  batch: 1,
  // No window on sent − delivered: only the publishers' 20 in flight hold them back.
  window: 0,
  inflight: 20,
} as const

/** A few seconds whatever the mode: the figure is a count, not a rate that needs a long run. */
function timings(options: Options): Options {
  const measureMs = options.quick ? 3000 : 5000
  return { ...options, timings: { ...options.timings, warmupMs: 1000, measureMs } }
}

export const qos1Flood: Scenario = {
  id: 'qos1-flood',
  metrics: [
    {
      id: 'qos1-flood',
      label: 'QoS 1 flood, 4 → 1, 20 in flight (delivered msg/s)',
      unit: 'msg/s',
      better: 'higher',
    },
    { id: 'qos1-flood-acked', label: 'QoS 1 flood: acknowledged', unit: 'count', better: 'higher' },
    { id: 'qos1-flood-delivered', label: 'QoS 1 flood: delivered', unit: 'count', better: 'higher' },
    { id: 'qos1-flood-lost', label: 'QoS 1 flood: acknowledged and lost', unit: 'count', better: 'lower' },
  ],
  run: (launcher, options) =>
    withBroker(launcher, async (broker): Promise<Measurement> => {
      const cpu = new CpuWindow(broker.pid)
      const short = timings(options)
      const result = await runJob(streamJob(broker.port, SHAPE, short), streamDeadline(short), {
        onMark: cpu.onMark,
      })
      // After the drain every acknowledged message should have arrived; the few sent and
      // not yet acknowledged when sending stopped are not counted as lost.
      const lost = Math.max(0, result.acked - result.delivered)
      const notes = [...errorNotes(result.errors), ...cpu.notes()]
      if (lost > 0) notes.push(`${lost} of ${result.acked} acknowledged messages never delivered`)
      return {
        values: {
          'qos1-flood': result.deliverRate,
          'qos1-flood-acked': result.acked,
          'qos1-flood-delivered': result.delivered,
          'qos1-flood-lost': lost,
        },
        details: { ...result, lostAcknowledged: lost, ...cpu.figures },
        notes,
      }
    }),
}
