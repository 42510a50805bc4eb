/**
 * Two tinymqtt nodes as one broker over NATS JetStream (issue 18): what a message costs when
 * its publisher and its subscriber are on different nodes, against one node.
 *
 *   npm run bench -- cluster [--quick] [--publishers 4] [--rounds 2] [--storm-clients 4000]
 *
 * A nats-server with JetStream (temp store, free 127.0.0.1 port) and three tinymqtt processes
 * started from the command line (`--memory --sys-interval 0`), each with its own event loop as
 * in production: nodes A and B with `--cluster`, and a standalone node without it. The Node
 * load generator (load/stream.ts, the broker suite's fan-in and QoS 1 shapes, the QoS 1 shape at QoS 2, and QoS 1 to a
 * subscriber with a persistent session, on its own subscription and as the one member of a
 * `$share` group) runs each load three ways: publishers on A and the subscriber on B (cross-node), both on A (same node, in
 * the cluster), both on the standalone node. Each node's and nats-server's CPU is read from
 * /proc at the generator's marks, and nats-server's message and byte counters from its /varz,
 * each divided by the messages delivered in the measured window. Before the loads, a connect
 * storm onto node B and onto the standalone node gives the per-connection costs
 * (cluster-storm.ts).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../brokers.ts'
import type { StreamJob } from '../load/jobs.ts'
import type { ClusterOptions } from '../options.ts'
import { cpuSeconds, installCleanup, stopChild, trackTempDir } from '../procs.ts'
import { fdLimit } from '../scenarios/memory.ts'
import { FAN_IN, QOS1 } from '../scenarios/stream.ts'
import { runJob } from '../workers.ts'
import {
  countersPer,
  type NatsCounters,
  type Node,
  natsCounters,
  natsServerPath,
  type Proc,
  startNode,
  startProc,
} from './cluster-procs.ts'
import {
  LOADS,
  type Load,
  PLACEMENTS,
  printCostTable,
  printStormTable,
  type Run,
  summarize,
} from './cluster-report.ts'
import { connectStorm, type StormFigures, stormUnavailable } from './cluster-storm.ts'

/** Longest wait for stragglers after sending stops; a QoS 1 delivery missing after it is lost. */
const DRAIN_MS = 10_000

export async function run(options: ClusterOptions): Promise<number> {
  const nats = natsServerPath()
  if (nats === undefined) {
    console.log('cluster suite skipped: nats-server not found (Debian: apt install nats-server)')
    return 0
  }
  installCleanup()
  const storeDir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-nats-'))
  const removeStore = trackTempDir(storeDir)
  const natsPort = await freePort()
  const monitorPort = await freePort()
  const procs: Proc[] = []
  try {
    const natsProc = await startProc(
      'nats-server',
      nats,
      ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(monitorPort), '-sd', storeDir],
      /Server is ready/,
    )
    procs.push(natsProc)
    const url = `nats://127.0.0.1:${natsPort}`
    const a = await startNode('A', url)
    procs.push(a)
    const b = await startNode('B', url)
    procs.push(b)
    const solo = await startNode('standalone', undefined)
    procs.push(solo)
    const storms = await stormRuns(options.stormClients, [b, solo], natsProc)
    console.log(
      `cluster: ${options.publishers} publishers → 1 subscriber, 64-byte payloads, ${options.timings.warmupMs / 1000} s warm-up, ` +
        `${options.timings.measureMs / 1000} s measured, ${options.rounds} round(s); nats-server ${url}, monitoring :${monitorPort}`,
    )
    const runs: Run[] = []
    let failed = false
    for (let round = 1; round <= options.rounds; round++) {
      for (const load of LOADS) {
        const qos = load === 'QoS 0' ? 0 : load === 'QoS 2' ? 2 : 1
        for (const placement of PLACEMENTS) {
          const [pubNode, subNode] =
            placement === 'cross-node' ? [a, b] : placement === 'same node' ? [a, a] : [solo, solo]
          const measured = await measure(pubNode, subNode, natsProc, monitorPort, load, options)
          runs.push({ load, placement, ...measured })
          const r = measured.result
          const cpu = Object.entries(measured.cpuPerMessage)
            .map(([n, us]) => `${n} ${us.toFixed(2)} µs`)
            .join(', ')
          const lost = qos !== 0 && r.lost > 0 ? `  LOST ${r.lost} of ${r.sent}` : ''
          if (qos !== 0 && r.lost > 0) failed = true
          console.log(
            `  round ${round} ${load.padEnd(16)} ${placement.padEnd(10)} ${Math.round(r.deliverRate).toLocaleString('en').padStart(9)} msg/s` +
              `  CPU/msg: ${cpu}  (sent ${r.sent}, delivered ${r.delivered}${qos === 0 ? `, dropped ${r.lost}` : ''})${lost}` +
              (r.errors.length > 0 ? `  errors: ${r.errors.join('; ')}` : ''),
          )
        }
      }
    }
    summarize(runs)
    printCostTable(runs)
    printStormTable(storms, options.stormClients)
    return failed ? 1 : 0
  } finally {
    for (const p of procs.reverse()) await stopChild(p.child)
    removeStore()
  }
}

