/**
 * Child processes of the benchmark: started pinned to a core, tracked in one registry,
 * and all killed when the run ends, fails or is interrupted, so no broker or generator
 * outlives `npm run bench`.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const live = new Set<ChildProcess>()

/** `taskset` and a second core: only then can broker and generator get a core each. */
export const canPin: boolean =
  availableParallelism() >= 2 && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0

export const BROKER_CORE = 0
export const LOAD_CORE = 1

/** The process id of a started child; Node leaves it unset only when the spawn itself failed. */
export function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error(`${child.spawnfile} did not start (no process id)`)
  return child.pid
}

/** Spawns `command args`, under `taskset -c core` when pinning is possible. */
export function spawnPinned(
  core: number | undefined,
  command: string,
  args: string[],
  options: SpawnOptions,
): ChildProcess {
  const pinned = canPin && core !== undefined
  const child = pinned
    ? spawn('taskset', ['-c', String(core), command, ...args], options)
    : spawn(command, args, options)
  live.add(child)
  child.once('exit', () => live.delete(child))
  // A spawn failure (ENOENT) arrives as 'error'; leaving it unhandled would crash the run.
  child.once('error', () => live.delete(child))
  return child
}

/** Pins this orchestrator to the load core so it never competes with the broker. */
export function pinSelf(): void {
  if (canPin)
    spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' })
}

export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** SIGTERM, then SIGKILL if it has not gone within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  if (!(await waitExit(child, graceMs))) {
    child.kill('SIGKILL')
    await waitExit(child, graceMs)
  }
}

const tempDirs = new Set<string>()

/** A directory removed when the run ends, however it ends. */
export function trackTempDir(dir: string): () => void {
  tempDirs.add(dir)
  return () => {
    tempDirs.delete(dir)
    rmSync(dir, { recursive: true, force: true })
  }
}

export function killAllSync(): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

/** Kills every child on any way out of the process. */
export function installCleanup(): void {
  process.once('exit', killAllSync)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping all brokers and load generators`)
      killAllSync()
      process.exit(130)
    })
  }
}

/** Resident set size of a process in bytes, from /proc; undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

const TICKS_PER_SEC = 100

/** User + system CPU seconds of a process, from /proc/<pid>/stat (all its threads). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC
  } catch {
    return undefined
  }
}

/**
 * Nanoseconds the process's main thread has spent waiting for a CPU while runnable
 * (/proc/<pid>/schedstat). Growth during a measurement means the machine was busy.
 */
export function runWaitSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ')
    return Number(fields[1]) / 1e9
  } catch {
    return undefined
  }
}

/** Collects a child's stderr (bounded) so a failing broker can say why. */
export function captureOutput(child: ChildProcess, limit = 4000): () => string {
  let text = ''
  const add = (chunk: Buffer): void => {
    if (text.length < limit) text += chunk.toString('utf8').slice(0, limit - text.length)
  }
  child.stderr?.on('data', add)
  return () => text.trim()
}
