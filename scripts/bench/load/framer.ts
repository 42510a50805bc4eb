/**
 * Incremental MQTT framing for the load generator: finds packet boundaries in a byte
 * stream and hands each packet to a sink as offsets into the received buffer. Nothing
 * is decoded here, so counting a delivery costs a varint read and a call, which keeps
 * the generator far cheaper per message than the broker it measures.
 */

/**
 * `header` is the fixed header's first byte (found at `start`), `body` the first byte after the
 * length, `end` one past the packet.
 */
export type PacketSink = (buf: Buffer, header: number, start: number, body: number, end: number) => void

/** Largest packet the generator accepts; anything bigger means the stream is corrupt. */
const MAX_PACKET = 1 << 20

export class Framer {
  /** Bytes of an unfinished packet left over from the previous chunk. */
  private carry: Buffer | undefined

  constructor(private readonly sink: PacketSink) {}

  push(chunk: Buffer): void {
    // Only a partial packet is carried, so the copy is at most one chunk per read.
    const buf = this.carry === undefined ? chunk : Buffer.concat([this.carry, chunk])
    this.carry = undefined
    const n = buf.length
    let pos = 0
    for (;;) {
      // Indexing past the end gives undefined: every whole packet has been handed out.
      const header = buf[pos]
      if (header === undefined) break
      let len = 0
      let mul = 1
      let i = pos + 1
      let complete = false
      // The remaining length is a varint of at most 4 bytes.
      for (let k = 0; k < 4; k++) {
        const b = buf[i]
        if (b === undefined) break
        i++
        len += (b & 127) * mul
        if (b < 128) {
          complete = true
          break
        }
        mul *= 128
      }
      if (!complete) {
        if (i - pos > 4) throw new Error('malformed remaining length from broker')
        break
      }
      if (len > MAX_PACKET) throw new Error(`packet of ${len} bytes from broker`)
      const end = i + len
      if (end > n) break
      this.sink(buf, header, pos, i, end)
      pos = end
    }
    if (pos < n) this.carry = buf.subarray(pos)
  }
}
