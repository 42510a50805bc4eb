/**
 * The cluster suite's report: the best round of each load and placement, the cost table
 * (CPU per message of each node and of nats-server, NATS traffic per message), and the
 * connect storm's per-client costs: the measured inputs for sizing a deployment.
 */
import type { StreamResult } from '../load/jobs.ts'
import type { NatsCounters } from './cluster-procs.ts'
import type { StormFigures } from './cluster-storm.ts'

export type Placement = 'cross-node' | 'same node' | 'standalone'
export const PLACEMENTS: readonly Placement[] = ['cross-node', 'same node', 'standalone']
/**
 * The loads: QoS 0 and QoS 1 to a clean-session subscriber, and QoS 1 to a persistent one, for
 * which a cluster keeps each message in JetStream until it is delivered (session-messages.ts).
 */
export type Load = 'QoS 0' | 'QoS 1' | 'QoS 2' | 'QoS 1 persistent' | 'QoS 1 persistent $share'
export const LOADS: readonly Load[] = [
  'QoS 0',
  'QoS 1',
  'QoS 2',
  'QoS 1 persistent',
  'QoS 1 persistent $share',
]

export interface Run {
  load: Load
  placement: Placement
  result: StreamResult
  /** CPU µs per delivered message of each node involved, and of 'nats-server'. */
  cpuPerMessage: Record<string, number>
  /** What nats-server received and sent per delivered message (messages and bytes). */
  nats: NatsCounters
}

/** The best round of each load and placement, and cross-node as a share of the single node. */
export function summarize(runs: readonly Run[]): void {
  console.log('best of the rounds:')
  for (const load of LOADS) {
    const best = (placement: Placement): number =>
      Math.max(
        0,
        ...runs.filter((r) => r.load === load && r.placement === placement).map((r) => r.result.deliverRate),
      )
    const cross = best('cross-node')
    const same = best('same node')
    const solo = best('standalone')
    const pct = (x: number, of: number): string => (of > 0 ? `${((100 * x) / of).toFixed(0)}%` : '?')
    const fmt = (x: number): string => Math.round(x).toLocaleString('en')
    console.log(
      `  ${load}: cross-node ${fmt(cross)} msg/s, same node ${fmt(same)} msg/s, standalone ${fmt(solo)} msg/s; ` +
        `cross-node is ${pct(cross, same)} of same node, ${pct(cross, solo)} of standalone`,
    )
  }
}

/** Right-aligned columns under a header; `rows` already formatted. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`
  console.log(line(header))
  for (const row of rows) console.log(line(row))
}

function num(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x)
    ? '-'
    : x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

/**
 * Per delivered message, best round (highest rate) of each load and placement: CPU of node A,
 * node B, the standalone node and nats-server, and what nats-server took in and sent out.
 */
export function printCostTable(runs: readonly Run[]): void {
  console.log(
    'cost per delivered message (best round; CPU in µs of user+system time, NATS traffic from /varz ' +
      'incl. protocol headers and JetStream/KV traffic in the window):',
  )
  const rows: string[][] = []
  for (const load of LOADS) {
    for (const placement of PLACEMENTS) {
      const best = runs
        .filter((r) => r.load === load && r.placement === placement)
        .reduce<Run | undefined>(
          (b, r) => (b === undefined || r.result.deliverRate > b.result.deliverRate ? r : b),
          undefined,
        )
      if (best === undefined) continue
      const cpu = best.cpuPerMessage
      const cluster = placement !== 'standalone'
      rows.push([
        `${load} ${placement}`,
        num(best.result.deliverRate, 0),
        num(cpu.A, 2),
        num(cpu.B, 2),
        num(cpu.standalone, 2),
        num(cpu['nats-server'], 2),
        cluster ? num(best.nats.inMsgs, 2) : '-',
        cluster ? num(best.nats.outMsgs, 2) : '-',
        cluster ? num(best.nats.inBytes, 0) : '-',
        cluster ? num(best.nats.outBytes, 0) : '-',
      ])
    }
  }
  table(
    [
      'load',
      'msg/s',
      'A µs/msg',
      'B µs/msg',
      'solo µs/msg',
      'NATS µs/msg',
      'NATS in msg/msg',
      'out msg/msg',
      'in B/msg',
      'out B/msg',
    ],
    rows,
  )
}

/** The connect storm's figures per target node, or why it did not run. */
export function printStormTable(storms: readonly StormFigures[] | string, clients: number): void {
  console.log(
    `connect storm, ${clients.toLocaleString('en')} clients (CONNECT + SUBSCRIBE to its own topic, 64 in flight) onto a fresh node:`,
  )
  if (typeof storms === 'string') {
    console.log(`  ${storms}`)
    return
  }
  table(
    [
      'node',
      'clients',
      'connects/s',
      'node CPU µs/client',
      'NATS CPU µs/client',
      'node RSS B/client',
      'NATS RSS growth MB',
      'NATS RSS B/client',
    ],
    storms.map((s) => [
      s.target,
      `${s.result.done}${s.result.failed > 0 ? ` (${s.result.failed} failed)` : ''}`,
      num(s.result.perSec, 0),
      num(s.nodeCpuUs, 1),
      num(s.natsCpuUs, 1),
      num(s.nodeRssPerClient, 0),
      num(s.natsRssGrowth / 1e6, 1),
      num(s.natsRssGrowth / Math.max(1, s.result.done), 0),
    ]),
  )
}
