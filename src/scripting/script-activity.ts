import { PUBLISH } from './wire-formats.ts'

/**
 * What a script did since the host first loaded it, over all its versions (the $SYS topics and
 * the Prometheus metrics of src/ops show it). Counted on the main thread, from the traffic
 * that crosses it: timers run inside the worker and are not among the callbacks.
 */
export interface ScriptActivity {
  /** Messages delivered to the script's subscriptions (each one call of its handler). */
  callbacks: number
  /** Errors it threw (logged with their stack), failed loads, and the stop of a version. */
  errors: number
  /** Its ms_publish calls that reached the broker. */
  publishes: number
}

export function noActivity(): ScriptActivity {
  return { callbacks: 0, errors: 0, publishes: 0 }
}

/** Each VM's script's counts, so the worker's messages (which name a VM) find theirs. */
export class ActivityByVm {
  private readonly byVm = new Map<number, ScriptActivity>()

  attach(vmId: number, activity: ScriptActivity): void {
    this.byVm.set(vmId, activity)
  }

  of(vmId: number): ScriptActivity | undefined {
    return this.byVm.get(vmId)
  }

  detach(vmId: number): void {
    this.byVm.delete(vmId)
  }

  countPublish(vmId: number): void {
    const activity = this.byVm.get(vmId)
    if (activity) activity.publishes++
  }

  /** A 'pubs' batch: one publish per PUBLISH record, counted for the VM that made it. */
  countPublishes(meta: Int32Array): void {
    for (let m = 0; m < meta.length; m += PUBLISH.STRIDE) {
      const activity = this.byVm.get(meta[m + PUBLISH.VM] ?? -1)
      if (activity) activity.publishes++
    }
  }
}
