import { createHash } from 'node:crypto'

/**
 * Topics one `{ changes: true }` subscription remembers. Past this, the topic whose payload
 * changed longest ago is forgotten, so its next message counts as a change again: the memory
 * stays bounded and the filter errs towards delivering, never towards losing a change.
 */
export const MAX_CHANGE_TOPICS = 1000
/** Payloads up to this size are kept verbatim; larger ones as a SHA-256 digest (32 bytes). */
const VERBATIM_BYTES = 64

interface LastPayload {
  /** The payload's length; keeps a verbatim payload from ever matching a digest. */
  size: number
  /** The payload itself, or its digest when it is longer than VERBATIM_BYTES. */
  key: Uint8Array
}

/**
 * The memory behind `ms_subscribe(filter, cb, { changes: true })`: the last payload seen per
 * topic, so a message whose payload equals the previous one on its topic can be skipped before
 * it is packed for the guest. A state mirrored back and forth thus stops after one round.
 * At most `maxTopics` topics of at most 64 bytes each (plus the topic string) per subscription.
 */
export class ChangeFilter {
  private readonly last = new Map<string, LastPayload>()

  constructor(private readonly maxTopics = MAX_CHANGE_TOPICS) {}

  get size(): number {
    return this.last.size
  }

  /** Records `payload` as the topic's last one; true when it equals the one before. */
  repeats(topic: string, payload: Uint8Array): boolean {
    const previous = this.last.get(topic)
    const key = payload.length <= VERBATIM_BYTES ? undefined : digest(payload)
    if (previous !== undefined && previous.size === payload.length) {
      if (sameBytes(previous.key, key ?? payload)) return true
    }
    if (previous !== undefined) {
      // Re-inserted at the back: eviction takes the topic that changed longest ago.
      this.last.delete(topic)
    } else if (this.last.size >= this.maxTopics) {
      const oldest = this.last.keys().next()
      if (!oldest.done) this.last.delete(oldest.value)
    }
    // Copied: a delivery's payload is a view into a batch buffer that must not be kept alive.
    this.last.set(topic, { size: payload.length, key: key ?? payload.slice() })
    return false
  }
}

function digest(payload: Uint8Array): Uint8Array {
  return createHash('sha256').update(payload).digest()
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
