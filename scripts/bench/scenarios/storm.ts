/**
 * Reconnect storm: a freshly started broker (cold JIT, small heap) takes N clients as fast
 * as the C generator offers them, 64 handshakes in flight, each CONNECT then SUBSCRIBE to
 * its own topic. That is what a broker meets after its own restart or a Wi-Fi outage.
 * Besides the rate, the broker's CPU time per client (robust on a busy machine, where the
 * rate also depends on what else runs) and its RSS once all clients sit idle, split into
 * heap and off-heap parts for Node brokers.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrokerLauncher, RunningBroker } from '../brokers.ts'
import type { StormResult } from '../load/jobs.ts'
import { sleep } from '../load/util.ts'
import type { Options } from '../options.ts'
import { cpuSeconds, rssBytes, trackTempDir } from '../procs.ts'
import { runJob } from '../workers.ts'
import { CpuWindow } from './cpu.ts'
import { fdLimit, rssSplit } from './memory.ts'
import { errorNotes, type Measurement, type Scenario, withBroker } from './types.ts'

export const STORM_LEVELS = [1000, 8000] as const
const CONCURRENCY = 64
const DEADLINE_MS = 60_000

interface Level {
  result: StormResult
  /** Broker CPU seconds from the first connect to the last SUBACK, per client, in µs. */
  cpuPerClientUs: number
  rssBefore: number
  rssAfter: number
  /** RSS growth per connected client once they sit idle. */
  rssPerClient: number
  heap?: { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage }
  cpu: CpuWindow
}

/** Clean sessions (the default), or persistent ones under the given client id prefix. */
interface Sessions {
  clean: boolean
  idPrefix: string
}

async function storm(
  broker: RunningBroker,
  clients: number,
  options: Options,
  sessions: Sessions = { clean: true, idPrefix: `storm-${process.pid}` },
): Promise<Level> {
  const rssBefore = rssBytes(broker.pid) ?? Number.NaN
  const heapBefore = await broker.memoryUsage?.()
  const cpu = new CpuWindow(broker.pid)
  let cpuAtStart = Number.NaN
  let cpuAtEnd = Number.NaN
  let rssAfter = Number.NaN
  let heapAfter: NodeJS.MemoryUsage | undefined
  const result = await runJob(
    {
      kind: 'storm',
      port: broker.port,
      clients,
      concurrency: CONCURRENCY,
      clean: sessions.clean,
      idPrefix: sessions.idPrefix,
      deadlineMs: DEADLINE_MS,
    },
    DEADLINE_MS + 60_000,
    {
      onMark: (name, loadPid) => {
        if (name === 'measure-start') cpuAtStart = cpuSeconds(broker.pid) ?? Number.NaN
        else cpuAtEnd = cpuSeconds(broker.pid) ?? Number.NaN
        cpu.onMark(name, loadPid)
      },
      // The clients are still connected here: let the broker settle, then read its memory.
      hold: async () => {
        await sleep(options.timings.settleMs)
        rssAfter = rssBytes(broker.pid) ?? Number.NaN
        heapAfter = await broker.memoryUsage?.()
      },
    },
  )
  const done = Math.max(result.done, 1)
  return {
    result,
    cpuPerClientUs: ((cpuAtEnd - cpuAtStart) / done) * 1e6,
    rssBefore,
    rssAfter,
    rssPerClient: (rssAfter - rssBefore) / done,
    ...(heapBefore && heapAfter ? { heap: { before: heapBefore, after: heapAfter } } : {}),
    cpu,
  }
}

/**
 * The storm after a restart with persistent sessions: a first broker takes the clients with
 * clean session 0 (each session and its subscription stored), they leave, the broker stops;
 * a second one, started on the same data directory, restores the sessions and is measured
 * taking the same clients again (session present, subscriptions already in place).
 */
