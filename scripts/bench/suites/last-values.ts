/**
 * The last-value cache's cost per routed message: `npm run bench -- last-values`.
 * CPU time (process.cpuUsage), not wall time, so a busy machine skews it less. Payloads are
 * 16-byte views into one 64 KiB chunk, as QoS 0 payloads from a socket are; messages come in
 * tasks of 16 (one socket read's worth), and the same loop without the cache is subtracted.
 */
import { LastValues } from '../../../src/broker/last-values.ts'
import type { Message } from '../../../src/broker/types.ts'

const chunk = Buffer.alloc(65536, 1)
const N = 2_000_000

function messages(topics: number): Message[] {
  return Array.from({ length: Math.max(topics, 1000) }, (_, i) => ({
    topic: `bench/${i % topics}/state`,
    payload: chunk.subarray((i % 1000) * 20, (i % 1000) * 20 + 16),
    qos: 0 as const,
    retain: false,
  }))
}

const BATCH = 16

async function cpuNs(record: (message: Message) => void, list: Message[]): Promise<number> {
  const start = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    // In range for any non-empty list; the undefined test is folded by V8, next to record()'s cost.
    const message = list[i % list.length]
    if (message === undefined) throw new Error('cpuNs needs a non-empty list')
    record(message)
    // A task boundary: the microtasks queued so far run, as after a socket read.
    if (i % BATCH === BATCH - 1) await undefined
  }
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1000) / N
}

export async function run(): Promise<number> {
  let sink: Message | undefined
  for (const topics of [1, 100, 10_000, 20_000]) {
    const list = messages(topics)
    const results: number[] = []
    for (let round = 0; round < 3; round++) {
      const cache = new LastValues(10_000)
      const empty = await cpuNs((m) => {
        sink = m
      }, list)
      results.push((await cpuNs((m) => cache.record(m), list)) - empty)
    }
    const best = Math.min(...results.slice(1))
    console.log(
      `${topics} topics cycling through a 10,000-topic cache: ${best.toFixed(0)} ns CPU per message`,
    )
  }
  void sink
  return 0
}
