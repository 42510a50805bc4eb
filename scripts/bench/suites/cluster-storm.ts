/**
 * Connect storm onto a cluster node against a standalone node: what one connected device
 * costs (CPU to connect and subscribe, memory to stay connected), on the node and on
 * nats-server, the per-connection half of sizing a deployment. The C generator of the broker
 * suite's `storm` scenario (load/gen.c) opens the clients, 64 handshakes in flight, each
 * CONNECT then SUBSCRIBE to its own topic, and holds them while memory is read.
 */
import type { StormResult } from '../load/jobs.ts'
import { sleep } from '../load/util.ts'
import { buildNative, runNative } from '../native.ts'
import { cpuSeconds, rssBytes } from '../procs.ts'
import type { Node, Proc } from './cluster-procs.ts'

const CONCURRENCY = 64
/** The generator's own limit for the whole storm; clients not in by then count as failed. */
const STORM_DEADLINE_MS = 60_000
/** Time for the nodes and nats-server to settle (subscriptions propagated) before memory is read. */
const SETTLE_MS = 1500

export interface StormFigures {
  target: string
  result: StormResult
  /** CPU µs per connected client, from the first connect to the last SUBACK. */
  nodeCpuUs: number
  natsCpuUs: number
  /** RSS growth per connected client once they sit idle, in bytes. */
  nodeRssPerClient: number
  /** nats-server RSS growth over the storm, in bytes (total, and per client). */
  natsRssGrowth: number
}

/** Why no storm can run here (no gcc, too low a file limit), or undefined when it can. */
export function stormUnavailable(clients: number, fdLimit: number): string | undefined {
  if (fdLimit < clients + 100) return `ulimit -n is ${fdLimit}, below ${clients} clients + 100`
  const built = buildNative()
  return 'error' in built ? built.error : undefined
}

export async function connectStorm(node: Node, nats: Proc, clients: number): Promise<StormFigures> {
  const built = buildNative()
  if ('error' in built) throw new Error(built.error)
  const rss = (pid: number): number => rssBytes(pid) ?? Number.NaN
  const cpu = (pid: number): number => cpuSeconds(pid) ?? Number.NaN
  const nodeRssBefore = rss(node.pid)
  const natsRssBefore = rss(nats.pid)
  let start = [Number.NaN, Number.NaN]
  let end = [Number.NaN, Number.NaN]
  let nodeRssAfter = Number.NaN
  let natsRssAfter = Number.NaN
  const result = await runNative(
    built.path,
    {
      kind: 'storm',
      port: node.port,
      clients,
      concurrency: CONCURRENCY,
      clean: true,
      idPrefix: `cluster-storm-${node.name}-${process.pid}`,
      deadlineMs: STORM_DEADLINE_MS,
    },
    STORM_DEADLINE_MS + 30_000,
    {
      onMark: (name) => {
        const now = [cpu(node.pid), cpu(nats.pid)]
        if (name === 'measure-start') start = now
        else end = now
      },
      // The clients are still connected here.
      hold: async () => {
        await sleep(SETTLE_MS)
        nodeRssAfter = rss(node.pid)
        natsRssAfter = rss(nats.pid)
      },
    },
  )
  if (result.kind !== 'storm') throw new Error(`storm answered with a ${result.kind} result`)
  const done = Math.max(1, result.done)
  const perClientUs = (i: number): number =>
    (((end[i] ?? Number.NaN) - (start[i] ?? Number.NaN)) * 1e6) / done
  return {
    target: node.name,
    result,
    nodeCpuUs: perClientUs(0),
    natsCpuUs: perClientUs(1),
    nodeRssPerClient: (nodeRssAfter - nodeRssBefore) / done,
    natsRssGrowth: natsRssAfter - natsRssBefore,
  }
}
