/**
 * The fake brokers' common part (serve-sink.ts, serve-floor.ts): a Node server on 127.0.0.1
 * that answers CONNECT with CONNACK, SUBSCRIBE with a SUBACK granting QoS 0, PINGREQ with
 * PINGRESP and ends the connection on DISCONNECT, keeping nothing per client but its socket
 * and framer. `extra` adds what one of them does beyond that.
 */
import { createServer, type Socket } from 'node:net'
import { Framer } from './load/framer.ts'
import { announce, portArg } from './serve.ts'

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])

export interface FakeBrokerExtra {
  /** A PUBLISH arrived (`body`: where its variable header starts in `buf`). */
  publish?(socket: Socket, buf: Buffer, header: number, body: number): void
  /** The client's SUBACK went out. */
  subscribed?(socket: Socket): void
}

/** A SUBACK granting QoS 0 to the one filter of SUBSCRIBE `messageId`. */
function suback(messageId: number): Buffer {
  const packet = Buffer.from([0x90, 0x03, 0x00, 0x00, 0x00])
  packet.writeUInt16BE(messageId, 2)
  return packet
}

function handler(extra: FakeBrokerExtra): (socket: Socket) => void {
  return (socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    const framer = new Framer((buf, header, _start, body) => {
      switch (header >> 4) {
        case 1:
          socket.write(CONNACK)
          break
        case 3:
          extra.publish?.(socket, buf, header, body)
          break
        case 8:
          socket.write(suback(buf.readUInt16BE(body)))
          extra.subscribed?.(socket)
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
}

/** Listens on the port given on the command line and announces it (serve.ts). */
export function serveFakeBroker(name: string, extra: FakeBrokerExtra = {}): void {
  const server = createServer(handler(extra))
  server.listen(portArg(), '127.0.0.1', () => {
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error(`${name} has no port`)
    announce(address.port, () => new Promise<void>((resolve) => server.close(() => resolve())))
  })
}
