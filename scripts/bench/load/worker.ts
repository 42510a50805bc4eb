/**
 * Load-generator process. The orchestrator starts it (pinned to the load core), sends
 * one job over IPC, and gets marks and a result back. It exits when the job is done or
 * when the orchestrator goes away, so a crashed run leaves no generator behind.
 */
import { runConnects } from './connects.ts'
import { runIdle } from './idle.ts'
import type { FromWorker, Job, JobResult, ToWorker } from './jobs.ts'
import { runLatency } from './latency.ts'
import { runSoak } from './soak.ts'
import { runStream } from './stream.ts'
import { errorText } from './util.ts'

function send(msg: FromWorker): void {
  process.send?.(msg)
}

const mark = (name: 'measure-start' | 'measure-end'): void => send({ type: 'mark', name })

let stop: () => void = () => {}
const stopped = new Promise<void>((resolve) => {
  stop = resolve
})

function run(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case 'stream':
      return runStream(job, mark)
    case 'latency':
      return runLatency(job, mark)
    case 'connects':
      return runConnects(job, mark)
    case 'storm':
      return Promise.reject(new Error('the storm job runs in the C generator only'))
    case 'idle':
      return runIdle(job, (connected) => send({ type: 'ready', connected }), stopped)
    case 'soak':
      return runSoak(job)
  }
}

if (process.send === undefined) {
  console.error('worker.ts is started by the broker suite (npm run bench), not directly')
  process.exit(2)
}

process.on('disconnect', () => process.exit(1))
process.on('message', (msg: ToWorker) => {
  if (msg.type === 'stop') {
    stop()
    return
  }
  run(msg.job).then(
    (result) => send({ type: 'result', result }),
    (err: unknown) => send({ type: 'error', message: errorText(err) }),
  )
})
