/**
 * Which topic filters this process subscribes to at all, counted by subscriber: the first
 * subscriber on a filter and the last one leaving it are reported to `listener`. A cluster
 * (src/cluster) listens, so that a node is sent only the messages someone on it subscribed to.
 * Shared subscriptions count under their topic filter, once per group.
 */
export class InterestCounts {
  private readonly counts = new Map<string, number>()
  listener: ((filter: string, present: boolean) => void) | undefined

  added(filter: string): void {
    const n = this.counts.get(filter) ?? 0
    this.counts.set(filter, n + 1)
    if (n === 0) this.listener?.(filter, true)
  }

  removed(filter: string): void {
    const n = this.counts.get(filter)
    if (n === undefined) return
    if (n > 1) {
      this.counts.set(filter, n - 1)
      return
    }
    this.counts.delete(filter)
    this.listener?.(filter, false)
  }

  /** Every filter with at least one subscriber. */
  filters(): string[] {
    return [...this.counts.keys()]
  }
}
