/**
 * Scripting host benchmark (not a test): MQTT-to-script callbacks per second, script-to-MQTT
 * publishes per second, and save-to-live latency of a script reload.
 *
 *   npm run bench -- scripting [--messages 200000] [--reloads 15] [--skip 1a,1b,1c,2] [--log info]
 *
 * --skip leaves sections out (1a in-process, 1b over MQTT from MQTT.js, 1c over MQTT from a
 * raw socket writing pre-encoded packets, 2 script publishes); --log info shows the broker log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { Broker } from '../../../src/broker/broker.ts'
import { startScripting } from '../../../src/scripting/index.ts'
import { MemoryStore } from '../../../src/store/memory.ts'
import type { ScriptingOptions } from '../options.ts'
import { quantile } from '../stats.ts'

const PAYLOAD = Buffer.alloc(20, 'x')

/** Resolves with the next payload on `topic`, or undefined after `timeoutMs`. */
function waitFor(client: MqttClient, topic: string, timeoutMs = 60_000) {
  return new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage)
      resolve(undefined)
    }, timeoutMs)
    const onMessage = (t: string, p: Buffer) => {
      if (t !== topic) return
      clearTimeout(timer)
      client.off('message', onMessage)
      resolve(p.toString())
    }
    client.on('message', onMessage)
  })
}

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString('en-US')

