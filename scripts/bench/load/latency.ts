/**
 * End-to-end latency at a fixed rate: one publisher and one subscriber in this process,
 * so both timestamps come from the same clock. Each PUBLISH carries its send time in
 * the payload; the subscriber subtracts it on arrival.
 */
import { openClient, subscribe } from './conn.ts'
import type { LatencyJob, LatencyResult } from './jobs.ts'
import { DISCONNECT, PUBLISH, publishLayout, publishPacket } from './packets.ts'
import { cpuFraction, ErrorLog, settle, sleep } from './util.ts'

const TOPIC = 'bench/latency'

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN
}

export async function runLatency(
  job: LatencyJob,
  mark: (name: 'measure-start' | 'measure-end') => void,
): Promise<LatencyResult> {
  const errors = new ErrorLog()
  const sub = await openClient(job.port, `bl-sub-${process.pid}`)
  const pub = await openClient(job.port, `bl-pub-${process.pid}`).catch((err: unknown) => {
    sub.socket.destroy()
    throw err
  })
  try {
    await subscribe(sub, TOPIC, 0)
    const template = publishPacket(TOPIC, Buffer.alloc(Math.max(16, job.payloadBytes)), 0)
    // Under 128 bytes the fixed header is 2 bytes, so the body of our template starts at 2.
    if (template.length >= 128) throw new Error('latency payload too large for the template')
    const layout = publishLayout(template, PUBLISH << 4, 2)

    const total = Math.ceil((job.ratePerSec * (job.warmupMs + job.measureMs)) / 1000)
    const samples = new Float64Array(total)
    let count = 0
    let received = 0
    let measureFrom = Number.POSITIVE_INFINITY
    sub.handler = (buf, header, _start, body) => {
      if (header >> 4 !== PUBLISH) return
      const now = performance.now()
      received++
      const at = publishLayout(buf, header, body).payload
      const sentAt = buf.readDoubleLE(at)
      if (sentAt >= measureFrom && count < samples.length) samples[count++] = (now - sentAt) * 1000
    }

    // Send what is due at each tick; timers are ~1 ms, so this holds the rate on average.
    const start = performance.now()
    let sent = 0
    let lastTick = start
    let stallMs = 0
    const cpu0 = process.cpuUsage()
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now()
        // Timers fire every ~1 ms; a longer gap is the generator itself being held up.
        if (measureFrom !== Number.POSITIVE_INFINITY) stallMs = Math.max(stallMs, now - lastTick - 1)
        lastTick = now
        const due = Math.min(total, Math.floor(((now - start) * job.ratePerSec) / 1000))
        if (measureFrom === Number.POSITIVE_INFINITY && now - start >= job.warmupMs) {
          measureFrom = now
          mark('measure-start')
        }
        while (sent < due) {
          const packet = Buffer.from(template)
          packet.writeDoubleLE(performance.now(), layout.payload)
          pub.socket.write(packet)
          sent++
        }
        if (sent >= total || pub.closed || sub.closed) {
          clearInterval(timer)
          resolve()
        }
      }, 1)
    })
    const wallMs = performance.now() - start
    mark('measure-end')
    const cpu = cpuFraction(cpu0, wallMs)
    await settle(() => received, 200, 2000)
    for (const c of [pub, sub]) if (c.error !== undefined) errors.add(c.error)
    const sorted = samples.slice(0, count).sort()
    return {
      kind: 'latency',
      samples: count,
      sent,
      received,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[count - 1] ?? Number.NaN,
      generatorStallMs: stallMs,
      cpu,
      errors: errors.list,
    }
  } finally {
    pub.end(DISCONNECT)
    sub.end(DISCONNECT)
    await sleep(0)
  }
}
