/**
 * Timers for delays longer than Node's setTimeout takes. Node stores a delay in a 32-bit
 * signed integer: anything above 2^31 − 1 ms (24.8 days) fires after 1 ms, with a
 * TimeoutOverflowWarning. MQTT 5 intervals (session expiry, will delay) and script timers
 * can be far longer, so a long delay is armed in chunks of at most `maxTimerDelayMs`,
 * re-armed until the whole delay has passed.
 */
/** The longest delay one Node timer takes. */
export const maxTimerDelayMs = 2 ** 31 - 1;
/**
 * setTimeout for any delay: `delayMs` up to Number.MAX_SAFE_INTEGER, Infinity for never.
 * Each chunk re-arms against the deadline on the wall clock, as the MQTT intervals are (a
 * session's disconnection time is stored as a date), so a late chunk does not add up.
 */
export function setLongTimeout(callback, delayMs, options = {}) {
    const delay = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
    const deadline = Date.now() + delay;
    let handle;
    const arm = (remaining) => {
        handle =
            remaining > maxTimerDelayMs
                ? setTimeout(() => arm(deadline - Date.now()), maxTimerDelayMs)
                : setTimeout(fire, Math.max(0, remaining));
        if (options.unref)
            handle.unref();
    };
    const fire = () => {
        handle = undefined;
        callback();
    };
    if (delay !== Number.POSITIVE_INFINITY)
        arm(delay);
    return {
        deadline,
        cancel: () => {
            clearTimeout(handle);
            handle = undefined;
        },
    };
}
/** setInterval for any period (≥ 1 ms): past the timer limit, each run arms the next a full period later. */
export function setLongInterval(callback, periodMs, options = {}) {
    const period = Number.isNaN(periodMs) ? 1 : Math.max(1, periodMs);
    if (period <= maxTimerDelayMs) {
        const handle = setInterval(callback, period);
        if (options.unref)
            handle.unref();
        return { deadline: Date.now() + period, cancel: () => clearInterval(handle) };
    }
    let current;
    const next = () => {
        current = setLongTimeout(tick, period, options);
    };
    const tick = () => {
        // Re-armed first, so a callback that cancels the interval stops the next run too.
        next();
        callback();
    };
    next();
    return {
        get deadline() {
            return current?.deadline ?? Number.POSITIVE_INFINITY;
        },
        cancel: () => current?.cancel(),
    };
}
//# sourceMappingURL=long-timer.js.map