export async function run(options: ScriptingOptions): Promise<number> {
  const N = options.messages
  const RELOADS = options.reloads
  const skip = new Set<string>(options.skip)
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-bench-'))
  const code = (version: string) => `
const N = ${N}
let n = 0
ms_subscribe('bench/in', () => { if (++n === N) { ms_publish('bench/done', String(n)); n = 0 } })
ms_subscribe('bench/go', () => { for (let i = 0; i < N; i++) ms_publish('bench/out', 'xxxxxxxxxxxxxxxxxxxx') })
ms_subscribe('bench/ping', () => ms_publish('bench/pong', '${version}'))
`
  await writeFile(join(dir, 'bench.js'), code('v0'))
  const broker = new Broker({
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: options.log }),
    store: new MemoryStore(),
  })
  await broker.start()
  const host = await startScripting(broker, {
    path: dir,
    publishRatePerSecond: 1e9,
    cpuLimitMs: 30_000,
    hardCpuLimitMs: 60_000,
  })
  const url = `mqtt://127.0.0.1:${broker.port}`
  const client = await connectAsync(url, { reconnectPeriod: 0 })
  await client.subscribeAsync(['bench/done', 'bench/pong'])

  console.log(`node ${process.version}, ${N.toLocaleString('en-US')} messages of ${PAYLOAD.length} bytes`)

  // 1a. In-process: broker.publish → script callback (no socket in the way).
  if (!skip.has('1a')) {
    const done = waitFor(client, 'bench/done')
    const t0 = performance.now()
    // In slices, as messages arrive from sockets, so routing and the scripts' worker overlap.
    for (let i = 0; i < N; i++) {
      void broker.publish({ topic: 'bench/in', payload: PAYLOAD })
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
    }
    await done
    const ms = performance.now() - t0
    console.log(`broker.publish -> script callbacks: ${rate(N, ms)}/s (${ms.toFixed(0)} ms)`)
  }

  /**
   * Runs a publisher thread that says 'ready', publishes on 'go' and ends on 'stop'; resolves
   * with the milliseconds from 'go' until `done` settles.
   */
  async function timePublisher(publisher: Worker, done: Promise<unknown>): Promise<number> {
    await new Promise((r) => publisher.once('message', r))
    const t0 = performance.now()
    publisher.postMessage('go')
    await done
    const ms = performance.now() - t0
    publisher.postMessage('stop')
    await new Promise((r) => publisher.once('exit', r))
    return ms
  }

  /**
   * One MQTT.js client in its own thread (so it does not compete with the broker's event loop)
   * publishing N QoS 0 messages to `topic`; resolves with the milliseconds until `done` settles.
   */
  async function publishFromClientThread(topic: string, done: Promise<unknown>): Promise<number> {
    const mqttEntry = pathToFileURL(createRequire(import.meta.url).resolve('mqtt')).href
    const publisher = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads')
    import(workerData.mqttEntry).then(async (m) => {
      const mqtt = m.default ?? m
      const c = await mqtt.connectAsync(workerData.url, { reconnectPeriod: 0 })
      parentPort.postMessage('ready')
      await new Promise((r) => parentPort.once('message', r))
      const payload = Buffer.alloc(20, 'x')
      for (let i = 0; i < workerData.n; i++) {
        c.publish(workerData.topic, payload)
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
      }
      await new Promise((r) => parentPort.once('message', r))
      await c.endAsync()
    })`,
      { eval: true, workerData: { url, n: N, mqttEntry, topic } },
    )
    return timePublisher(publisher, done)
  }

  // 1b. Over MQTT → script callbacks; and, for scale, the same traffic into an in-process
  // broker.subscribe handler with no script at all.
  if (!skip.has('1b')) {
    const ms = await publishFromClientThread('bench/in', waitFor(client, 'bench/done'))
    console.log(`MQTT client -> script callbacks:   ${rate(N, ms)}/s (${ms.toFixed(0)} ms)`)
    let seen = 0
    let unsubscribe = () => {}
    const all = new Promise<void>((resolve) => {
      unsubscribe = broker.subscribe('bench/plain', () => {
        if (++seen === N) resolve()
      })
    })
    const plainMs = await publishFromClientThread('bench/plain', all)
    unsubscribe()
    console.log(`  (same into a plain broker.subscribe handler, no script: ${rate(N, plainMs)}/s)`)
  }

  /**
   * A publisher that is not itself the limit: a thread writing N pre-encoded QoS 0 PUBLISH
   * packets (mqtt-packet) to a plain socket in 64 KiB writes, pausing only on backpressure.
   * MQTT.js tops out near 180,000 msg/s here, below what the scripts take.
   */
  async function publishFromRawSocket(topic: string, done: Promise<unknown>): Promise<number> {
    const packetEntry = pathToFileURL(createRequire(import.meta.url).resolve('mqtt-packet')).href
    const publisher = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads')
    const net = require('node:net')
    import(workerData.packetEntry).then(async (m) => {
      const mp = m.default ?? m
      const socket = net.connect(workerData.port, '127.0.0.1')
      socket.setNoDelay(true)
      await new Promise((r) => socket.once('connect', r))
      socket.write(mp.generate({ cmd: 'connect', clientId: 'bench-raw', keepalive: 0, clean: true }))
      await new Promise((r) => socket.once('data', r)) // CONNACK
      const one = mp.generate({ cmd: 'publish', topic: workerData.topic, payload: Buffer.alloc(20, 'x'), qos: 0, retain: false, dup: false })
      const perChunk = Math.floor(65536 / one.length)
      const chunk = Buffer.concat(Array.from({ length: perChunk }, () => one))
      parentPort.postMessage('ready')
      await new Promise((r) => parentPort.once('message', r))
      let left = workerData.n
      while (left > 0) {
        const k = Math.min(left, perChunk)
        left -= k
        const ok = socket.write(k === perChunk ? chunk : chunk.subarray(0, k * one.length))
        if (!ok) await new Promise((r) => socket.once('drain', r))
      }
      await new Promise((r) => parentPort.once('message', r))
      socket.end(Buffer.from([0xe0, 0]))
      await new Promise((r) => socket.once('close', r))
    })`,
      { eval: true, workerData: { port: broker.port, n: N, packetEntry, topic } },
    )
    return timePublisher(publisher, done)
  }

  // 1c. Over MQTT from the raw-socket publisher → script callbacks.
  if (!skip.has('1c')) {
    const ms = await publishFromRawSocket('bench/in', waitFor(client, 'bench/done'))
    console.log(`raw-socket client -> script callbacks: ${rate(N, ms)}/s (${ms.toFixed(0)} ms)`)
  }

  // 2. Script → broker → MQTT client. The broker may drop QoS 0 messages for a client that
  // cannot keep up (its slow-consumer limit), so routed and received are counted separately.
  if (!skip.has('2')) {
    const receiver = await connectAsync(url, { reconnectPeriod: 0 })
    await receiver.subscribeAsync('bench/out')
    let routed = 0
    let received = 0
    let routedMs = 0
    const t0 = performance.now()
    const allRouted = new Promise<void>((resolve) => {
      const onMessage = (m: { topic: string }) => {
        if (m.topic !== 'bench/out' || ++routed < N) return
        routedMs = performance.now() - t0
        broker.off('message', onMessage)
        resolve()
      }
      broker.on('message', onMessage)
    })
    let lastReceived = performance.now()
    receiver.on('message', () => {
      received++
      lastReceived = performance.now()
    })
    client.publish('bench/go', '')
    await allRouted
    lastReceived = Math.max(lastReceived, performance.now())
    // Wait until the receiver has been quiet for 500 ms.
    while (received < N && performance.now() - lastReceived < 500) await new Promise((r) => setTimeout(r, 50))
    const receivedMs = lastReceived - t0
    console.log(`script ms_publish -> broker:       ${rate(N, routedMs)}/s (${routedMs.toFixed(0)} ms)`)
    console.log(
      `  ... -> one MQTT.js subscriber:   ${rate(received, receivedMs)}/s (${received.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} received)`,
    )
    await receiver.endAsync(true)
  }

  // 3. Save to live: from writeFile to the new version answering a ping.
  {
    const latencies: number[] = []
    for (let i = 1; i <= RELOADS; i++) {
      const version = `v${i}`
      const t0 = performance.now()
      await writeFile(join(dir, 'bench.js'), code(version))
      for (;;) {
        const reply = waitFor(client, 'bench/pong', 100)
        client.publish('bench/ping', '')
        const answer = await reply
        if (answer === version) break
        await new Promise((r) => setTimeout(r, 2))
      }
      latencies.push(performance.now() - t0)
    }
    latencies.sort((a, b) => a - b)
    const pick = (q: number) => quantile(latencies, q).toFixed(0)
    console.log(
      `save -> new version live:          median ${pick(0.5)} ms, p90 ${pick(0.9)} ms, max ${pick(1)} ms (${RELOADS} saves, 100 ms debounce included)`,
    )
  }

  await client.endAsync(true)
  await host.close()
  await broker.close()
  await rm(dir, { recursive: true, force: true })
  return 0
}
