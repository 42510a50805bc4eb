import { LevelTree } from './level-tree.ts'

/**
 * The subscribers of a filter that has only one (the common case: a device's own command
 * topic), instead of a Map, which costs about 220 bytes even for one entry (issue 17).
 */
class OnlyOne<S, V> {
  constructor(
    readonly subscriber: S,
    public value: V,
  ) {}
}

type Subscribers<S, V> = OnlyOne<S, V> | Map<S, V>

/**
 * The subscription tree: subscribers S (sessions, shared groups, internal handlers) keyed by
 * filter, each with its options V. Filters sit in a LevelTree (one node per level), so matching
 * a topic costs its depth, not the number of subscriptions.
 */
export class SubscriptionTree<S, V> {
  private readonly levels = new LevelTree<Subscribers<S, V>>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Adds or replaces; returns true when the subscriber had no subscription on this filter. */
  add(filter: string, subscriber: S, value: V): boolean {
    const node = this.levels.open(filter)
    const subs = node.value
    if (subs === undefined) {
      node.value = new OnlyOne(subscriber, value)
    } else if (subs instanceof OnlyOne) {
      if (subs.subscriber === subscriber) {
        subs.value = value
        return false
      }
      node.value = new Map([
        [subs.subscriber, subs.value],
        [subscriber, value],
      ])
    } else {
      const isNew = !subs.has(subscriber)
      subs.set(subscriber, value)
      if (!isNew) return false
    }
    this.count++
    return true
  }

  remove(filter: string, subscriber: S): boolean {
    const node = this.levels.find(filter)
    const subs = node?.value
    if (node === undefined || subs === undefined) return false
    if (subs instanceof OnlyOne) {
      if (subs.subscriber !== subscriber) return false
      node.value = undefined
    } else {
      if (!subs.delete(subscriber)) return false
      if (subs.size === 1) {
        for (const [only, value] of subs) node.value = new OnlyOne(only, value)
      }
    }
    this.count--
    if (node.value === undefined) this.levels.prune(node)
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

function visitAll<S, V>(subs: Subscribers<S, V>, visit: (subscriber: S, value: V) => void): void {
  if (subs instanceof OnlyOne) {
    visit(subs.subscriber, subs.value)
    return
  }
  for (const [subscriber, value] of subs) visit(subscriber, value)
}
