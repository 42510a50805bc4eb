/**
 * The C load generator (load/gen.c): compiled with gcc on first use into a temp
 * directory keyed by the source hash, then run pinned to the load core. It speaks the
 * same jobs and results as the Node generator, over argv and stdout lines.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from './brokers.ts'
import type { ConnectsJob, JobResult, LatencyJob, StormJob, StreamJob } from './load/jobs.ts'
import { BROKER_CORE, canPin, captureOutput, LOAD_CORE, pidOf, spawnPinned, stopChild } from './procs.ts'
import type { WorkerHooks } from './workers.ts'

const SOURCE = join(REPO_ROOT, 'scripts/bench/load/gen.c')

/** Path of the compiled generator, or why there is none (no gcc, compile error). */
export function buildNative(): { path: string } | { error: string } {
  const source = readFileSync(SOURCE)
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
  const root = join(tmpdir(), 'tinymqtt-bench-gen')
  const dir = join(root, hash)
  const path = join(dir, 'gen')
  if (existsSync(path)) return { path }
  // Builds of older sources are of no further use.
  if (existsSync(root))
    for (const old of readdirSync(root)) rmSync(join(root, old), { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const gcc = spawnSync('gcc', ['-O2', '-Wall', '-o', path, SOURCE], { encoding: 'utf8' })
  if (gcc.error !== undefined) return { error: `gcc not available (${gcc.error.message})` }
  if (gcc.status !== 0) return { error: `gcc failed: ${gcc.stderr.trim()}` }
  return { path }
}

export type NativeJob = StreamJob | ConnectsJob | LatencyJob | StormJob

function args(job: NativeJob): string[] {
  if (job.kind === 'connects') {
    return ['connects', job.port, job.concurrency, job.warmupMs, job.measureMs, job.maxConnects].map(String)
  }
  if (job.kind === 'storm') {
    return [
      'storm',
      job.port,
      job.clients,
      job.concurrency,
      job.clean ? 1 : 0,
      job.idPrefix,
      job.deadlineMs,
    ].map(String)
  }
  if (job.kind === 'latency') {
    return ['latency', job.port, job.ratePerSec, job.payloadBytes, job.warmupMs, job.measureMs].map(String)
  }
  if (job.qos === 2) throw new Error('the C generator streams QoS 0 and 1 only (use the Node one)')
  if (job.subscriberPort !== undefined && job.subscriberPort !== job.port)
    throw new Error('the C generator puts publishers and subscribers on one port (use the Node one)')
  return [
    'stream',
    job.port,
    job.publishers,
    job.subscribers,
    job.qos,
    job.perPublisherTopic ? 1 : 0,
    job.topic,
    job.filter,
    job.payloadBytes,
    job.batch,
    job.window,
    job.inflight,
    job.warmupMs,
    job.measureMs,
    job.drainMs,
    job.maxMessages,
  ].map(String)
}

function parseResult(text: string, kind: NativeJob['kind']): JobResult {
  const parsed: unknown = JSON.parse(text)
  if (typeof parsed !== 'object' || parsed === null || !('kind' in parsed) || parsed.kind !== kind) {
    throw new Error(`native generator printed an unexpected result: ${text}`)
  }
  // The C side prints exactly the fields of StreamResult / ConnectsResult / LatencyResult.
  return parsed as JobResult
}

export function runNative(
  binary: string,
  job: NativeJob,
  deadlineMs: number,
  hooks: WorkerHooks,
): Promise<JobResult> {
  // The storm job holds its clients until its stdin closes (after the hold hook).
  const child = spawnPinned(LOAD_CORE, binary, args(job), { stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr = captureOutput(child)
  return new Promise<JobResult>((resolve, reject) => {
    let settled = false
    const finish = (err: Error | undefined, value?: JobResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const held =
        err === undefined && value !== undefined && hooks.hold ? hooks.hold(value) : Promise.resolve()
      void held
        .catch(() => {})
        .then(() => {
          void stopChild(child, 1000)
          if (err === undefined && value !== undefined) resolve(value)
          else reject(err)
        })
    }
    const timer = setTimeout(
      () => finish(new Error(`native generator passed its ${deadlineMs} ms deadline`)),
      deadlineMs,
    )
    let pending = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
        if (line === 'MARK measure-start') hooks.onMark?.('measure-start', pidOf(child))
        else if (line === 'MARK measure-end') hooks.onMark?.('measure-end', pidOf(child))
        else if (line.startsWith('RESULT ')) {
          try {
            finish(undefined, parseResult(line.slice(7), job.kind))
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)))
          }
        } else if (line.startsWith('ERROR ')) finish(new Error(`native generator: ${line.slice(6)}`))
      }
    })
    child.once('exit', (code) => finish(new Error(`native generator exited with ${code}: ${stderr()}`)))
    child.once('error', (err) => finish(err))
  })
}

/**
 * Nanoseconds per trivial syscall on the broker core. Brokers that make a few syscalls
 * per message (Mosquitto) slow down in proportion; a busy or heavily mitigated VM shows
 * here first. Around 100 ns is a quiet modern x86.
 */
export function syscallCost(binary: string): number | undefined {
  const args = canPin ? ['-c', String(BROKER_CORE), binary, 'syscall'] : ['syscall']
  const out = spawnSync(canPin ? 'taskset' : binary, args, { encoding: 'utf8', timeout: 5000 })
  const match = /"ns":([\d.]+)/.exec(out.stdout ?? '')
  return match === null ? undefined : Number(match[1])
}
