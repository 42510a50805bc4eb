/**
 * Connection rate: `concurrency` loops each open a TCP connection, send CONNECT, wait
 * for CONNACK, send DISCONNECT and close, then start over. Counts completed handshakes.
 */
import { connect } from 'node:net'
import { Framer } from './framer.ts'
import type { ConnectsJob, ConnectsResult } from './jobs.ts'
import { CONNACK, connectPacket, DISCONNECT } from './packets.ts'
import { cpuFraction, ErrorLog, sleep } from './util.ts'

/** Stop early when this many attempts fail: the broker is refusing, measuring more is noise. */
const MAX_FAILURES = 1000
const ID_DIGITS = 10

export async function runConnects(
  job: ConnectsJob,
  mark: (name: 'measure-start' | 'measure-end') => void,
): Promise<ConnectsResult> {
  const errors = new ErrorLog()
  // A CONNECT with a fixed-width client id: each attempt copies it and patches the digits.
  const prefix = `bc${process.pid}-`
  const template = connectPacket(`${prefix}${'0'.repeat(ID_DIGITS)}`)
  const idOffset = template.indexOf(prefix) + prefix.length
  let opened = 0
  let done = 0
  let failed = 0
  let running = true

  const attempt = (): void => {
    if (!running || opened >= job.maxConnects || failed >= MAX_FAILURES) return
    const n = opened++
    const packet = Buffer.from(template)
    packet.write(String(n).padStart(ID_DIGITS, '0'), idOffset, 'latin1')
    const socket = connect({ port: job.port, host: '127.0.0.1' })
    let finished = false
    const next = (ok: boolean, err?: unknown): void => {
      if (finished) return
      finished = true
      if (ok) done++
      else {
        failed++
        errors.add(err ?? 'closed before CONNACK')
        socket.destroy()
      }
      // The next attempt starts on a fresh stack so a refusing broker cannot recurse.
      setImmediate(attempt)
    }
    const framer = new Framer((buf, header, start) => {
      if (header >> 4 !== CONNACK) return
      socket.end(DISCONNECT)
      next(buf[start + 3] === 0, `CONNACK code ${buf[start + 3]}`)
    })
    socket.setNoDelay(true)
    socket.on('connect', () => socket.write(packet))
    socket.on('data', (chunk: Buffer) => framer.push(chunk))
    socket.on('error', (err) => next(false, err))
    socket.on('close', () => next(false))
  }

  for (let i = 0; i < job.concurrency; i++) attempt()
  await sleep(job.warmupMs)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const done0 = done
  mark('measure-start')
  await sleep(job.measureMs)
  const wallMs = performance.now() - t0
  const total = done - done0
  const cpu = cpuFraction(cpu0, wallMs)
  mark('measure-end')
  running = false
  await sleep(200)
  return {
    kind: 'connects',
    seconds: wallMs / 1000,
    perSec: total / (wallMs / 1000),
    total: done,
    failed,
    cpu,
    errors: errors.list,
  }
}