/**
 * The connect storm onto each of `targets`, fresh nodes before any message load, as after a
 * restart. Runs before the message loads so the nodes' memory is that of idle clients only.
 */
async function stormRuns(
  clients: number,
  targets: readonly Node[],
  nats: Proc,
): Promise<StormFigures[] | string> {
  if (clients === 0) return 'not run (--storm-clients 0)'
  const why = stormUnavailable(clients, fdLimit())
  if (why !== undefined) return `skipped: ${why}`
  const figures: StormFigures[] = []
  for (const node of targets) {
    const f = await connectStorm(node, nats, clients)
    console.log(
      `  storm onto ${node.name}: ${f.result.done} of ${clients} clients in ${f.result.seconds.toFixed(2)} s` +
        (f.result.failed > 0 ? `, ${f.result.failed} failed` : '') +
        (f.result.errors.length > 0 ? `  errors: ${f.result.errors.join('; ')}` : ''),
    )
    figures.push(f)
  }
  return figures
}

async function measure(
  pubNode: Node,
  subNode: Node,
  nats: Proc,
  monitorPort: number,
  load: Load,
  options: ClusterOptions,
): Promise<Omit<Run, 'load' | 'placement'>> {
  const nodes = pubNode === subNode ? [pubNode] : [pubNode, subNode]
  const job: StreamJob = {
    kind: 'stream',
    port: pubNode.port,
    subscriberPort: subNode.port,
    payloadBytes: 64,
    warmupMs: options.timings.warmupMs,
    measureMs: options.timings.measureMs,
    drainMs: DRAIN_MS,
    // Far above any rate reached here; only a runaway would hit it.
    maxMessages: 500_000_000,
    ...(load === 'QoS 0' ? FAN_IN : QOS1),
    // The QoS 1 shape with QoS 2 on both hops.
    ...(load === 'QoS 2' ? { qos: 2 as const } : {}),
    publishers: options.publishers,
    persistentSubscribers: load.startsWith('QoS 1 persistent'),
    // The one subscriber as the one member of a $share group: kept in JetStream when clustered.
    ...(load === 'QoS 1 persistent $share' ? { sharedGroup: 'bench' } : {}),
  }
  // CPU of each node and of nats-server (last), and nats-server's counters, at the marks.
  const pids = [...nodes.map((n) => n.pid), nats.pid]
  const cpuAt: Record<'measure-start' | 'measure-end', number[]> = { 'measure-start': [], 'measure-end': [] }
  const countersAt: Partial<Record<'measure-start' | 'measure-end', Promise<NatsCounters | undefined>>> = {}
  const result = await runJob(job, options.timings.warmupMs + options.timings.measureMs + DRAIN_MS + 30_000, {
    onMark: (name) => {
      cpuAt[name] = pids.map((pid) => cpuSeconds(pid) ?? Number.NaN)
      countersAt[name] = natsCounters(monitorPort)
    },
  })
  const delivered = result.deliverRate * result.seconds
  const cpuPerMessage: Record<string, number> = {}
  const names = [...nodes.map((n) => n.name), 'nats-server']
  names.forEach((name, i) => {
    const used = (cpuAt['measure-end'][i] ?? Number.NaN) - (cpuAt['measure-start'][i] ?? Number.NaN)
    cpuPerMessage[name] = (used * 1e6) / Math.max(1, delivered)
  })
  const carried = countersPer(await countersAt['measure-start'], await countersAt['measure-end'], delivered)
  return { result, cpuPerMessage, nats: carried }
}
