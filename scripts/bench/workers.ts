/**
 * Orchestrator side of the load workers: start one pinned to the load core, hand it a
 * job, relay its marks, and return its result. A worker that fails, hangs past its
 * deadline, or exits early rejects the promise and is killed.
 */
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from './brokers.ts'
import type { FromWorker, Job, JobResult, ToWorker } from './load/jobs.ts'
import { runNative } from './native.ts'
import { captureOutput, LOAD_CORE, pidOf, spawnPinned, stopChild } from './procs.ts'

/** The compiled C generator, when the run uses it (stream, connects, latency). */
let nativeBinary: string | undefined
export function useNativeGenerator(path: string | undefined): void {
  nativeBinary = path
}
export function nativeGenerator(): string | undefined {
  return nativeBinary
}
export function generatorName(): string {
  return nativeBinary === undefined ? 'node' : 'c'
}

export interface WorkerHooks {
  /** `loadPid` is the generator process, so its CPU and run-queue wait can be read too. */
  onMark?: (name: 'measure-start' | 'measure-end', loadPid: number) => void
  onReady?: (connected: number) => void
  /** C generator: runs after the result arrived and before the generator is stopped (its clients still connected). */
  hold?: (result: JobResult) => Promise<void>
}

export interface LoadWorker {
  result: Promise<JobResult>
  /** Tells an idle job to release its connections. */
  stop(): void
}

export function startWorker(job: Job, deadlineMs: number, hooks: WorkerHooks = {}): LoadWorker {
  const child: ChildProcess = spawnPinned(
    LOAD_CORE,
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench/load/worker.ts')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] },
  )
  const stderr = captureOutput(child)
  const result = new Promise<JobResult>((resolve, reject) => {
    let settled = false
    const finish = (err: Error | undefined, value?: JobResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      // The worker exits on IPC disconnect; stopChild makes sure of it.
      if (child.connected) child.disconnect()
      void stopChild(child, 3000)
      if (err === undefined && value !== undefined) resolve(value)
      else reject(err)
    }
    const timer = setTimeout(
      () => finish(new Error(`load worker (${job.kind}) passed its ${deadlineMs} ms deadline`)),
      deadlineMs,
    )
    child.on('message', (msg: FromWorker) => {
      switch (msg.type) {
        case 'mark':
          hooks.onMark?.(msg.name, pidOf(child))
          break
        case 'ready':
          hooks.onReady?.(msg.connected)
          break
        case 'result':
          finish(undefined, msg.result)
          break
        case 'error':
          finish(new Error(`load worker (${job.kind}): ${msg.message}`))
          break
      }
    })
    child.once('exit', (code) =>
      finish(new Error(`load worker (${job.kind}) exited with ${code}: ${stderr()}`)),
    )
    child.once('error', (err) => finish(err))
    child.send({ type: 'job', job } satisfies ToWorker)
  })
  return {
    result,
    stop: () => {
      if (child.connected) child.send({ type: 'stop' } satisfies ToWorker)
    },
  }
}

export type ResultOf<J extends Job> = Extract<JobResult, { kind: J['kind'] }>

/** Checks that a worker answered a job with the matching kind of result. */
export function resultFor<J extends Job>(job: J, result: JobResult): ResultOf<J> {
  if (result.kind !== job.kind)
    throw new Error(`load worker answered a ${job.kind} job with a ${result.kind} result`)
  return result as ResultOf<J>
}

/** Runs a job to completion. */
export async function runJob<J extends Job>(
  job: J,
  deadlineMs: number,
  hooks: WorkerHooks = {},
): Promise<ResultOf<J>> {
  const result =
    nativeBinary !== undefined &&
    (job.kind === 'stream' || job.kind === 'connects' || job.kind === 'latency' || job.kind === 'storm')
      ? await runNative(nativeBinary, job, deadlineMs, hooks)
      : job.kind === 'storm'
        ? await Promise.reject<JobResult>(new Error('the storm scenario needs the C load generator (gcc)'))
        : await startWorker(job, deadlineMs, hooks).result
  return resultFor(job, result)
}
