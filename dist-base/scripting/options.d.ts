/** Options of the scripting host. Every limit has a default; all are per script unless noted. */
export interface ScriptingOptions {
    /** A script file, or a folder whose top-level `.js`/`.mjs` files are each one script. */
    path: string;
    /** Cap on a script's whole WebAssembly memory (QuickJS heap, stack and static data). Default 32 MiB, minimum 20 MiB. */
    memoryLimitBytes?: number;
    /** CPU time one call into a script (top level, init, a callback, a timer) may take before it is interrupted. Default 250 ms. */
    cpuLimitMs?: number;
    /** Hard stop: when one call runs this long despite the interrupt, the VM worker is terminated and restarted without that script. Default 1000 ms. */
    hardCpuLimitMs?: number;
    /** QuickJS stack size. Default 256 KiB. */
    maxStackSizeBytes?: number;
    /** Sustained ms_publish rate; publishes above it are dropped and the script is named in the log. Default 1000/s. */
    publishRatePerSecond?: number;
    /** Publishes allowed in a burst above the sustained rate. Default equal to publishRatePerSecond. */
    publishBurst?: number;
    /** Log lines (print/console) per second before lines are dropped. Default 200/s. */
    logRatePerSecond?: number;
    /** Live subscriptions per script. Default 1000. */
    maxSubscriptions?: number;
    /** Live timers per script. Default 1000. */
    maxTimers?: number;
    /** Largest `persist` (as JSON, in bytes) that is saved; a larger one is logged and not saved. Default 1 MiB. */
    maxPersistBytes?: number;
    /** Quiet period after the last file event before a script is reloaded. Default 100 ms. */
    reloadDebounceMs?: number;
    /** Watch the files and reload on change. Default true. */
    watch?: boolean;
    /**
     * How long a script's status stays `throttled` or `over-limit` after the last report of it,
     * before it shows `running` again. Default 5000 ms.
     */
    statusHoldMs?: number;
    /** ms_fetch: default timeout of one request, from its start to the last byte of the response. Default 10000 ms. */
    fetchTimeoutMs?: number;
    /** ms_fetch: largest response body; a larger one rejects the request. Default 1 MiB. */
    maxFetchBytes?: number;
    /** ms_fetch: requests of one script on the wire at once; more wait for a free slot. Default 8. */
    maxFetchesInFlight?: number;
}
export interface ScriptLimits {
    memoryLimitBytes: number;
    cpuLimitMs: number;
    hardCpuLimitMs: number;
    maxStackSizeBytes: number;
    publishRatePerSecond: number;
    publishBurst: number;
    logRatePerSecond: number;
    maxSubscriptions: number;
    maxTimers: number;
    maxPersistBytes: number;
    fetchTimeoutMs: number;
    maxFetchBytes: number;
    maxFetchesInFlight: number;
}
export interface ResolvedScriptingOptions extends ScriptLimits {
    path: string;
    reloadDebounceMs: number;
    watch: boolean;
    statusHoldMs: number;
}
export declare function resolveOptions(options: ScriptingOptions): ResolvedScriptingOptions;
