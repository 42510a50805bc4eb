/** Token bucket; `take()` says whether one more event fits and counts the ones that did not. */
export class RateLimiter {
  private tokens: number
  private last: number
  private droppedSinceReport = 0

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst
    this.last = now()
  }

  take(): boolean {
    const now = this.now()
    const elapsed = now - this.last
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000)
      this.last = now
    }
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    this.droppedSinceReport++
    return false
  }

  /** Events dropped since the last call; resets the count. */
  takeDropped(): number {
    const n = this.droppedSinceReport
    this.droppedSinceReport = 0
    return n
  }
}
