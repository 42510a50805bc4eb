import { LevelTree } from './level-tree.ts'

/**
 * The subscription tree: subscribers S (sessions, shared groups, internal handlers) keyed by
 * filter, each with its options V. Filters sit in a LevelTree (one node per level), so matching
 * a topic costs its depth, not the number of subscriptions.
 */
export class SubscriptionTree<S, V> {
  private readonly levels = new LevelTree<Map<S, V>>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Adds or replaces; returns true when the subscriber had no subscription on this filter. */
  add(filter: string, subscriber: S, value: V): boolean {
    const node = this.levels.open(filter)
    node.value ??= new Map()
    const isNew = !node.value.has(subscriber)
    node.value.set(subscriber, value)
    if (isNew) this.count++
    return isNew
  }

  remove(filter: string, subscriber: S): boolean {
    const node = this.levels.find(filter)
    if (!node?.value?.delete(subscriber)) return false
    this.count--
    if (node.value.size === 0) {
      node.value = undefined
      this.levels.prune(node)
    }
    return true
  }

  /**
   * Calls visit once per (subscriber, filter) that matches, in LevelTree.matchTopic's order; a
   * subscriber may be visited more than once.
   */
  match(topic: string, visit: (subscriber: S, value: V) => void): void {
    this.levels.matchTopic(topic, visitAll, visit)
  }
}

function visitAll<S, V>(subs: Map<S, V>, visit: (subscriber: S, value: V) => void): void {
  for (const [subscriber, value] of subs) visit(subscriber, value)
}
