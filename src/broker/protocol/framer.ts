import { ProtocolError } from './errors.ts'
import { Reason } from './reason-codes.ts'
import { readVarint, VARINT_INCOMPLETE, VARINT_TOO_LONG, type VarintValue } from './varint.ts'

/**
 * Called once per complete packet. `body` is a view into the chunk the socket delivered (or into
 * the copy joining a packet cut across chunks). Node gives each read its own memory and never
 * reuses it, so the view stays valid, but it keeps that whole chunk alive: whatever outlives
 * the call should be copied (handlers/publish.ts does so for a message that may be kept).
 */
export type PacketSink<C = undefined> = (this: C, header: number, body: Buffer) => void

/** Never written to: the framer's chunk list while nothing waits (one array less per idle client). */
const noChunks: readonly Buffer[] = Object.freeze([])

/**
 * The remaining length `header` last read. One for all framers: it is read right after
 * readVarint fills it, with nothing in between that could parse another packet.
 */
const remaining: VarintValue = { value: 0 }

/**
 * Required low-nibble flags per packet type [MQTT-2.2.2-1]; -1 = PUBLISH (flags carry
 * dup/qos/retain), undefined = reserved type (0) or AUTH handled per version.
 */
const requiredFlags: readonly (number | undefined)[] = [
  undefined, // 0 reserved
  0, // CONNECT
  0, // CONNACK
  -1, // PUBLISH
  0, // PUBACK
  0, // PUBREC
  2, // PUBREL
  0, // PUBCOMP
  2, // SUBSCRIBE
  0, // SUBACK
  2, // UNSUBSCRIBE
  0, // UNSUBACK
  0, // PINGREQ
  0, // PINGRESP
  0, // DISCONNECT
  0, // AUTH (MQTT 5 only; the decoder refuses it for 3.x)
]

/**
 * The per-connection receive buffer: turns a byte stream cut anywhere (one byte per write)
 * or glued together (several packets per segment, as Tasmota's PubSubClient sends) into
 * whole packets. Sizes are checked as soon as the fixed header is known, so an oversize
 * packet is refused before its body is buffered.
 */
export class Framer<C = undefined> {
  /** Parts of a packet cut across reads (or of reads held while paused); noChunks when none. */
  private chunks: readonly Buffer[] = noChunks
  private buffered = 0
  /** Bytes needed before parsing can progress; 0 = unknown yet (header incomplete). */
  private needed = 0
  private stopped = false
  /** Set while the connection is held back (flow control): packets wait here, unparsed. */
  private paused = false
  /** Where the body of the packet `header` last read starts. */
  private bodyStart = 0

  /**
   * `sink` is called with `context` as `this`, so a connection passes one shared function and
   * itself rather than a closure per connection.
   */
  constructor(
    private readonly maxPacketSize: number,
    private readonly sink: PacketSink<C>,
    private readonly context?: C,
  ) {}

  /** Stop delivering packets (the connection is closing); later data is ignored. */
  stop(): void {
    this.stopped = true
    this.chunks = noChunks
    this.buffered = 0
  }

  /**
   * Stops handing out packets after the current one; the rest of the read, and whatever
   * arrives meanwhile, waits until resume(). So one read carrying hundreds of PUBLISHes
   * is held at a packet boundary, not after all of them were routed.
   */
  pause(): void {
    this.paused = true
  }

  /** Hands out what waited (may throw ProtocolError, like push); it may pause again. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    if (this.stopped || this.buffered === 0) return
    const [only] = this.chunks
    const held =
      this.chunks.length === 1 && only !== undefined ? only : Buffer.concat(this.chunks, this.buffered)
    this.chunks = noChunks
    this.buffered = 0
    this.needed = 0
    this.parse(held, 0)
  }

  /** Throws ProtocolError on a framing violation; the caller closes the connection. */
  push(chunk: Buffer): void {
    if (this.stopped) return
    if (this.paused) {
      this.add(chunk)
      return
    }
    let pos = 0
    if (this.buffered > 0) {
      this.add(chunk)
      // Waiting for a large body: don't concatenate until all of it is here (avoids O(n²)).
      if (this.buffered < this.needed) return
      if (this.needed === 0) {
        // The fixed header was cut: at most 5 bytes tell the packet's size.
        const head = Buffer.concat(this.chunks, Math.min(this.buffered, 5))
        const first = head[0]
        // No byte yet (buffered > 0 rules it out): nothing to read, so wait for more.
        if (first === undefined) return
        this.needed = this.header(first, head, 0, head.length)
        if (this.needed === 0 || this.buffered < this.needed) return
      }
      // Only the packet cut in two is copied; the rest of this chunk is parsed where it is (copying
      // whole 64 KiB reads was 7% of a busy broker's CPU in an `npm run bench -- web` profile).
      const packet = Buffer.concat(this.chunks, this.needed)
      pos = chunk.length - (this.buffered - this.needed)
      this.chunks = noChunks
      this.buffered = 0
      this.needed = 0
      this.parse(packet, 0)
    }
    this.parse(chunk, pos)
  }

  private parse(chunk: Buffer, pos: number): void {
    const end = chunk.length
    while (!this.stopped) {
      // Indexing a Buffer past its end gives undefined: the whole chunk has been parsed.
      const first = chunk[pos]
      if (first === undefined) return
      if (this.paused) {
        this.keep(chunk, pos, 0)
        return
      }
      const total = this.header(first, chunk, pos, end)
      if (total === 0) {
        this.keep(chunk, pos, 0)
        return
      }
      if (end - pos < total) {
        this.keep(chunk, pos, total)
        return
      }
      this.sink.call(this.context as C, first, chunk.subarray(this.bodyStart, pos + total))
      pos += total
    }
  }

  /**
   * Checks the fixed header at `pos` (whose first byte is `header`) and returns the packet's
   * whole size (and sets `bodyStart`), or 0 when the header is not complete yet.
   */
  private header(header: number, chunk: Buffer, pos: number, end: number): number {
    const type = header >> 4
    const flags = requiredFlags[type]
    if (flags === undefined) throw new ProtocolError(`reserved packet type ${type}`)
    if (flags >= 0 ? (header & 0x0f) !== flags : (header & 0x06) === 0x06) {
      throw new ProtocolError(`invalid fixed-header flags 0x${(header & 0x0f).toString(16)} for type ${type}`)
    }
    const bodyStart = readVarint(chunk, pos + 1, end, remaining)
    if (bodyStart === VARINT_INCOMPLETE) return 0
    if (bodyStart === VARINT_TOO_LONG) throw new ProtocolError('remaining length longer than 4 bytes')
    const total = bodyStart - pos + remaining.value
    if (total > this.maxPacketSize) {
      throw new ProtocolError(
        `packet of ${total} bytes exceeds maxPacketSize ${this.maxPacketSize}`,
        Reason.packetTooLarge,
      )
    }
    this.bodyStart = bodyStart
    return total
  }

  private add(chunk: Buffer): void {
    if (this.chunks === noChunks) this.chunks = [chunk]
    else (this.chunks as Buffer[]).push(chunk)
    this.buffered += chunk.length
  }

  private keep(chunk: Buffer, from: number, needed: number): void {
    const rest = chunk.subarray(from)
    this.chunks = [rest]
    this.buffered = rest.length
    this.needed = needed
  }
}
