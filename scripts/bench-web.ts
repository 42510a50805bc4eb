// What the dashboard costs the broker: the same MQTT load (from a child process) is run through
// a broker without the dashboard, one with it and no page open, one with two open pages (Topics
// and Broker views) and one with a page on the Broker view only, and the broker process's CPU
// time is compared. Usage: node --import tsx scripts/bench-web.ts
import { spawn } from 'node:child_process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { type Broker, startBroker, webOf } from '../src/index.ts'

// A full collection before each measured run, so that no run pays for the garbage of the one
// before it (10,000 recorded topics after a run with a page open).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const MESSAGES = Number(process.env.MESSAGES ?? 200_000)
const TOPICS = Number(process.env.TOPICS ?? 10_000)
const PUBLISHERS = 4

// The load generator: PUBLISHERS MQTT.js clients, QoS 0, spread over TOPICS topics, then "done".
const LOAD = `
import mqtt from 'mqtt'
const [url, messages, topics, publishers] = process.argv.slice(1)
const per = Math.ceil(Number(messages) / Number(publishers))
// SUBSCRIBE=1: one MQTT client also receives every message, as a logger or Home Assistant would.
const sub = process.env.SUBSCRIBE === '1' ? await mqtt.connectAsync(url, { reconnectPeriod: 0 }) : undefined
let received = 0
const all = new Promise((resolve) => sub ? sub.on('message', () => { if (++received === per * Number(publishers)) resolve() }) : resolve())
await sub?.subscribeAsync('bench/+/+')
await Promise.all(Array.from({ length: Number(publishers) }, async (_, p) => {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
  for (let i = 0; i < per; i++) {
    const n = (p * per + i) % Number(topics)
    c.publish('bench/' + (n % 100) + '/' + n, JSON.stringify({ POWER: i % 2 ? 'ON' : 'OFF', n: i }))
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r))
  }
  await c.endAsync()
}))
await all
const done = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
for (let p = 0; p < Number(publishers); p++) await done.publishAsync('bench/done', String(p))
await done.endAsync()
await sub?.endAsync()
`

type PageRequest = { view: string; expanded?: string[] }

async function run(
  withDashboard: boolean,
  requests: PageRequest[],
): Promise<{ cpuMs: number; wallMs: number; frames: number }> {
  const broker: Broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    ...(withDashboard ? { http: 0 } : {}),
  })
  let frames = 0
  const pages: WebSocket[] = []
  for (const request of requests) {
    const ws = new WebSocket(`ws://127.0.0.1:${webOf(broker)!.port}/ws`)
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify(request))
    ws.on('message', () => frames++)
    pages.push(ws)
  }
  let done = 0
  const finished = new Promise<void>((resolve) => {
    broker.subscribe('bench/done', () => {
      if (++done === PUBLISHERS) resolve()
    })
  })
  gc()
  const cpu = process.cpuUsage()
  const start = performance.now()
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      LOAD,
      `mqtt://127.0.0.1:${broker.port}`,
      String(MESSAGES),
      String(TOPICS),
      String(PUBLISHERS),
    ],
    { stdio: 'inherit' },
  )
  await finished
  const wallMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  await new Promise((r) => child.once('exit', r))
  for (const ws of pages) ws.terminate()
  await broker.close()
  return { cpuMs: (used.user + used.system) / 1000, wallMs, frames }
}

const rounds = Number(process.env.ROUNDS ?? 3)
const allModes: { name: string; web: boolean; pages: PageRequest[] }[] = [
  { name: 'no dashboard', web: false, pages: [] },
  { name: 'dashboard, no page open', web: true, pages: [] },
  {
    name: 'dashboard, 2 pages open',
    web: true,
    pages: [{ view: 'topics', expanded: ['bench', 'bench/1'] }, { view: 'broker' }],
  },
  { name: 'dashboard, Broker view open', web: true, pages: [{ view: 'broker' }] },
]
// MODES=1 (say) runs only the second mode, for profiling.
const modes = process.env.MODES
  ? allModes.filter((_, i) => process.env.MODES!.split(',').includes(String(i)))
  : allModes
const results = modes.map(() => [] as number[])
for (let i = 0; i < rounds; i++) {
  // Each round starts with another mode, so a mode is not always measured first or last.
  for (let k = 0; k < modes.length; k++) {
    const m = (i + k) % modes.length
    const mode = modes[m]!
    const r = await run(mode.web, mode.pages)
    results[m]!.push(r.cpuMs)
    console.log(
      `${mode.name}: ${r.cpuMs.toFixed(0)} ms CPU, ${r.wallMs.toFixed(0)} ms wall, ${r.frames} frames`,
    )
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const base = median(results[0]!)
const subscribers = process.env.SUBSCRIBE === '1' ? 'one MQTT subscriber' : 'no MQTT subscribers'
console.log(`${MESSAGES} QoS 0 messages over ${TOPICS} topics, ${subscribers}; median broker CPU:`)
for (const [m, mode] of modes.entries()) {
  const cpu = median(results[m]!)
  const perMessage = (cpu / MESSAGES) * 1e6
  const change = ((cpu - base) / base) * 100
  console.log(
    `  ${mode.name}: ${cpu.toFixed(0)} ms (${perMessage.toFixed(0)} ns/message, ${change >= 0 ? '+' : ''}${change.toFixed(1)}%)`,
  )
}
