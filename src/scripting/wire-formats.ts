/**
 * The packed layouts of one script round trip, each named once here:
 *
 *   broker ─DELIVERY→ worker ─DISPATCH→ guest ─GUEST_PUBLISH→ worker ─PUBLISH→ broker
 *
 * Each layout is an Int32Array of fixed-size records beside strings and one payload buffer,
 * because one call (or one postMessage) per batch is what keeps a script callback cheap. The
 * thread formats are packed and unpacked in thread-batches.ts, the guest formats in
 * guest-batches.ts on the host side and in the prelude on the guest side, which gets these
 * numbers interpolated into its source, so neither side can drift from the other.
 */
import type { QoS } from '../broker/types.ts'

/** A message's QoS (low two bits) and retain flag, as every layout packs them into one slot. */
export const FLAG = Object.freeze({ QOS_MASK: 3, RETAIN: 4 } as const)

export function packFlags(qos: QoS, retain: boolean): number {
  return qos | (retain ? FLAG.RETAIN : 0)
}

export interface MessageFlags {
  readonly qos: QoS
  readonly retain: boolean
}

/** Every value of the three flag bits, decoded once, so decoding a message allocates nothing. */
const DECODED: readonly MessageFlags[] = Array.from({ length: 8 }, (_, bits) => {
  const q = bits & FLAG.QOS_MASK
  // 3 is never packed; were it ever, it reads as QoS 0 rather than as a QoS that does not exist.
  const qos: QoS = q === 1 ? 1 : q === 2 ? 2 : 0
  return Object.freeze({ qos, retain: (bits & FLAG.RETAIN) !== 0 })
})
const UNFLAGGED: MessageFlags = Object.freeze({ qos: 0, retain: false })

/** The QoS and retain flag of a flags slot (a shared, frozen object). */
export function decodeFlags(flags: number): MessageFlags {
  return DECODED[flags & 7] ?? UNFLAGGED
}

/** In an index or offset slot: the message has none (no client id, text payload, no properties). */
export const NONE = -1

/**
 * Main thread → worker, `ToWorker` 'deliveries': one record per message for a script
 * subscription; the payloads lie back to back in `payloads`, in record order.
 */
export const DELIVERY = Object.freeze({
  VM: 0,
  SUB: 1,
  FLAGS: 2,
  PAYLOAD_LENGTH: 3,
  STRIDE: 4,
} as const)

/**
 * Worker → main thread, `FromWorker` 'pubs': one record per script publish; payloads back to
 * back in `payloads`, in record order.
 */
export const PUBLISH = Object.freeze({
  VM: 0,
  FLAGS: 1,
  PAYLOAD_LENGTH: 2,
  STRIDE: 3,
} as const)

/**
 * Worker → guest, the prelude's dispatch(): one record per message. Topic and text payload lie
 * back to back in one string (TOPIC_LENGTH then TEXT_LENGTH UTF-16 units); CALLBACK indexes the
 * batch's callback array, CLIENT_ID the client id list, PROPERTIES the properties array;
 * BINARY_OFFSET/BINARY_LENGTH locate the raw bytes of a payload that is not UTF-8 (NONE for text).
 */
export const DISPATCH = Object.freeze({
  CALLBACK: 0,
  TOPIC_LENGTH: 1,
  TEXT_LENGTH: 2,
  FLAGS: 3,
  CLIENT_ID: 4,
  BINARY_OFFSET: 5,
  BINARY_LENGTH: 6,
  SUB: 7,
  PROPERTIES: 8,
  STRIDE: 9,
} as const)

/**
 * Guest → worker, what the prelude's drain() returns: one record per ms_publish. The text holds,
 * per publish, the topic, the text payload (TEXT_LENGTH, 0 for bytes) and the properties JSON
 * (PROPERTIES_LENGTH, 0 for none); BINARY_LENGTH is NONE for a text payload, else the length of
 * its bytes in the binary buffer, in record order.
 */
export const GUEST_PUBLISH = Object.freeze({
  TOPIC_LENGTH: 0,
  TEXT_LENGTH: 1,
  FLAGS: 2,
  BINARY_LENGTH: 3,
  PROPERTIES_LENGTH: 4,
  STRIDE: 5,
} as const)

/** The array drain() returns: text, GUEST_PUBLISH records (ArrayBuffer), binary bytes or undefined, publishes the guest dropped. */
export const DRAINED = Object.freeze({
  TEXT: 0,
  META: 1,
  BINARY: 2,
  DROPPED: 3,
} as const)

type Slots<L> = Exclude<keyof L, 'STRIDE'>

/**
 * Guest source for one record's values in slot order, `a, b, c`, for a single `push(…)` or an
 * array literal: a QuickJS array filled out of order would stop being a fast array.
 */
export function recordSource<L extends Readonly<Record<string, number>>>(
  layout: L,
  values: Readonly<Record<Slots<L>, string>>,
): string {
  const slots = Object.keys(values) as Array<Slots<L>>
  const width = Object.keys(layout).filter((key) => key !== 'STRIDE').length
  if (slots.length !== width) throw new Error('recordSource: not every slot has a value')
  return slots
    .sort((a, b) => Number(layout[a]) - Number(layout[b]))
    .map((slot) => values[slot])
    .join(', ')
}
