/**
 * Timers for delays longer than Node's setTimeout takes. Node stores a delay in a 32-bit
 * signed integer: anything above 2^31 − 1 ms (24.8 days) fires after 1 ms, with a
 * TimeoutOverflowWarning. MQTT 5 intervals (session expiry, will delay) and script timers
 * can be far longer, so a long delay is armed in chunks of at most `maxTimerDelayMs`,
 * re-armed until the whole delay has passed.
 */
/** The longest delay one Node timer takes. */
export declare const maxTimerDelayMs: number;
export interface LongTimer {
    /** When it fires next (ms since the epoch, as of arming); Infinity for a timer that never does. */
    readonly deadline: number;
    /** Stops it; the callback does not run afterwards. Safe to call more than once. */
    cancel(): void;
}
export interface LongTimerOptions {
    /** Let the process exit while only this timer is pending (Node's timer.unref()). */
    unref?: boolean;
}
/**
 * setTimeout for any delay: `delayMs` up to Number.MAX_SAFE_INTEGER, Infinity for never.
 * Each chunk re-arms against the deadline on the wall clock, as the MQTT intervals are (a
 * session's disconnection time is stored as a date), so a late chunk does not add up.
 */
export declare function setLongTimeout(callback: () => void, delayMs: number, options?: LongTimerOptions): LongTimer;
/** setInterval for any period (≥ 1 ms): past the timer limit, each run arms the next a full period later. */
export declare function setLongInterval(callback: () => void, periodMs: number, options?: LongTimerOptions): LongTimer;
