import { type Location, locationOf } from './location.ts'

/** Options of the scripting host. Every limit has a default; all are per script unless noted. */
export interface ScriptingOptions {
  /** A script file, or a folder whose top-level `.js`/`.mjs` files are each one script. */
  path: string
  /** Cap on a script's whole WebAssembly memory (QuickJS heap, stack and static data). Default 32 MiB, minimum 20 MiB. */
  memoryLimitBytes?: number
  /** CPU time one call into a script (top level, init, a callback, a timer) may take before it is interrupted. Default 250 ms. */
  cpuLimitMs?: number
  /** Hard stop: when one call runs this long despite the interrupt, the VM worker is terminated and restarted without that script. Default 1000 ms. */
  hardCpuLimitMs?: number
  /** QuickJS stack size. Default 256 KiB. */
  maxStackSizeBytes?: number
  /** Sustained ms_publish rate; publishes above it are dropped and the script is named in the log. Default 1000/s. */
  publishRatePerSecond?: number
  /** Publishes allowed in a burst above the sustained rate. Default equal to publishRatePerSecond. */
  publishBurst?: number
  /** Log lines (print/console) per second before lines are dropped. Default 200/s. */
  logRatePerSecond?: number
  /** Live subscriptions per script. Default 1000. */
  maxSubscriptions?: number
  /** Live timers per script. Default 1000. */
  maxTimers?: number
  /** Largest `persist` (as JSON, in bytes) that is saved; a larger one is logged and not saved. Default 1 MiB. */
  maxPersistBytes?: number
  /** Quiet period after the last file event before a script is reloaded. Default 100 ms. */
  reloadDebounceMs?: number
  /** Watch the files and reload on change. Default true. */
  watch?: boolean
  /**
   * How long a script's status stays `throttled` or `over-limit` after the last report of it,
   * before it shows `running` again. Default 5000 ms.
   */
  statusHoldMs?: number
  /** ms_fetch: default timeout of one request, from its start to the last byte of the response. Default 10000 ms. */
  fetchTimeoutMs?: number
  /** ms_fetch: largest response body; a larger one rejects the request. Default 1 MiB. */
  maxFetchBytes?: number
  /** ms_fetch: requests of one script on the wire at once; more wait for a free slot. Default 8. */
  maxFetchesInFlight?: number
  /** The broker's location in degrees north (-90..90), for sun-event schedules; set together with longitude. */
  latitude?: number | undefined
  /** The broker's location in degrees east (-180..180), for sun-event schedules; set together with latitude. */
  longitude?: number | undefined
}

export interface ScriptLimits {
  memoryLimitBytes: number
  cpuLimitMs: number
  hardCpuLimitMs: number
  maxStackSizeBytes: number
  publishRatePerSecond: number
  publishBurst: number
  logRatePerSecond: number
  maxSubscriptions: number
  maxTimers: number
  maxPersistBytes: number
  fetchTimeoutMs: number
  maxFetchBytes: number
  maxFetchesInFlight: number
  /** Where sun-event schedules are computed; unset, they are refused. */
  location?: Location | undefined
}

export interface ResolvedScriptingOptions extends ScriptLimits {
  path: string
  reloadDebounceMs: number
  watch: boolean
  statusHoldMs: number
}

const MIB = 1024 * 1024
/**
 * A script that keeps flooding is reported about once a second, so the hold must be well above
 * that for its status not to flicker back to `running` between reports; 5 s also keeps a short
 * burst on screen across several of the dashboard's one-second refreshes.
 */
const DEFAULT_STATUS_HOLD_MS = 5000
/** The QuickJS build reserves 16 MiB at start; below ~20 MiB a script could not even load. */
const MIN_MEMORY_BYTES = 20 * MIB

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`scripting option ${name} must be a positive number`)
  return value
}

export function resolveOptions(options: ScriptingOptions): ResolvedScriptingOptions {
  const publishRatePerSecond = positive('publishRatePerSecond', options.publishRatePerSecond, 1000)
  return {
    path: options.path,
    memoryLimitBytes: Math.max(
      MIN_MEMORY_BYTES,
      positive('memoryLimitBytes', options.memoryLimitBytes, 32 * MIB),
    ),
    cpuLimitMs: positive('cpuLimitMs', options.cpuLimitMs, 250),
    hardCpuLimitMs: positive('hardCpuLimitMs', options.hardCpuLimitMs, 1000),
    maxStackSizeBytes: positive('maxStackSizeBytes', options.maxStackSizeBytes, 256 * 1024),
    publishRatePerSecond,
    publishBurst: positive('publishBurst', options.publishBurst, publishRatePerSecond),
    logRatePerSecond: positive('logRatePerSecond', options.logRatePerSecond, 200),
    maxSubscriptions: positive('maxSubscriptions', options.maxSubscriptions, 1000),
    maxTimers: positive('maxTimers', options.maxTimers, 1000),
    maxPersistBytes: positive('maxPersistBytes', options.maxPersistBytes, MIB),
    fetchTimeoutMs: positive('fetchTimeoutMs', options.fetchTimeoutMs, 10_000),
    maxFetchBytes: positive('maxFetchBytes', options.maxFetchBytes, MIB),
    maxFetchesInFlight: positive('maxFetchesInFlight', options.maxFetchesInFlight, 8),
    reloadDebounceMs: positive('reloadDebounceMs', options.reloadDebounceMs, 100),
    watch: options.watch ?? true,
    statusHoldMs: positive('statusHoldMs', options.statusHoldMs, DEFAULT_STATUS_HOLD_MS),
    location: locationOf(options.latitude, options.longitude),
  }
}
