/**
 * Idle clients for the memory scenario: open `clients` connections (CONNECT, keepalive
 * 0 so no PINGREQ traffic), report how many made it, then hold them until the
 * orchestrator says stop (or `holdMaxMs` passes, so a lost orchestrator cannot strand them).
 */
import type { Conn } from './conn.ts'
import { openClient } from './conn.ts'
import type { IdleJob, IdleResult } from './jobs.ts'
import { DISCONNECT } from './packets.ts'
import { ErrorLog, sleep } from './util.ts'

export async function runIdle(
  job: IdleJob,
  ready: (connected: number) => void,
  stopped: Promise<void>,
): Promise<IdleResult> {
  const errors = new ErrorLog()
  const conns: Conn[] = []
  let failed = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < job.clients) {
      const n = next++
      try {
        conns.push(await openClient(job.port, `${job.idPrefix}-${n}`, 10_000))
      } catch (err) {
        failed++
        errors.add(err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.clients) }, worker))
  ready(conns.length)
  await Promise.race([stopped, sleep(job.holdMaxMs)])
  const connected = conns.filter((c) => !c.closed).length
  for (const c of conns) c.end(DISCONNECT)
  return { kind: 'idle', connected, failed, errors: errors.list }
}
