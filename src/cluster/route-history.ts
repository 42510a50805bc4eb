/**
 * The QoS 1/2 messages this node routed lately, as they went out (subject and envelope), so
 * that a node that was away from NATS can be sent what it missed (route-replay.ts). Bounded
 * by bytes, by count and by age; the oldest go first.
 *
 * The envelopes are copied into one preallocated byte ring rather than kept: an envelope kept
 * for seconds would outlive V8's young generation and be promoted into the old one at the rate
 * messages are routed, where copying its ~100 bytes costs a memcpy and allocates nothing. The
 * subjects are kept as the strings they are (a reference costs 5 ns; writing one into the ring
 * as UTF-8 cost 100 ns a message in a loop of 5 million on Node 20). An envelope that does not
 * fit before the end of the buffer goes to offset 0; every record it overlaps is dropped first.
 */

/** Called for each record a read finds; `data` is a view into the ring, valid during the call only. */
export type RecordVisitor = (subject: string, data: Buffer) => void

export interface RouteHistoryOptions {
  /** Bytes of envelopes kept (default 16 MiB). */
  bytes?: number
  /** Records kept (default 262,144). */
  records?: number
  /** How long a record is kept (default 5 minutes). */
  maxAgeMs?: number
}

export class RouteHistory {
  private readonly ring: Buffer
  private readonly subjects: (string | undefined)[]
  private readonly seqs: Float64Array
  private readonly times: Float64Array
  private readonly offsets: Uint32Array
  private readonly sizes: Uint32Array
  private readonly maxAgeMs: number
  /** Index (into the typed arrays) of the oldest record. */
  private first = 0
  private count = 0
  /** Where the next record goes. */
  private end = 0
  /** The newest sequence number and time dropped so far (0: none), to tell a reader it came too late. */
  private droppedSeq = 0
  private droppedAt = 0

  constructor(options: RouteHistoryOptions = {}) {
    const records = options.records ?? 262_144
    // allocUnsafe and the typed arrays' zero pages cost RSS only once written.
    this.ring = Buffer.allocUnsafe(options.bytes ?? 16 * 1024 * 1024)
    this.subjects = new Array<string | undefined>(records).fill(undefined)
    this.seqs = new Float64Array(records)
    this.times = new Float64Array(records)
    this.offsets = new Uint32Array(records)
    this.sizes = new Uint32Array(records)
    this.maxAgeMs = options.maxAgeMs ?? 300_000
  }

  /** Records kept now. */
  get size(): number {
    return this.count
  }

  /** Keeps message number `seq` (numbers only grow), routed on `subject` as `data`, at time `now`. */
  add(seq: number, subject: string, data: Uint8Array, now: number): void {
    this.expire(now)
    const size = data.length
    if (size > this.ring.length) {
      this.noteDropped(seq, now)
      return
    }
    let at = this.end
    if (at + size > this.ring.length) {
      // The records from here to the end of the buffer are the previous lap's: all go.
      while (this.count > 0 && (this.offsets[this.first] ?? 0) >= at) this.dropOldest()
      at = 0
    }
    // Records ahead of `at` are the previous lap's, oldest first; drop those this one covers.
    while (this.count > 0) {
      const offset = this.offsets[this.first] ?? 0
      if (offset < at || offset >= at + size) break
      this.dropOldest()
    }
    if (this.count === this.seqs.length) this.dropOldest()
    this.ring.set(data, at)
    const index = (this.first + this.count) % this.seqs.length
    this.subjects[index] = subject
    this.seqs[index] = seq
    this.times[index] = now
    this.offsets[index] = at
    this.sizes[index] = size
    this.count++
    this.end = at + size
  }

  /**
   * Visits, oldest first, the records numbered above `afterSeq` or, when it is undefined, those
   * kept at or after `sinceMs`. Returns false when some such record was already dropped.
   */
  visit(afterSeq: number | undefined, sinceMs: number, now: number, visitor: RecordVisitor): boolean {
    this.expire(now)
    const complete = afterSeq === undefined ? this.droppedAt < sinceMs : this.droppedSeq <= afterSeq
    const n = this.seqs.length
    for (let i = 0; i < this.count; i++) {
      const index = (this.first + i) % n
      const wanted =
        afterSeq === undefined ? (this.times[index] ?? 0) >= sinceMs : (this.seqs[index] ?? 0) > afterSeq
      if (!wanted) continue
      const at = this.offsets[index] ?? 0
      visitor(this.subjects[index] ?? '', this.ring.subarray(at, at + (this.sizes[index] ?? 0)))
    }
    return complete
  }

  private expire(now: number): void {
    while (this.count > 0 && now - (this.times[this.first] ?? 0) > this.maxAgeMs) this.dropOldest()
  }

  private dropOldest(): void {
    this.noteDropped(this.seqs[this.first] ?? 0, this.times[this.first] ?? 0)
    this.subjects[this.first] = undefined
    this.first = (this.first + 1) % this.seqs.length
    this.count--
  }

  private noteDropped(seq: number, at: number): void {
    if (seq > this.droppedSeq) this.droppedSeq = seq
    if (at > this.droppedAt) this.droppedAt = at
  }
}
