/**
 * The generator's yardstick: a fake broker that does as little as possible. It answers
 * CONNECT, SUBSCRIBE and QoS 1 PUBLISH, throws publishes away, and once a client
 * subscribes streams pre-encoded PUBLISHes at it as fast as the socket drains. Whatever
 * rate the generator reaches against it is what the generator can do at most.
 */
import type { Socket } from 'node:net'
import { serveFakeBroker } from './fake-broker.ts'
import { publishPacket, repeat, writePuback } from './load/packets.ts'

/** Streaming to a subscriber stops after this long even if nobody disconnects it. */
const MAX_STREAM_MS = 120_000
const WRITES_PER_TURN = 32
const BLAST = repeat(publishPacket('bench/sink', Buffer.alloc(64, 0x61), 0), 128)

function stream(socket: Socket): void {
  const until = Date.now() + MAX_STREAM_MS
  const pump = (): void => {
    for (let k = 0; k < WRITES_PER_TURN; k++) {
      if (socket.destroyed || Date.now() > until) return
      if (!socket.write(BLAST)) {
        socket.once('drain', pump)
        return
      }
    }
    setImmediate(pump)
  }
  pump()
}

serveFakeBroker('sink', {
  publish(socket, buf, header, body) {
    if ((header & 0x06) === 0x02) {
      const ack = Buffer.allocUnsafe(4)
      writePuback(ack, 0, buf.readUInt16BE(body + 2 + buf.readUInt16BE(body)))
      socket.write(ack)
    }
  },
  subscribed: stream,
})
