/**
 * The generator's yardstick: a fake broker that does as little as possible. It answers
 * CONNECT, SUBSCRIBE and QoS 1 PUBLISH, throws publishes away, and once a client
 * subscribes streams pre-encoded PUBLISHes at it as fast as the socket drains. Whatever
 * rate the generator reaches against it is what the generator can do at most.
 */
import { createServer, type Socket } from 'node:net'
import { Framer } from './load/framer.ts'
import { publishPacket, repeat, writePuback } from './load/packets.ts'
import { announce, portArg } from './serve.ts'

/** Streaming to a subscriber stops after this long even if nobody disconnects it. */
const MAX_STREAM_MS = 120_000
const WRITES_PER_TURN = 32
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])
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

/** A SUBACK granting QoS 0 to the one filter of SUBSCRIBE `messageId`. */
function suback(messageId: number): Buffer {
  const packet = Buffer.from([0x90, 0x03, 0x00, 0x00, 0x00])
  packet.writeUInt16BE(messageId, 2)
  return packet
}

function handle(socket: Socket): void {
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
  const framer = new Framer((buf, header, _start, body) => {
    switch (header >> 4) {
      case 1:
        socket.write(CONNACK)
        break
      case 3:
        if ((header & 0x06) === 0x02) {
          const ack = Buffer.allocUnsafe(4)
          writePuback(ack, 0, buf.readUInt16BE(body + 2 + buf.readUInt16BE(body)))
          socket.write(ack)
        }
        break
      case 8:
        socket.write(suback(buf.readUInt16BE(body)))
        stream(socket)
        break
      case 12:
        socket.write(PINGRESP)
        break
      case 14:
        socket.end()
        break
    }
  })
  socket.on('data', (chunk: Buffer) => {
    try {
      framer.push(chunk)
    } catch {
      socket.destroy()
    }
  })
}

const server = createServer(handle)
server.listen(portArg(), '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('sink has no port')
  announce(address.port, () => new Promise<void>((resolve) => server.close(() => resolve())))
})
