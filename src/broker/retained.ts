import { isExpired } from './expiry.ts'
import { LevelTree } from './level-tree.ts'
import type { Message } from './types.ts'

/**
 * Retained messages in a tree keyed by topic level (Mosquitto's retain.c), searched by
 * filter: a subscription to `a/+/c` visits only the `a` branch, not every retained topic.
 */
export class RetainedTree {
  private readonly levels = new LevelTree<Message>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Stores the message, or deletes the topic's retained message when the payload is empty. */
  set(message: Message): void {
    if (message.payload.length === 0) {
      this.delete(message.topic)
      return
    }
    const node = this.levels.open(message.topic)
    if (node.value === undefined) this.count++
    node.value = message
  }

  get(topic: string): Message | undefined {
    return this.levels.find(topic)?.value
  }

  delete(topic: string): void {
    const node = this.levels.find(topic)
    if (node?.value === undefined) return
    node.value = undefined
    this.count--
    this.levels.prune(node)
  }

  /**
   * Every retained message whose topic matches the filter. Expired ones are left out
   * (expiry is checked on read, as in Mosquitto's retain.c).
   */
  match(filter: string): Message[] {
    const out: Message[] = []
    this.levels.matchFilter(filter, out)
    const now = Date.now()
    return out.filter((m) => !isExpired(m, now))
  }

  /** Every retained message, in tree order. */
  all(): Message[] {
    const out: Message[] = []
    this.levels.collect(out)
    return out
  }
}
