/**
 * How fast the load generator is on its own, against the do-nothing sink on the broker
 * core: publishes it can send, deliveries it can take in, connections it can make.
 * A broker figure is trustworthy only well below these. The latency job against the sink,
 * which forwards "bench/latency" without any broker work, gives the machine's own floor.
 */
import { type BrokerName, sinkLauncher } from './brokers.ts'
import type { Options } from './options.ts'
import { format, percent, type Results } from './report.ts'
import { connectsJob } from './scenarios/connects.ts'
import { latencyJob } from './scenarios/latency.ts'
import { FAN_IN, streamDeadline, streamJob } from './scenarios/stream.ts'
import { withBroker } from './scenarios/types.ts'
import { nativeGenerator, runJob } from './workers.ts'

export interface SelfCheck {
  /** Publishes/s the 8 fan-in publisher connections can write. */
  sendRate: number
  /** Deliveries/s one subscriber connection can frame and count. */
  receiveRate: number
  /** Send and receive sharing one core, as in fan-in: 1 / (1/send + 1/receive). */
  combinedRate: number
  connectsPerSec: number
  /** Generator CPU (fraction of a core) in each check: near 1 means the generator was the limit. */
  sendCpu: number
  receiveCpu: number
  connectsCpu: number
  /**
   * Latency percentiles (µs) through the C sink's forwarding: no broker can do better here.
   * Absent with the Node sink (no gcc), which does not forward.
   */
  latencyFloor?: { p50: number; p99: number; p999: number } | undefined
}

export function selfCheck(options: Options): Promise<SelfCheck> {
  const native = nativeGenerator()
  return withBroker(sinkLauncher(native), async (broker) => {
    const deadline = streamDeadline(options)
    const send = await runJob(
      streamJob(broker.port, { ...FAN_IN, subscribers: 0, window: 0 }, options),
      deadline,
    )
    const receive = await runJob(
      streamJob(broker.port, { ...FAN_IN, publishers: 0, subscribers: 1, filter: 'bench/sink' }, options),
      deadline,
    )
    const connects = await runJob(connectsJob(broker.port, options.timings), deadline)
    const { warmupMs, latencyMs } = options.timings
    const floor =
      native === undefined
        ? undefined
        : await runJob(latencyJob(broker.port, options.timings), warmupMs + latencyMs + 30_000)
    return {
      sendRate: send.sendRate,
      receiveRate: receive.deliverRate,
      combinedRate: 1 / (1 / send.sendRate + 1 / receive.deliverRate),
      connectsPerSec: connects.perSec,
      sendCpu: send.cpu,
      receiveCpu: receive.cpu,
      connectsCpu: connects.cpu,
      latencyFloor: floor && { p50: floor.p50, p99: floor.p99, p999: floor.p999 },
    }
  })
}

export function describeSelfCheck(check: SelfCheck): string[] {
  // Against a sink on one core the sink can be the limit too; per CPU-second bounds the generator alone.
  const perCpu = check.connectsCpu > 0 ? check.connectsPerSec / check.connectsCpu : Number.NaN
  return [
    'generator capacity against the sink (a fake broker that only acks and streams):',
    `  send     ${format(check.sendRate, 'msg/s')} publishes/s over 8 connections  (load cpu ${percent(check.sendCpu)})`,
    `  receive  ${format(check.receiveRate, 'msg/s')} deliveries/s on 1 connection  (load cpu ${percent(check.receiveCpu)})`,
    `  both on one core (fan-in shape) ≈ ${format(check.combinedRate, 'msg/s')} msg/s`,
    `  connects ${format(check.connectsPerSec, 'conn/s')}/s  (load cpu ${percent(check.connectsCpu)} → ≈${format(perCpu, 'conn/s')}/s per generator CPU-second)`,
    check.latencyFloor === undefined
      ? '  latency  floor not measured (the Node sink does not forward)'
      : `  latency  ${latencyText(check.latencyFloor)} p50 / p99 / p99.9 through the sink's forwarding: this machine's floor`,
  ]
}

function latencyText(l: { p50: number; p99: number; p999: number }): string {
  return [l.p50, l.p99, l.p999].map((v) => format(v, 'us')).join(' / ')
}

/**
 * The best broker's figure in one metric — the highest for a rate, the lowest for a latency —
 * to set against what the generator or the sink can do.
 */
function best(
  results: Results,
  scenario: string,
  metric: string,
  better: 'higher' | 'lower',
): [BrokerName, number] | undefined {
  let top: [BrokerName, number] | undefined
  for (const name of ['tinymqtt', 'mosquitto', 'aedes'] as const) {
    const outcome = results[name]?.[scenario]
    if (outcome === undefined || 'error' in outcome) continue
    const v = outcome.values[metric]
    if (v === undefined) continue
    if (top === undefined || (better === 'higher' ? v > top[1] : v < top[1])) top = [name, v]
  }
  return top
}

/** How far the generator's capacity is above what the fastest broker reached. */
export function headroom(check: SelfCheck, results: Results): string[] {
  const lines: string[] = []
  const fan = best(results, 'fan-in', 'fan-in', 'higher')
  if (fan !== undefined) {
    const x = check.combinedRate / fan[1]
    const warn = x < 2 ? '  ← TOO CLOSE: figures may be generator-bound' : ''
    lines.push(
      `generator self-check: fan-in capacity ${format(check.combinedRate, 'msg/s')} = ${x.toFixed(1)}× the fastest broker (${fan[0]} ${format(fan[1], 'msg/s')})${warn}`,
    )
  }
  const conn = best(results, 'connects', 'connects', 'higher')
  if (conn !== undefined) {
    // The sink shares the broker core and pays its half of every handshake, so it often
    // stops first; the generator's rate per CPU-second is then the better bound.
    const perCpu = check.connectsCpu > 0 ? check.connectsPerSec / check.connectsCpu : 0
    const capacity = Math.max(check.connectsPerSec, perCpu)
    const how =
      check.connectsCpu < 0.9 && capacity > check.connectsPerSec
        ? ' (from generator CPU: the sink was the limit)'
        : ''
    const x = capacity / conn[1]
    const warn = x < 1.5 ? '  ← TOO CLOSE: check the load cpu column' : ''
    lines.push(
      `generator self-check: connects capacity ${format(capacity, 'conn/s')}${how} = ${x.toFixed(1)}× the fastest broker (${conn[0]} ${format(conn[1], 'conn/s')})${warn}`,
    )
  }
  const p99 = best(results, 'latency', 'latency-p99', 'lower')
  if (p99 !== undefined && check.latencyFloor !== undefined) {
    lines.push(
      `generator self-check: latency p99 floor ${format(check.latencyFloor.p99, 'us')} through the sink; the best broker (${p99[0]}) had ${format(p99[1], 'us')}`,
    )
  }
  return lines
}
