/**
 * MQTT's Variable Byte Integer (the fixed header's Remaining Length, MQTT 5 §1.5.5): 1 to 4
 * bytes, 7 bits each, least significant group first, the high bit set on every byte but the
 * last. The one reader and writer of it.
 */

/** The largest value four bytes hold (256 MiB - 1). */
export const MAX_VARINT = 268_435_455

/** readVarint: the integer is cut off by the end of the data; more bytes may complete it. */
export const VARINT_INCOMPLETE = -1
/** readVarint: a 4th byte still has the continuation bit, which no valid integer has. */
export const VARINT_TOO_LONG = -2

/** Where readVarint leaves the value, so a read allocates nothing. */
export interface VarintValue {
  value: number
}

/**
 * Reads the integer starting at `pos` (data ends at `end`), sets `out.value` and returns the
 * offset just after it; or returns VARINT_INCOMPLETE or VARINT_TOO_LONG.
 */
export function readVarint(data: Uint8Array, pos: number, end: number, out: VarintValue): number {
  let value = 0
  let multiplier = 1
  let at = pos
  for (let n = 0; n < 4 && at < end; n++) {
    const byte = data[at++] ?? 0
    value += (byte & 0x7f) * multiplier
    multiplier *= 128
    if ((byte & 0x80) === 0) {
      out.value = value
      return at
    }
    if (n === 3) return VARINT_TOO_LONG
  }
  return VARINT_INCOMPLETE
}

/** Bytes writeVarint takes for `n` (0 ≤ n ≤ MAX_VARINT). */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}

/** Writes `n` at `pos` and returns the offset after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  let at = pos
  let rest = n
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    out[at++] = byte
  } while (rest > 0)
  return at
}

/** `n` on its own, for building packets. */
export function encodeVarint(n: number): Buffer {
  const out = Buffer.allocUnsafe(varintSize(n))
  writeVarint(out, 0, n)
  return out
}