async function persistentStorm(launcher: BrokerLauncher, clients: number, options: Options): Promise<Level> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-storm-'))
  const cleanup = trackTempDir(dataDir)
  try {
    const sessions = { clean: false, idPrefix: `pstorm-${process.pid}-${clients}` }
    const first = await withBroker(launcher, (broker) => storm(broker, clients, options, sessions), {
      dataDir,
    })
    if (first.result.done < clients) {
      throw new Error(`only ${first.result.done} of ${clients} persistent sessions were created`)
    }
    return await withBroker(launcher, (broker) => storm(broker, clients, options, sessions), { dataDir })
  } finally {
    cleanup()
  }
}

export const stormScenario: Scenario = {
  id: 'storm',
  metrics: [
    ...STORM_LEVELS.map((n) => ({
      id: `storm-${n}`,
      label: `reconnect storm, ${n.toLocaleString('en')} clients onto a fresh broker (CONNECT+SUBSCRIBE/s)`,
      unit: 'conn/s' as const,
      better: 'higher' as const,
    })),
    ...STORM_LEVELS.map((n) => ({
      id: `storm-cpu-${n}`,
      label: `broker CPU per storm client at ${n.toLocaleString('en')} (µs)`,
      unit: 'us' as const,
      better: 'lower' as const,
    })),
    ...STORM_LEVELS.map((n) => ({
      id: `storm-persistent-${n}`,
      label: `reconnect storm, ${n.toLocaleString('en')} persistent sessions restored after a restart (CONNECT+SUBSCRIBE/s)`,
      unit: 'conn/s' as const,
      better: 'higher' as const,
    })),
    ...STORM_LEVELS.map((n) => ({
      id: `storm-persistent-cpu-${n}`,
      label: `broker CPU per restored storm client at ${n.toLocaleString('en')} (µs)`,
      unit: 'us' as const,
      better: 'lower' as const,
    })),
    {
      id: 'storm-rss-8000',
      label: 'RSS per idle subscribed client after the 8,000 storm (bytes)',
      unit: 'bytes',
      better: 'lower',
    },
  ],
  async run(launcher, options): Promise<Measurement> {
    const limit = fdLimit()
    const values: Record<string, number> = {}
    const details: Record<string, unknown> = {}
    const notes: string[] = []
    for (const n of STORM_LEVELS) {
      if (limit < n + 100) {
        notes.push(`skipped ${n} clients: ulimit -n is ${limit}`)
        continue
      }
      const level = await withBroker(launcher, (broker) => storm(broker, n, options))
      const { result } = level
      values[`storm-${n}`] = result.perSec
      values[`storm-cpu-${n}`] = level.cpuPerClientUs
      if (n === 8000) values['storm-rss-8000'] = level.rssPerClient
      details[`clients-${n}`] = { ...level, cpu: level.cpu.figures }
      notes.push(...errorNotes(result.errors), ...level.cpu.notes().map((s) => `${n}: ${s}`))
      if (result.done < n) notes.push(`${n - result.done} of ${n} storm clients did not complete`)
      if (level.heap) notes.push(`${n}: ${rssSplit(level.rssPerClient, level.heap, result.done)}`)
    }
    if (launcher.name === 'aedes' || launcher.name === 'node-floor') {
      notes.push(`persistent storm skipped: ${launcher.name} keeps no sessions across a restart`)
      return { values, details, notes }
    }
    for (const n of STORM_LEVELS) {
      if (limit < n + 100) continue
      const level = await persistentStorm(launcher, n, options)
      values[`storm-persistent-${n}`] = level.result.perSec
      values[`storm-persistent-cpu-${n}`] = level.cpuPerClientUs
      details[`persistent-${n}`] = { ...level, cpu: level.cpu.figures }
      notes.push(...errorNotes(level.result.errors).map((s) => `persistent ${n}: ${s}`))
      if (level.result.done < n)
        notes.push(`persistent ${n}: ${n - level.result.done} of ${n} storm clients did not complete`)
    }
    return { values, details, notes }
  },
}
