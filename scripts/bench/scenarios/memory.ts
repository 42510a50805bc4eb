/**
 * Broker RSS per idle connected client at 1,000 and 8,000 clients, each level on a fresh
 * broker. The baseline is taken after a small warm-up crowd has come and gone, so code
 * paths compiled or pools allocated on the first connections are not billed per client.
 * Clients are spread over several worker processes to keep each one's descriptor count low.
 */
import { spawnSync } from 'node:child_process'
import type { RunningBroker } from '../brokers.ts'
import { sleep } from '../load/util.ts'
import type { Options } from '../options.ts'
import { rssBytes } from '../procs.ts'
import { startWorker } from '../workers.ts'
import { type Measurement, type Scenario, withBroker } from './types.ts'

export const LEVELS = [1000, 8000] as const
const CLIENTS_PER_WORKER = 2000
const WARMUP_CLIENTS = 50
const HOLD_MAX_MS = 120_000

/** The shell's open-file limit, which the brokers and workers inherit. */
export function fdLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()
  return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out)
}

interface Crowd {
  connected: number
  /** Filled by release(): what the workers reported. */
  errors: string[]
  release(): Promise<void>
}

/** Connects `clients` idle clients over several workers and resolves once all are in. */
async function gather(port: number, clients: number, tag: string): Promise<Crowd> {
  const workers = Math.ceil(clients / CLIENTS_PER_WORKER)
  const started = Array.from({ length: workers }, (_, w) => {
    const count = Math.min(CLIENTS_PER_WORKER, clients - w * CLIENTS_PER_WORKER)
    let onReady: (connected: number) => void = () => {}
    const ready = new Promise<number>((resolve) => {
      onReady = resolve
    })
    const job = {
      kind: 'idle',
      port,
      clients: count,
      idPrefix: `idle-${tag}-${w}`,
      concurrency: 100,
      holdMaxMs: HOLD_MAX_MS,
    } as const
    const worker = startWorker(job, HOLD_MAX_MS + 30_000, { onReady })
    // A worker that ends before it is ready (crash, deadline) must fail the gathering now,
    // not after the others have held their clients for HOLD_MAX_MS.
    const readyOrFailed = Promise.race([
      ready,
      worker.result.then(() => {
        throw new Error('an idle worker finished before reporting ready')
      }),
    ])
    return { worker, ready: readyOrFailed }
  })
  let connected: number[]
  try {
    connected = await Promise.all(started.map((s) => s.ready))
  } catch (err) {
    for (const s of started) s.worker.stop()
    await Promise.allSettled(started.map((s) => s.worker.result))
    throw err
  }
  const errors: string[] = []
  return {
    connected: connected.reduce((a, b) => a + b, 0),
    errors,
    async release() {
      for (const s of started) s.worker.stop()
      const results = await Promise.allSettled(started.map((s) => s.worker.result))
      for (const r of results) {
        if (r.status === 'rejected') errors.push(String(r.reason))
        else if (r.value.kind === 'idle') errors.push(...r.value.errors)
      }
    },
  }
}

interface Level {
  rssBefore: number
  rssAfter: number
  connected: number
  perClient: number
  /** Node brokers: process.memoryUsage() before and after, to split RSS into heap and off-heap. */
  heap?: { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage }
  errors: string[]
}

async function perClient(broker: RunningBroker, clients: number, options: Options): Promise<Level> {
  const warm = await gather(broker.port, WARMUP_CLIENTS, 'warm')
  await warm.release()
  await sleep(options.timings.settleMs)
  const before = rssBytes(broker.pid)
  const heapBefore = await broker.memoryUsage?.()
  const crowd = await gather(broker.port, clients, 'n')
  let after: number | undefined
  let heapAfter: NodeJS.MemoryUsage | undefined
  try {
    await sleep(options.timings.settleMs)
    after = rssBytes(broker.pid)
    heapAfter = await broker.memoryUsage?.()
  } finally {
    await crowd.release()
  }
  if (before === undefined || after === undefined) throw new Error('broker exited during the memory scenario')
  const perClient = crowd.connected > 0 ? (after - before) / crowd.connected : Number.NaN
  return {
    rssBefore: before,
    rssAfter: after,
    connected: crowd.connected,
    perClient,
    ...(heapBefore && heapAfter ? { heap: { before: heapBefore, after: heapAfter } } : {}),
    errors: crowd.errors,
  }
}

const kB = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`

/**
 * RSS per client split into growth of the JS heap V8 committed (`used`: live objects plus
 * garbage not yet collected) and the rest: sockets' native state, buffers, malloc, and heap
 * pages committed before the crowd came but first touched by it (so at 1,000 clients, where
 * the heap had room, most of the heap's share shows up in the rest).
 */
export function rssSplit(
  rssPerClient: number,
  { before, after }: { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage },
  clients: number,
): string {
  const per = (key: 'heapTotal' | 'heapUsed' | 'external') =>
    (after[key] - before[key]) / Math.max(clients, 1)
  return (
    `RSS per client ${kB(rssPerClient)} = JS heap ${kB(per('heapTotal'))} (used ${kB(per('heapUsed'))})` +
    ` + rest ${kB(rssPerClient - per('heapTotal'))} (external ${kB(per('external'))})`
  )
}

export const memory: Scenario = {
  id: 'memory',
  metrics: LEVELS.map((n) => ({
    id: `memory-${n}`,
    label: `RSS per idle client at ${n.toLocaleString('en')} (bytes)`,
    unit: 'bytes' as const,
    better: 'lower' as const,
  })),
  async run(launcher, options): Promise<Measurement> {
    const limit = fdLimit()
    const values: Record<string, number> = {}
    const details: Record<string, unknown> = { fdLimit: limit }
    const notes: string[] = []
    for (const n of LEVELS) {
      // The broker holds one descriptor per client plus a few of its own.
      if (limit < n + 100) {
        notes.push(`skipped ${n} clients: ulimit -n is ${limit}`)
        continue
      }
      const level = await withBroker(launcher, (broker) => perClient(broker, n, options))
      values[`memory-${n}`] = level.perClient
      details[`clients-${n}`] = level
      if (level.connected < n) notes.push(`${n - level.connected} of ${n} idle clients failed to connect`)
      notes.push(...level.errors.map((e) => `error at ${n} clients: ${e}`))
      if (level.heap) notes.push(`${n}: ${rssSplit(level.perClient, level.heap, level.connected)}`)
    }
    return { values, details, notes }
  },
}
