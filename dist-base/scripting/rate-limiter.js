/** Token bucket; `take()` says whether one more event fits and counts the ones that did not. */
export class RateLimiter {
    perSecond;
    burst;
    now;
    tokens;
    last;
    droppedSinceReport = 0;
    constructor(perSecond, burst, now = Date.now) {
        this.perSecond = perSecond;
        this.burst = burst;
        this.now = now;
        this.tokens = burst;
        this.last = now();
    }
    take() {
        const now = this.now();
        const elapsed = now - this.last;
        if (elapsed > 0) {
            this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
            this.last = now;
        }
        if (this.tokens >= 1) {
            this.tokens -= 1;
            return true;
        }
        this.droppedSinceReport++;
        return false;
    }
    /** Events dropped since the last call; resets the count. */
    takeDropped() {
        const n = this.droppedSinceReport;
        this.droppedSinceReport = 0;
        return n;
    }
}
//# sourceMappingURL=rate-limiter.js.map