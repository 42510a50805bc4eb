import { Duplex } from 'node:stream'

/**
 * Two connected in-memory streams: what one writes the other reads. Node 22 has
 * stream.duplexPair; this is the same for Node 20. A write completes once the other side
 * has taken the bytes into its read buffer, so a reader that stops reading holds the writer
 * back (backpressure) instead of buffering without bound.
 */
export function duplexPair(): [Side, Side] {
  const a = new Side()
  const b = new Side()
  a.peer = b
  b.peer = a
  return [a, b]
}

export class Side extends Duplex {
  peer: Side | undefined
  /** A write waiting for the peer to read; called when it does. */
  private waiting: (() => void) | undefined
  /** Addresses a broker logs for the in-process client. */
  readonly remoteAddress = 'in-process'
  readonly remotePort = 0

  override _read(): void {
    const resume = this.peer?.waiting
    if (resume && this.peer) {
      this.peer.waiting = undefined
      resume()
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer
    if (!peer || peer.destroyed) {
      callback(new Error('in-process stream closed'))
      return
    }
    if (peer.push(chunk)) callback()
    else this.waiting = () => callback()
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer?.push(null)
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer
    this.peer = undefined
    const resume = this.waiting
    this.waiting = undefined
    resume?.()
    // The peer sees its connection end: end of input, then close.
    if (peer && !peer.destroyed) {
      peer.push(null)
      peer.destroy()
    }
    callback(error)
  }
}
