const MIB = 1024 * 1024;
/**
 * A script that keeps flooding is reported about once a second, so the hold must be well above
 * that for its status not to flicker back to `running` between reports; 5 s also keeps a short
 * burst on screen across several of the dashboard's one-second refreshes.
 */
const DEFAULT_STATUS_HOLD_MS = 5000;
/** The QuickJS build reserves 16 MiB at start; below ~20 MiB a script could not even load. */
const MIN_MEMORY_BYTES = 20 * MIB;
function positive(name, value, fallback) {
    if (value === undefined)
        return fallback;
    if (!Number.isFinite(value) || value <= 0)
        throw new RangeError(`scripting option ${name} must be a positive number`);
    return value;
}
export function resolveOptions(options) {
    const publishRatePerSecond = positive('publishRatePerSecond', options.publishRatePerSecond, 1000);
    return {
        path: options.path,
        memoryLimitBytes: Math.max(MIN_MEMORY_BYTES, positive('memoryLimitBytes', options.memoryLimitBytes, 32 * MIB)),
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
    };
}
//# sourceMappingURL=options.js.map