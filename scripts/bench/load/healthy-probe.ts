/**
 * Asks a script a question at a steady pace and counts its answers: during the hostile soak
 * it shows whether the well-behaved scripts keep working next to the misbehaving ones.
 */
import type { Conn } from './conn.ts'
import { openClient, subscribe } from './conn.ts'
import { DISCONNECT, PUBLISH, publishLayout, publishPacket } from './packets.ts'
import type { ErrorLog } from './util.ts'

export interface HealthyProbe {
  stopSending(): void
  counts(): { healthyRequests: number; healthyReplies: number }
  close(): void
}

export async function startHealthyProbe(
  port: number,
  spec: { requestTopic: string; replyTopic: string; everyMs: number },
  errors: ErrorLog,
): Promise<HealthyProbe> {
  const conn: Conn = await openClient(port, `soak-${process.pid}-healthy`, 5000, 60)
  await subscribe(conn, spec.replyTopic, 0)
  const waiting = new Set<string>()
  let requests = 0
  let replies = 0
  conn.handler = (buf, header, _start, body, end) => {
    if (header >> 4 !== PUBLISH) return
    const { payload } = publishLayout(buf, header, body)
    // Each token counts once, so a duplicate answer can't hide a missing one.
    if (waiting.delete(buf.toString('latin1', payload, end))) replies++
  }
  conn.socket.on('close', () => {
    if (timer !== undefined) errors.add('the healthy-script probe was disconnected by the broker')
  })
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    if (conn.closed) return
    const token = `ping-${++requests}`
    waiting.add(token)
    conn.socket.write(publishPacket(spec.requestTopic, Buffer.from(token, 'latin1'), 0))
  }, spec.everyMs)
  return {
    stopSending() {
      clearInterval(timer)
      timer = undefined
    },
    counts: () => ({ healthyRequests: requests, healthyReplies: replies }),
    close() {
      clearInterval(timer)
      timer = undefined
      conn.end(DISCONNECT)
    },
  }
}
