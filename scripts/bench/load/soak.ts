/**
 * The soak from Espressif's Mosquitto port: a few clients, each publishing every second
 * to its own topic and all subscribed to all (QoS 1); every `dropEveryMs` one of them
 * (in turn) loses its socket without DISCONNECT and reconnects. A message is expected
 * at a client when that client's subscription was acknowledged before the message was
 * sent and its connection outlived the send by a grace period; anything else is not a loss.
 */
import type { Conn } from './conn.ts'
import { openClient, subscribe } from './conn.ts'
import { startHealthyProbe } from './healthy-probe.ts'
import type { SoakJob, SoakResult } from './jobs.ts'
import { DISCONNECT, PUBACK, PUBLISH, publishLayout, publishPacket, writePuback } from './packets.ts'
import { ErrorLog, settle, sleep } from './util.ts'

/** A delivery needs less than this on loopback; a connection dropped sooner may miss it legitimately. */
const GRACE_MS = 100

interface Session {
  from: number
  to: number | undefined
  received: Set<string>
}

interface SoakClient {
  index: number
  conn: Conn | undefined
  inFlight: Map<number, Sent>
  sessions: Session[]
}

interface Sent {
  key: string
  at: number
  acked: boolean
}

export async function runSoak(job: SoakJob): Promise<SoakResult> {
  const errors = new ErrorLog()
  const clients: SoakClient[] = Array.from({ length: job.clients }, (_, index) => ({
    index,
    conn: undefined,
    inFlight: new Map(),
    sessions: [],
  }))
  const sentLog: Sent[] = []
  let duplicates = 0
  let received = 0
  let drops = 0
  let reconnects = 0
  let running = true
  const timers: NodeJS.Timeout[] = []

  const connectClient = async (c: SoakClient): Promise<void> => {
    const conn = await openClient(job.port, `soak-${process.pid}-${c.index}`, 5000, 60)
    const session: Session = { from: Number.POSITIVE_INFINITY, to: undefined, received: new Set() }
    await subscribe(conn, 'soak/#', 1)
    session.from = performance.now()
    c.sessions.push(session)
    c.conn = conn
    conn.socket.on('close', () => {
      // Drops detach the connection first, so a close seen here came from the broker.
      if (c.conn === conn && running) errors.add(`client ${c.index} was disconnected by the broker`)
    })
    // The packet ids in flight on this connection, for the broker's PUBACKs.
    const inFlight = new Map<number, Sent>()
    c.inFlight = inFlight
    conn.handler = (buf, header, _start, body, end) => {
      const type = header >> 4
      if (type === PUBACK) {
        const sent = inFlight.get(buf.readUInt16BE(body))
        if (sent !== undefined) sent.acked = true
        inFlight.delete(buf.readUInt16BE(body))
        return
      }
      if (type !== PUBLISH) return
      const { payload, messageId } = publishLayout(buf, header, body)
      const key = buf.toString('latin1', payload, end)
      received++
      if (session.received.has(key)) duplicates++
      else session.received.add(key)
      if (messageId !== 0) {
        const ack = Buffer.allocUnsafe(4)
        writePuback(ack, 0, messageId)
        conn.socket.write(ack)
      }
    }
  }

  const seqs = new Array<number>(job.clients).fill(0)
  const publish = (c: SoakClient): void => {
    const session = c.sessions[c.sessions.length - 1]
    if (
      !running ||
      c.conn === undefined ||
      c.conn.closed ||
      session === undefined ||
      session.to !== undefined
    )
      return
    // Every client's slot starts at 0 (fill above).
    const seq = (seqs[c.index] ?? 0) + 1
    seqs[c.index] = seq
    const key = `${c.index}:${seq}`
    const sent: Sent = { key, at: performance.now(), acked: false }
    sentLog.push(sent)
    const messageId = (seq % 65535) + 1
    c.inFlight.set(messageId, sent)
    c.conn.socket.write(publishPacket(`soak/${c.index}`, Buffer.from(key, 'latin1'), 1, messageId))
  }

  const drop = async (): Promise<void> => {
    const victim = clients[drops % clients.length]
    if (victim === undefined) throw new Error('soak has no clients to drop')
    drops++
    const session = victim.sessions[victim.sessions.length - 1]
    if (session !== undefined) session.to = performance.now()
    victim.conn?.socket.destroy()
    victim.conn = undefined
    await sleep(job.reconnectDelayMs)
    if (!running) return
    try {
      await connectClient(victim)
      reconnects++
    } catch (err) {
      errors.add(err)
    }
  }

  const probe = job.healthy === undefined ? undefined : await startHealthyProbe(job.port, job.healthy, errors)
  try {
    await Promise.all(clients.map(connectClient))
    const start = performance.now()
    // Publishers are staggered across the period and drops land between publishes, so a
    // drop never races a send on the same tick.
    clients.forEach((c, i) => {
      const offset = (job.publishEveryMs * i) / clients.length
      timers.push(
        setTimeout(() => {
          publish(c)
          timers.push(setInterval(() => publish(c), job.publishEveryMs))
        }, offset),
      )
    })
    timers.push(
      setTimeout(
        () => {
          void drop()
          timers.push(setInterval(() => void drop(), job.dropEveryMs))
        },
        job.dropEveryMs + job.publishEveryMs / (2 * clients.length),
      ),
    )
    await sleep(Math.max(0, job.seconds * 1000 - (performance.now() - start)))
    running = false
    for (const t of timers) clearTimeout(t)
    probe?.stopSending()
    await settle(() => received, 300, 3000)

    let expected = 0
    let lost = 0
    let ackedLost = 0
    for (const m of sentLog) {
      for (const c of clients) {
        const s = c.sessions.find((x) => x.from <= m.at && (x.to === undefined || x.to >= m.at + GRACE_MS))
        if (s === undefined) continue
        expected++
        if (!s.received.has(m.key)) {
          lost++
          if (m.acked) ackedLost++
        }
      }
    }
    return {
      kind: 'soak',
      published: sentLog.length,
      expected,
      received,
      lost,
      acknowledged: sentLog.filter((m) => m.acked).length,
      ackedLost,
      duplicates,
      drops,
      reconnects,
      ...(probe === undefined ? {} : probe.counts()),
      errors: errors.list,
    }
  } finally {
    running = false
    for (const t of timers) clearTimeout(t)
    for (const c of clients) c.conn?.end(DISCONNECT)
    probe?.close()
  }
}
