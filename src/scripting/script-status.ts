import type { LimitKind } from './error-location.ts'
import type { VmCondition } from './protocol.ts'
import { noActivity, type ScriptActivity } from './script-activity.ts'

/** What the host itself tracks; the reports of a running script refine `running` (see ScriptState). */
type LoadState = 'loading' | 'running' | 'error' | 'stopped'

/**
 * `throttled`: running, but its ms_publish was rate-limited within the last `statusHoldMs`.
 * `over-limit`: running, but a limit aborted one of its calls within that time (see `limit`);
 * it wins over `throttled`, since calls are cut short and not only publishes dropped.
 */
export type ScriptState = LoadState | 'throttled' | 'over-limit'

/** `hard-cpu`: the watchdog stopped the script because one call outlived `hardCpuLimitMs`. */
export type ScriptLimitKind = LimitKind | 'hard-cpu'

export interface ScriptLimitHit {
  kind: ScriptLimitKind
  at: Date
  /** What was logged, e.g. `InternalError: out of memory: exceeded the memory limit of …`. */
  message: string
  /** `file:line:column` (or just the file) of the aborted call; absent for a hard stop. */
  where?: string | undefined
}

export interface ScriptThrottle {
  /** The last report; a script that keeps flooding is reported about once a second. */
  at: Date
  /** Publishes dropped since the report before. */
  dropped: number
  message: string
}

export interface ScriptStatus {
  name: string
  file: string
  status: ScriptState
  /** The last load or runtime failure, `file:line:column message`. Cleared by a successful load. */
  error?: string | undefined
  /** The last limit hit of the running version, or the hard stop that stopped it. Cleared by a successful load. */
  limit?: ScriptLimitHit | undefined
  /** The last time the running version's ms_publish was rate-limited. */
  throttled?: ScriptThrottle | undefined
  subscriptions: number
  timers: number
  lastReload?: Date | undefined
  /** Messages delivered to its subscriptions since the host first loaded it (all versions). */
  callbacks: number
  /** Errors it threw or that stopped or failed a version, since then. */
  errors: number
  /** Messages it published, since then. */
  publishes: number
}

export interface ScriptRecord {
  name: string
  file: string
  status: LoadState
  error: string | undefined
  /** The watchdog's stop; outlives the VM, unlike the conditions it reported. */
  hardStop: ScriptLimitHit | undefined
  /** Hash of the content last tried, so an unchanged file is not reloaded. */
  hash: string | undefined
  activeVmId: number | undefined
  /** Source of the running version, reloaded after a worker restart. */
  activeCode: string | undefined
  /** The modules the running version imported, by folder-relative name. */
  activeModules?: Map<string, string> | undefined
  /** Every module the script imports, directly or not, as last read: a change to one reloads it. */
  imports?: Set<string> | undefined
  lastReload: Date | undefined
  /** Counted over all its versions (script-activity.ts). */
  activity: ScriptActivity
  /** Syncs of one file run one after another. */
  chain: Promise<void>
  /**
   * Whether its file has been read once. Until then the script is not listed: the watcher's
   * late word on a file just renamed or deleted would otherwise show it for a moment.
   */
  fileRead: boolean
}

/** What a VM reported about itself; dropped with the VM, so a new version starts clean. */
export interface VmConditions {
  limit?: ScriptLimitHit
  throttled?: ScriptThrottle
}

/** A load sent to the worker, by vmId, until it answers 'loaded' or 'loadFailed'. */
export interface PendingLoad {
  record: ScriptRecord
  code: string
  modules: Map<string, string>
  done: () => void
}

/**
 * The status of one script as ScriptingHost.scripts() shows it: what the host tracks, refined
 * by what its running version reported within the last `holdMs`.
 */
export function statusOf(
  r: ScriptRecord,
  reported: VmConditions | undefined,
  counts: { subscriptions: number; timers: number },
  holdMs: number,
  now: number,
): ScriptStatus {
  const recent = (at: Date | undefined): boolean => at !== undefined && now - at.getTime() < holdMs
  const limit = reported?.limit ?? r.hardStop
  const throttled = reported?.throttled
  let status: ScriptState = r.status
  if (status === 'running' && recent(limit?.at)) status = 'over-limit'
  else if (status === 'running' && recent(throttled?.at)) status = 'throttled'
  return {
    name: r.name,
    file: r.file,
    status,
    error: r.error,
    limit,
    throttled,
    subscriptions: counts.subscriptions,
    timers: counts.timers,
    lastReload: r.lastReload,
    ...r.activity,
  }
}

/** A script's record before its first load. */
export function newScriptRecord(name: string, file: string): ScriptRecord {
  return {
    name,
    file,
    status: 'loading',
    error: undefined,
    hardStop: undefined,
    hash: undefined,
    activeVmId: undefined,
    activeCode: undefined,
    lastReload: undefined,
    activity: noActivity(),
    chain: Promise.resolve(),
    fileRead: false,
  }
}

/** The status of every script; `counts` gives a running VM's subscriptions and timers. */
export function statusesOf(
  records: Iterable<ScriptRecord>,
  conditions: ReadonlyMap<number, VmConditions>,
  counts: (vmId: number) => { subscriptions: number; timers: number },
  holdMs: number,
  now: number,
): ScriptStatus[] {
  return [...records]
    .filter((r) => r.fileRead)
    .map((r) => {
      const vmId = r.activeVmId
      if (vmId === undefined) return statusOf(r, undefined, { subscriptions: 0, timers: 0 }, holdMs, now)
      return statusOf(r, conditions.get(vmId), counts(vmId), holdMs, now)
    })
}

/** Adds a VM's report to what it reported before (the latest of each kind counts). */
export function noteCondition(byVm: Map<number, VmConditions>, vmId: number, at: Date, c: VmCondition): void {
  let reported = byVm.get(vmId)
  if (reported === undefined) {
    reported = {}
    byVm.set(vmId, reported)
  }
  if (c.kind === 'throttled') reported.throttled = { at, dropped: c.dropped, message: c.message }
  else reported.limit = { kind: c.kind, at, message: c.message, where: c.where }
}
