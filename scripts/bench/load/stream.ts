/**
 * Full-speed streams: N publishers → M subscribers, QoS 0, 1 or 2. Used for fan-in,
 * fan-out, QoS 1 end to end, and (with zero publishers or subscribers) for measuring
 * the generator itself against the sink.
 *
 * QoS 0 publishers write a pre-encoded batch of many PUBLISHes per socket write and stop
 * on backpressure. A window on (sent − delivered per subscriber) keeps the broker from
 * queueing without bound, so the figure is what the broker sustains, not what it buffers.
 */
import type { Conn } from './conn.ts'
import { openClient, subscribe } from './conn.ts'
import type { StreamJob, StreamResult } from './jobs.ts'
import {
  DISCONNECT,
  PUBACK,
  PUBCOMP,
  PUBLISH,
  PUBREC,
  PUBREL,
  publishMessageId,
  publishPacket,
  repeat,
  writeAck,
} from './packets.ts'
import { cpuFraction, ErrorLog, settle, sleep } from './util.ts'

/** Writes per pump turn before yielding, so timers (the end of the window) still fire. */
const WRITES_PER_TURN = 32

interface Publisher {
  conn: Conn
  /** QoS 0: the batch written per call. */
  batch: Buffer
  /** QoS 1: one pre-encoded PUBLISH per packet id 1..inflight (index = id). */
  byId: Buffer[]
  /** QoS 1: packet ids free to send. */
  free: number[]
  waitingDrain: boolean
  scheduled: boolean
}

