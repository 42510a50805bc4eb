/**
 * Two tinymqtt nodes as one broker over NATS JetStream (issue 18): what a message costs when
 * its publisher and its subscriber are on different nodes, against one node.
 *
 *   npm run bench -- cluster [--quick] [--publishers 4] [--rounds 2]
 *
 * A nats-server with JetStream (temp store, free 127.0.0.1 port) and three tinymqtt processes
 * started from the command line (`--memory --sys-interval 0`), each with its own event loop as
 * in production: nodes A and B with `--cluster`, and a standalone node without it. The Node
 * load generator (load/stream.ts, the broker suite's fan-in and QoS 1 shapes) runs each load
 * three ways: publishers on A and the subscriber on B (cross-node), both on A (same node, in
 * the cluster), both on the standalone node. Each node's CPU is read from /proc at the
 * generator's marks and divided by the messages delivered in the measured window.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, REPO_ROOT } from '../brokers.ts'
import type { StreamJob, StreamResult } from '../load/jobs.ts'
import type { ClusterOptions } from '../options.ts'
import { cpuSeconds, installCleanup, pidOf, spawnPinned, stopChild, trackTempDir } from '../procs.ts'
import { FAN_IN, QOS1 } from '../scenarios/stream.ts'
import { runJob } from '../workers.ts'

const START_TIMEOUT_MS = 30_000
/** Longest wait for stragglers after sending stops; a QoS 1 delivery missing after it is lost. */
const DRAIN_MS = 10_000

interface Proc {
  child: ChildProcess
  pid: number
  /** Output so far (bounded), for a failure message. */
  output(): string
}

interface Node extends Proc {
  name: string
  port: number
}

/** Spawns `command` and resolves once its output matches `ready`; its output keeps being read. */
async function startProc(name: string, command: string, args: string[], ready: RegExp): Promise<Proc> {
  const child = spawnPinned(undefined, command, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${name} not ready within ${START_TIMEOUT_MS} ms:\n${text}`)),
      START_TIMEOUT_MS,
    )
    const fail = (err: Error): void => {
      clearTimeout(timer)
      void stopChild(child)
      reject(err)
    }
    // Both pipes are drained for the whole run, so a chatty process never blocks on a full pipe.
    const onData = (chunk: Buffer): void => {
      if (text.length < 8000) text += chunk.toString('utf8')
      if (ready.test(text)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) =>
      fail(new Error(`${name} exited (${code ?? signal}) at start:\n${text}`)),
    )
    child.once('error', fail)
  })
  return { child, pid: pidOf(child), output: () => text }
}

async function startNode(name: string, clusterUrl: string | undefined): Promise<Node> {
  const port = await freePort()
  const args = ['--import', 'tsx', 'src/cli.ts', '--host', '127.0.0.1', '--port', String(port)]
  args.push('--memory', '--sys-interval', '0', '--log-level', 'info')
  if (clusterUrl !== undefined) args.push('--cluster', clusterUrl)
  // startBroker resolves (and the CLI is up) only after the listener and, with --cluster, the join.
  const ready = clusterUrl === undefined ? /MQTT listener started/ : /joined the cluster/
  const proc = await startProc(`node ${name}`, process.execPath, args, ready)
  return { ...proc, name, port }
}

function natsServerPath(): string | undefined {
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).error === undefined) return candidate
  }
  return undefined
}

type Placement = 'cross-node' | 'same node' | 'standalone'
const PLACEMENTS: readonly Placement[] = ['cross-node', 'same node', 'standalone']

interface Run {
  qos: 0 | 1
  placement: Placement
  result: StreamResult
  /** CPU µs per delivered message of each node involved. */
  cpuPerMessage: Record<string, number>
}

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
  const procs: Proc[] = []
  try {
    procs.push(
      await startProc(
        'nats-server',
        nats,
        ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', storeDir],
        /Server is ready/,
      ),
    )
    const url = `nats://127.0.0.1:${natsPort}`
    const a = await startNode('A', url)
    procs.push(a)
    const b = await startNode('B', url)
    procs.push(b)
    const solo = await startNode('standalone', undefined)
    procs.push(solo)
    console.log(
      `cluster: ${options.publishers} publishers → 1 subscriber, 64-byte payloads, ${options.timings.warmupMs / 1000} s warm-up, ` +
        `${options.timings.measureMs / 1000} s measured, ${options.rounds} round(s); nats-server ${url}`,
    )
    const runs: Run[] = []
    let failed = false
    for (let round = 1; round <= options.rounds; round++) {
      for (const qos of [0, 1] as const) {
        for (const placement of PLACEMENTS) {
          const [pubNode, subNode] =
            placement === 'cross-node' ? [a, b] : placement === 'same node' ? [a, a] : [solo, solo]
          const measured = await measure(pubNode, subNode, qos, options)
          runs.push({ qos, placement, ...measured })
          const r = measured.result
          const cpu = Object.entries(measured.cpuPerMessage)
            .map(([n, us]) => `${n} ${us.toFixed(2)} µs`)
            .join(', ')
          const lost = qos === 1 && r.lost > 0 ? `  LOST ${r.lost} of ${r.sent}` : ''
          if (qos === 1 && r.lost > 0) failed = true
          console.log(
            `  round ${round} QoS ${qos} ${placement.padEnd(10)} ${Math.round(r.deliverRate).toLocaleString('en').padStart(9)} msg/s` +
              `  CPU/msg: ${cpu}  (sent ${r.sent}, delivered ${r.delivered}${qos === 0 ? `, dropped ${r.lost}` : ''})${lost}` +
              (r.errors.length > 0 ? `  errors: ${r.errors.join('; ')}` : ''),
          )
        }
      }
    }
    summarize(runs)
    return failed ? 1 : 0
  } finally {
    for (const p of procs.reverse()) await stopChild(p.child)
    removeStore()
  }
}

