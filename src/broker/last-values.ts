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

/**
 * The last message of each topic, by a client, a script or an embedder, retained or not: a
 * bounded cache in publish order, so the topic published least recently is dropped first.
 * A Map keeps insertion order, so delete + set moves a topic to the end in O(1).
 */
export class LastValues {
  private readonly values = new Map<string, LastValue>()

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.values.size
  }

  get(topic: string): LastValue | undefined {
    return this.values.get(topic)
  }

  record(message: Message, at = Date.now()): void {
    const values = this.values
    const topic = message.topic
    const value: LastValue = { payload: ownBytes(message), qos: message.qos, retain: message.retain, at }
    if (values.delete(topic) || values.size < this.capacity) {
      values.set(topic, value)
      return
    }
    // Full: the first key is the one published least recently.
    const oldest = values.keys().next()
    if (!oldest.done) values.delete(oldest.value)
    values.set(topic, value)
  }
}

/**
 * The payload, or a copy when the broker does not own it: a QoS 0 payload that is not retained
 * is a view into the socket's read chunk (64 KiB), a script's publish batch or an embedder's
 * buffer, and keeping it would pin the chunk or see the embedder's next write. Retained and
 * QoS 1/2 messages already have their own copy (see the publish handler and broker.publish).
 */
function ownBytes(message: Message): Buffer {
  return message.qos > 0 || message.retain ? message.payload : Buffer.from(message.payload)
}
