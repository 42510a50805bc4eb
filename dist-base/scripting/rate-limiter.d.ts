/** Token bucket; `take()` says whether one more event fits and counts the ones that did not. */
export declare class RateLimiter {
    private readonly perSecond;
    private readonly burst;
    private readonly now;
    private tokens;
    private last;
    private droppedSinceReport;
    constructor(perSecond: number, burst: number, now?: () => number);
    take(): boolean;
    /** Events dropped since the last call; resets the count. */
    takeDropped(): number;
}