async function measure(
  pubNode: Node,
  subNode: Node,
  qos: 0 | 1,
  options: ClusterOptions,
): Promise<{ result: StreamResult; cpuPerMessage: Record<string, number> }> {
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
    ...(qos === 0 ? FAN_IN : QOS1),
    publishers: options.publishers,
  }
  const cpuAt: Record<'measure-start' | 'measure-end', number[]> = { 'measure-start': [], 'measure-end': [] }
  const result = await runJob(job, options.timings.warmupMs + options.timings.measureMs + DRAIN_MS + 30_000, {
    onMark: (name) => {
      cpuAt[name] = nodes.map((n) => cpuSeconds(n.pid) ?? Number.NaN)
    },
  })
  const delivered = result.deliverRate * result.seconds
  const cpuPerMessage: Record<string, number> = {}
  nodes.forEach((n, i) => {
    const used = (cpuAt['measure-end'][i] ?? Number.NaN) - (cpuAt['measure-start'][i] ?? Number.NaN)
    cpuPerMessage[n.name] = (used * 1e6) / Math.max(1, delivered)
  })
  return { result, cpuPerMessage }
}

/** The best round of each load and placement, and cross-node as a share of the single node. */
function summarize(runs: readonly Run[]): void {
  console.log('best of the rounds:')
  for (const qos of [0, 1] as const) {
    const best = (placement: Placement): number =>
      Math.max(
        0,
        ...runs.filter((r) => r.qos === qos && r.placement === placement).map((r) => r.result.deliverRate),
      )
    const cross = best('cross-node')
    const same = best('same node')
    const solo = best('standalone')
    const pct = (x: number, of: number): string => (of > 0 ? `${((100 * x) / of).toFixed(0)}%` : '?')
    const fmt = (x: number): string => Math.round(x).toLocaleString('en')
    console.log(
      `  QoS ${qos}: cross-node ${fmt(cross)} msg/s, same node ${fmt(same)} msg/s, standalone ${fmt(solo)} msg/s; ` +
        `cross-node is ${pct(cross, same)} of same node, ${pct(cross, solo)} of standalone`,
    )
  }
}
