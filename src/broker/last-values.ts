import type { Message, QoS } from './types.ts'

/** The last message published on one topic, as `broker.lastValue(topic)` and a script's `ms_get` see it. */
export interface LastValue {
  payload: Buffer
  qos: QoS
  retain: boolean
  /** When it was published (ms since the epoch); the broker's start for a retained message loaded from the store. */
  at: number
}

/** Topics kept when the cache is on and no size is given. */
export const defaultLastValues = 10_000

/** One topic's entry, in a list from the least to the most recently published. */
interface Entry {
  topic: string
  payload: Uint8Array
  /** Whether `payload` is the cache's own copy, which the next message of the same size may overwrite. */
  owned: boolean
  qos: QoS
  retain: boolean
  at: number
  older: Entry | undefined
  newer: Entry | undefined
}

/**
 * The last message of each topic, by a client, a script or an embedder, retained or not: a
 * bounded cache in publish order, so the topic published least recently is dropped first.
 *
 * A Map for lookup plus a linked list for the order: a repeat publish on a topic updates its
 * entry and moves it to the end without touching the Map, and a full cache reuses the evicted
 * entry. A plain Map kept in order by delete + set measured 350-900 ns a message, and evicting
 * through `keys().next()` up to 11 µs, since V8 leaves deleted slots at the front of the table
 * until it rehashes; this layout measured 50-140 ns (`npm run bench -- last-values`, busy 2-core
 * machine).
 */
export class LastValues {
  private readonly entries = new Map<string, Entry>()
  private oldest: Entry | undefined
  private newest: Entry | undefined
  /**
   * Date.now() once per event-loop task rather than per message: it cost 53 ns of CPU, the
   * largest part of a record(), and one socket read routes many messages under load.
   */
  private now = 0
  private nowValid = false
  private readonly expireNow = (): void => {
    this.nowValid = false
  }

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  get(topic: string): LastValue | undefined {
    const entry = this.entries.get(topic)
    if (!entry) return undefined
    return {
      // A copy: the entry's bytes may be overwritten by the topic's next message.
      payload: Buffer.from(entry.payload),
      qos: entry.qos,
      retain: entry.retain,
      at: entry.at,
    }
  }

  /**
   * `at`: when it was published; default now. A QoS 0 payload that is not retained is a view
   * into the socket's read chunk (64 KiB), a script's publish batch or an embedder's buffer:
   * keeping it would pin the chunk or see the embedder's next write, so it is copied (into the
   * entry's own bytes when the size is unchanged, else `new Uint8Array(view)`: about 25 ns,
   * against 70 for Buffer.from). Retained and QoS 1/2 payloads are the broker's own already
   * (see the publish handler and broker.publish) and are shared.
   */
  record(message: Message, at = this.clock()): void {
    const shared = message.qos > 0 || message.retain
    let entry = this.entries.get(message.topic)
    if (entry) {
      // Same size as last time (a sensor's reading, ON/OFF): copied into the entry's own bytes.
      if (!shared && entry.owned && entry.payload.byteLength === message.payload.byteLength) {
        entry.payload.set(message.payload)
      } else {
        entry.payload = shared ? message.payload : new Uint8Array(message.payload)
        entry.owned = !shared
      }
      entry.qos = message.qos
      entry.retain = message.retain
      entry.at = at
      if (entry === this.newest) return
      this.unlink(entry)
    } else {
      // Full: the entry of the topic published least recently is reused for this one.
      entry = this.entries.size >= this.capacity ? this.evict() : undefined
      const payload = shared ? message.payload : new Uint8Array(message.payload)
      if (entry) {
        entry.topic = message.topic
        entry.payload = payload
        entry.owned = !shared
        entry.qos = message.qos
        entry.retain = message.retain
        entry.at = at
      } else {
        entry = {
          topic: message.topic,
          payload,
          owned: !shared,
          qos: message.qos,
          retain: message.retain,
          at,
          older: undefined,
          newer: undefined,
        }
      }
      this.entries.set(message.topic, entry)
    }
    entry.older = this.newest
    entry.newer = undefined
    if (this.newest) this.newest.newer = entry
    else this.oldest = entry
    this.newest = entry
  }

  /** Now, as of the current task: the microtask that expires it runs when the task ends. */
  private clock(): number {
    if (!this.nowValid) {
      this.now = Date.now()
      this.nowValid = true
      queueMicrotask(this.expireNow)
    }
    return this.now
  }

  private evict(): Entry | undefined {
    const oldest = this.oldest
    if (!oldest) return undefined
    this.unlink(oldest)
    this.entries.delete(oldest.topic)
    return oldest
  }

  private unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer
    else this.oldest = entry.newer
    if (entry.newer) entry.newer.older = entry.older
    else this.newest = entry.older
  }
}
