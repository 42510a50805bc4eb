// What the dashboard costs a busy broker: the same MQTT load (pre-encoded QoS 0 PUBLISH packets
// from a child process, written as fast as the broker reads) is run through a broker without the
// dashboard, one with it and no page open, one with two open pages (Topics and Broker views) and
// one with a page on the Broker view only, and the broker process's CPU time is compared.
// Usage: npm run bench -- web [--rounds n] [--messages n] [--topics n] [--modes list] [--no-warm]
// [--subscribe].
import { spawn } from 'node:child_process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { type Broker, startBroker, webOf } from '../../../src/index.ts'
import type { WebOptions } from '../options.ts'
import { ascending, quantile } from '../stats.ts'

const PUBLISHERS = 4

// The load generator: PUBLISHERS raw MQTT 3.1.1 connections, each writing its share of QoS 0
// PUBLISH packets (spread over TOPICS topics) pre-encoded, then "bench/done" and DISCONNECT. Pre-
// encoded, so the broker and not the generator sets the pace: a busy broker is what is measured.
// It connects, prints READY and writes when it reads a line on stdin (the measured window).
const LOAD = `
import net from 'node:net'
import readline from 'node:readline'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
const [port, messages, topics, publishers, subscribe] = process.argv.slice(1).map(Number)
const per = Math.ceil(messages / publishers)
const publish = (topic, payload) => mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })
// subscribe 1 (--subscribe): one MQTT client also receives every message, as a logger or Home
// Assistant would.
const sub = subscribe === 1 ? await mqtt.connectAsync('mqtt://127.0.0.1:' + port, { reconnectPeriod: 0 }) : undefined
let received = 0
sub?.on('message', () => received++)
await sub?.subscribeAsync('bench/+/+')
const streams = Array.from({ length: publishers }, (_, p) => {
  const parts = []
  for (let i = 0; i < per; i++) {
    const n = (p * per + i) % topics
    parts.push(publish('bench/' + (n % 100) + '/' + n, JSON.stringify({ POWER: i % 2 ? 'ON' : 'OFF', n: i })))
  }
  parts.push(publish('bench/done', String(p)), mqttPacket.generate({ cmd: 'disconnect' }))
  return Buffer.concat(parts)
})
const sockets = await Promise.all(streams.map((_, p) => new Promise((resolve, reject) => {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'bench-pub-' + p })
  const s = net.connect(port, '127.0.0.1', () => s.write(connect))
  s.once('data', () => resolve(s))
  s.once('error', reject)
})))
console.log('READY')
const rl = readline.createInterface({ input: process.stdin })
await new Promise((r) => rl.once('line', r))
rl.close()
await Promise.all(sockets.map((s, p) => new Promise((r) => { s.on('close', r); s.end(streams[p]) })))
// The broker drops QoS 0 messages a subscriber cannot take in time: wait until the stream stops.
if (sub) {
  for (let last = -1; received !== last; ) {
    last = received
    await new Promise((r) => setTimeout(r, 300))
  }
  console.error('subscriber received ' + received + ' of ' + per * publishers)
}
await sub?.endAsync()
`

type PageRequest = { view: string; expanded?: string[] }

async function measure(
  options: WebOptions,
  gc: () => void,
  withDashboard: boolean,
  requests: PageRequest[],
): Promise<{ cpuMs: number; wallMs: number; frames: number }> {
  const { messages: MESSAGES, topics: TOPICS, warm: WARM } = options
  const broker: Broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    ...(withDashboard ? { http: 0 } : {}),
  })
  let frames = 0
  const pages: WebSocket[] = []
  for (const request of requests) {
    const web = webOf(broker)
    if (web === undefined) throw new Error('the broker started without its dashboard')
    const ws = new WebSocket(`ws://127.0.0.1:${web.port}/ws`)
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify(request))
    ws.on('message', () => frames++)
    pages.push(ws)
  }
  let done = 0
  let finish = (): void => {}
  broker.subscribe('bench/done', () => {
    if (++done % PUBLISHERS === 0) finish()
  })
  const load = async (messages: number): Promise<{ cpu: NodeJS.CpuUsage; start: number }> => {
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        LOAD,
        String(broker.port),
        String(messages),
        String(TOPICS),
        String(PUBLISHERS),
        options.subscribe ? '1' : '0',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    const exited = new Promise((r) => child.once('exit', r))
    await Promise.race([
      new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          if (String(d).includes('READY')) resolve()
        })
      }),
      exited.then(() => {
        throw new Error('load generator exited early')
      }),
    ])
    gc()
    const cpu = process.cpuUsage()
    const start = performance.now()
    child.stdin.write('go\n')
    await finished
    await exited
    return { cpu, start }
  }
  // Steady state: every topic published once, and a few dashboard ticks, before the measured
  // run, so it measures what a busy broker pays per message once its topics are known.
  // --no-warm measures a fresh broker, where each of the TOPICS topics is also seen for the first time.
  if (WARM) {
    await load(TOPICS)
    await new Promise((r) => setTimeout(r, 600))
  }
  const { cpu, start } = await load(MESSAGES)
  const wallMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  for (const ws of pages) ws.terminate()
  await broker.close()
  return { cpuMs: (used.user + used.system) / 1000, wallMs, frames }
}

export async function run(options: WebOptions): Promise<number> {
  // A full collection before each measured run, so that no run pays for the garbage of the one
  // before it (10,000 recorded topics after a run with a page open).
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const { rounds, messages: MESSAGES, topics: TOPICS, warm: WARM } = options
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
  // --modes 1 (say) runs only the second mode, for profiling.
  const chosen = options.modes
  const modes = (chosen === undefined ? allModes : allModes.filter((_, i) => chosen.includes(i))).map(
    (mode) => ({ ...mode, cpuMs: [] as number[] }),
  )
  if (modes.length === 0) throw new Error('--modes chose none of modes 0–3')
  for (let i = 0; i < rounds; i++) {
    // Each round starts with another mode, so a mode is not always measured first or last.
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(i + k) % modes.length]
      if (mode === undefined) continue
      const r = await measure(options, gc, mode.web, mode.pages)
      mode.cpuMs.push(r.cpuMs)
      console.log(
        `${mode.name}: ${r.cpuMs.toFixed(0)} ms CPU, ${r.wallMs.toFixed(0)} ms wall, ${r.frames} frames`,
      )
    }
  }
  const median = (xs: number[]): number => quantile(ascending(xs), 0.5)
  const [first] = modes
  if (first === undefined) return 0
  const base = median(first.cpuMs)
  const subscribers = options.subscribe ? 'one MQTT subscriber' : 'no MQTT subscribers'
  const state = WARM ? 'topics known (steady state)' : 'topics new (fresh broker)'
  console.log(
    `${MESSAGES} QoS 0 messages over ${TOPICS} topics, ${state}, ${subscribers}; median broker CPU:`,
  )
  for (const mode of modes) {
    const cpu = median(mode.cpuMs)
    const perMessage = (cpu / MESSAGES) * 1e6
    const change = ((cpu - base) / base) * 100
    const sorted = ascending(mode.cpuMs)
    const range = `runs ${quantile(sorted, 0).toFixed(0)}–${quantile(sorted, 1).toFixed(0)} ms`
    console.log(
      `  ${mode.name}: ${cpu.toFixed(0)} ms (${perMessage.toFixed(0)} ns/message, ${change >= 0 ? '+' : ''}${change.toFixed(1)}%; ${range})`,
    )
  }
  return 0
}
