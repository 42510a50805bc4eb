/**
 * One raw MQTT connection of the load generator: a TCP socket, a framer, and a
 * swappable packet handler. Setup steps (CONNECT, SUBSCRIBE) await their acks through
 * `expect`; the hot loops then install their own handler and never allocate per packet.
 */
import { connect, type Socket } from 'node:net'
import { Framer, type PacketSink } from './framer.ts'
import { CONNACK, connectPacket, SUBACK, subscribePacket } from './packets.ts'

const HOST = '127.0.0.1'
const ignore: PacketSink = () => {}

export class Conn {
  handler: PacketSink = ignore
  /** Runs after each received chunk: where batched acks are flushed and senders resumed. */
  afterChunk: () => void = () => {}
  closed = false
  error: Error | undefined
  private readonly framer = new Framer((buf, header, start, body, end) =>
    this.handler(buf, header, start, body, end),
  )

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk)
      this.afterChunk()
    })
    socket.on('error', (err) => {
      this.error = err
    })
    socket.on('close', () => {
      this.closed = true
    })
  }

  /** Sends `packet` and waits for the first packet of `type`; other packets are ignored meanwhile. */
  expect(packet: Buffer, type: number, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no reply of type ${type} within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const onClose = (): void => finish(this.error ?? new Error('connection closed during setup'))
      const finish = (err: Error | undefined, reply?: Buffer): void => {
        clearTimeout(timer)
        this.socket.off('close', onClose)
        this.handler = ignore
        if (err === undefined && reply !== undefined) resolve(reply)
        else reject(err)
      }
      this.socket.on('close', onClose)
      this.handler = (buf, header, start, _body, end) => {
        if (header >> 4 === type) finish(undefined, Buffer.from(buf.subarray(start, end)))
      }
      this.socket.write(packet)
    })
  }

  /** Sends DISCONNECT and closes; the broker sees a clean goodbye. */
  end(disconnect: Buffer): void {
    if (this.closed) return
    this.socket.end(disconnect)
    // A broker that never closes its side must not keep the generator alive.
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }
}

export function openSocket(port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: HOST })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`TCP connect to ${HOST}:${port} timed out`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** Connects, sends CONNECT and waits for a successful CONNACK. */
export async function openClient(
  port: number,
  clientId: string,
  timeoutMs = 5000,
  keepalive = 0,
  clean = true,
): Promise<Conn> {
  const conn = new Conn(await openSocket(port, timeoutMs))
  const reply = await conn
    .expect(connectPacket(clientId, keepalive, clean), CONNACK, timeoutMs)
    .catch((err: unknown) => {
      conn.socket.destroy()
      throw err
    })
  if (reply[3] !== 0) {
    conn.socket.destroy()
    throw new Error(`CONNACK refused with code ${reply[3]}`)
  }
  return conn
}

export async function subscribe(conn: Conn, filter: string, qos: 0 | 1 | 2, timeoutMs = 5000): Promise<void> {
  const reply = await conn.expect(subscribePacket(1, filter, qos), SUBACK, timeoutMs)
  if (reply[reply.length - 1] === 0x80) throw new Error(`SUBSCRIBE ${filter} refused`)
}