export async function runStream(
  job: StreamJob,
  mark: (name: 'measure-start' | 'measure-end') => void,
): Promise<StreamResult> {
  const errors = new ErrorLog()
  const tag = `${process.pid}`
  const subs: Conn[] = []
  const pubs: Publisher[] = []
  let sent = 0
  let delivered = 0
  let acked = 0
  let running = true

  try {
    for (let j = 0; j < job.subscribers; j++) {
      const conn = await openClient(
        job.subscriberPort ?? job.port,
        `bs-${tag}-${j}`,
        undefined,
        undefined,
        job.persistentSubscribers !== true,
      )
      subs.push(conn)
      await subscribe(
        conn,
        job.sharedGroup === undefined ? job.filter : `$share/${job.sharedGroup}/${job.filter}`,
        job.qos,
      )
    }
    const payload = Buffer.alloc(job.payloadBytes, 0x61)
    for (let i = 0; i < job.publishers; i++) {
      const conn = await openClient(job.port, `bp-${tag}-${i}`)
      const topic = job.perPublisherTopic ? `${job.topic}${i}` : job.topic
      const one = publishPacket(topic, payload, 0)
      const byId: Buffer[] = [Buffer.alloc(0)]
      const free: number[] = []
      if (job.qos !== 0) {
        for (let id = 1; id <= job.inflight; id++) {
          byId.push(publishPacket(topic, payload, job.qos, id))
          free.push(id)
        }
      }
      pubs.push({ conn, batch: repeat(one, job.batch), byId, free, waitingDrain: false, scheduled: false })
    }

    const perMessage = Math.max(1, subs.length)
    const windowOpen = (): boolean =>
      sent < job.maxMessages &&
      (job.window === 0 ||
        subs.length === 0 ||
        pubs.length === 0 ||
        sent - delivered / perMessage < job.window)

    const pumpQos0 = (p: Publisher): void => {
      p.scheduled = false
      if (p.waitingDrain) return
      for (let k = 0; k < WRITES_PER_TURN; k++) {
        if (!running || p.conn.closed || !windowOpen()) return
        sent += job.batch
        if (!p.conn.socket.write(p.batch)) {
          p.waitingDrain = true
          p.conn.socket.once('drain', () => {
            p.waitingDrain = false
            pumpQos0(p)
          })
          return
        }
      }
      p.scheduled = true
      setImmediate(pumpQos0, p)
    }

    const sendNumbered = (p: Publisher): void => {
      if (p.free.length === 0 || p.conn.closed) return
      p.conn.socket.cork()
      while (running && windowOpen()) {
        const id = p.free.pop()
        if (id === undefined) break
        // Every free id was given its packet when the publisher was set up.
        const packet = p.byId[id]
        if (packet === undefined) throw new Error(`no QoS 1 packet for id ${id}`)
        p.conn.socket.write(packet)
        sent++
      }
      p.conn.socket.uncork()
    }

    const resume = (): void => {
      for (const p of pubs) {
        if (job.qos !== 0) sendNumbered(p)
        else if (!p.waitingDrain && !p.scheduled) pumpQos0(p)
      }
    }

    // Deliveries: count them; at QoS 1 (PUBACK) and 2 (PUBREC, then PUBCOMP for each PUBREL)
    // collect the answers of one read into one write.
    for (const conn of subs) {
      const acks = new AckBuffer()
      conn.handler = (buf, head, _start, body) => {
        const type = head >> 4
        if (type === PUBLISH) {
          delivered++
          const qos = (head >> 1) & 3
          if (qos !== 0) acks.add(qos === 1 ? 0x40 : 0x50, publishMessageId(buf, body))
        } else if (type === PUBREL) {
          acks.add(0x70, buf.readUInt16BE(body))
        }
      }
      conn.afterChunk = () => {
        acks.flush(conn)
        resume()
      }
    }

    // Publisher side: each PUBACK (QoS 1) or PUBCOMP (QoS 2, after the PUBREL its PUBREC
    // asks for) frees its packet id for the next message.
    for (const p of pubs) {
      const rels = new AckBuffer()
      p.conn.handler = (buf, header, _start, body) => {
        const type = header >> 4
        if (type === PUBACK || type === PUBCOMP) {
          acked++
          p.free.push(buf.readUInt16BE(body))
        } else if (type === PUBREC) {
          rels.add(0x62, buf.readUInt16BE(body))
        }
      }
      p.conn.afterChunk = () => {
        rels.flush(p.conn)
        if (job.qos !== 0) sendNumbered(p)
      }
    }

    resume()
    await sleep(job.warmupMs)
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const sent0 = sent
    const delivered0 = delivered
    mark('measure-start')
    await sleep(job.measureMs)
    const wallMs = performance.now() - t0
    const sent1 = sent
    const delivered1 = delivered
    const cpu = cpuFraction(cpu0, wallMs)
    mark('measure-end')
    running = false

    // Let in-flight messages arrive before counting what never will.
    // A second of quiet: a busy machine can stall a broker for hundreds of ms, which is not loss.
    if (subs.length > 0 && pubs.length > 0) await settle(() => delivered, 1000, job.drainMs)
    for (const c of [...subs, ...pubs.map((p) => p.conn)]) if (c.error !== undefined) errors.add(c.error)
    const seconds = wallMs / 1000
    const expected = subs.length > 0 && pubs.length > 0 ? sent * subs.length : delivered
    return {
      kind: 'stream',
      seconds,
      sendRate: (sent1 - sent0) / seconds,
      deliverRate: (delivered1 - delivered0) / seconds,
      sent,
      delivered,
      acked,
      lost: Math.max(0, expected - delivered),
      cpu,
      errors: errors.list,
    }
  } finally {
    running = false
    for (const c of [...subs, ...pubs.map((p) => p.conn)]) c.end(DISCONNECT)
    // Left behind, a persistent subscriber's session would take a share of every later job's
    // messages on its filter (kept, queued and stored for it while offline): ended by a clean
    // session under its client id.
    if (job.persistentSubscribers === true)
      for (let j = 0; j < subs.length; j++) {
        const ender = await openClient(job.subscriberPort ?? job.port, `bs-${tag}-${j}`).catch(
          () => undefined,
        )
        ender?.end(DISCONNECT)
      }
  }
}

/** Acknowledgements (4 bytes each) gathered during one read and written at its end. */
class AckBuffer {
  private buf = Buffer.allocUnsafe(4096)
  private len = 0

  add(first: number, messageId: number): void {
    if (this.len + 4 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2)
      this.buf.copy(bigger, 0, 0, this.len)
      this.buf = bigger
    }
    writeAck(this.buf, this.len, first, messageId)
    this.len += 4
  }

  flush(conn: Conn): void {
    if (this.len === 0) return
    conn.socket.write(Buffer.from(this.buf.subarray(0, this.len)))
    this.len = 0
  }
}
