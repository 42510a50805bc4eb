import type { Logger } from 'pino'
import type { PendingLoad, ScriptLimitHit, ScriptRecord } from './script-status.ts'

/**
 * Restarts allowed in RESTART_WINDOW_MS before the host gives up on a worker that keeps crashing
 * (or on a script whose VM keeps crashing at its memory ceiling).
 */
const MAX_RESTARTS = 5
const RESTART_WINDOW_MS = 30_000

/** Counts restarts in a sliding window. */
export class RestartBudget {
  private restarts: number[] = []

  /** Records a restart at `now`; false once there were too many of them lately. */
  allow(now: number): boolean {
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS)
    this.restarts.push(now)
    return this.restarts.length <= MAX_RESTARTS
  }
}

/**
 * Per script, its VM's crashes at the memory ceiling (see MemoryCeiling in vm-limits.ts): the
 * host loads the script again after each, until they come too often.
 */
export class MemoryCrashes {
  private readonly budgets = new Map<string, RestartBudget>()

  /** Records a crash of `name`'s VM at `now`: whether to load it again, and what the log says of it. */
  note(name: string, now: number): { reload: boolean; outcome: string } {
    const budget = this.budgets.get(name) ?? new RestartBudget()
    this.budgets.set(name, budget)
    if (budget.allow(now)) return { reload: true, outcome: 'loading it again from its file' }
    const often = `more than ${MAX_RESTARTS} times in ${RESTART_WINDOW_MS / 1000} s`
    return { reload: false, outcome: `${often}: stopped until its file changes` }
  }

  forget(name: string): void {
    this.budgets.delete(name)
  }
}

/**
 * What the loss of the worker does to the scripts' records: no VM survived it; the script whose
 * call was running when the watchdog killed it (`offenderVmId`) is stopped for good (until its
 * file changes), the others wait to be loaded again. Pending loads are settled.
 */
export function markWorkerLost(
  records: Iterable<ScriptRecord>,
  pending: ReadonlyMap<number, PendingLoad>,
  offenderVmId: number | undefined,
  reason: string,
  log: Logger,
): void {
  // An offender is only named when the watchdog killed the worker: a hard CPU stop.
  const hardStop = (): ScriptLimitHit => ({ kind: 'hard-cpu', at: new Date(), message: reason })
  for (const [vmId, p] of pending) {
    if (vmId === offenderVmId) {
      p.record.hardStop = hardStop()
      p.record.error = `${p.record.name} stopped while loading: ${reason}`
      log.error({ script: p.record.name, file: p.record.file }, `${p.record.error} (script not loaded)`)
    }
    if (p.record.activeVmId === undefined) p.record.status = 'error'
    p.done()
  }
  for (const record of records) {
    if (offenderVmId !== undefined && record.activeVmId === offenderVmId) {
      record.hardStop = hardStop()
      record.status = 'stopped'
      record.error = `${record.name} stopped: ${reason}; it is loaded again when the file changes`
      record.activeCode = undefined
      log.error({ script: record.name, file: record.file }, record.error)
    } else if (record.activeCode !== undefined) {
      record.status = 'loading'
    }
    record.activeVmId = undefined
  }
}
