/**
 * Durable vs in-memory QoS 1 throughput, and start-up time at scale.
 *
 *   npm run bench -- store [--messages 60000] [--publishers 4] [--window 100]
 *        [--rounds 2] [--scale-retained 100000] [--scale-sessions 10000] [--skip-scale]
 *
 * Throughput: a broker in a child process (serve-store.ts; memory, then an LMDB data directory); one persistent
 * subscriber (clean session 0, QoS 1) online and acking; publishers on raw sockets keep `window`
 * QoS 1 messages each in flight until `messages` are acknowledged and delivered. With a
 * durable store every message is journaled for the subscriber (put when sent, delete on PUBACK),
 * and each PUBACK waits for the group commit. Everything is on 127.0.0.1 and bounded.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { startBroker } from '../../../src/index.ts'
import { LmdbStore } from '../../../src/store/lmdb.ts'
import type { StoreOptions as Options } from '../options.ts'

const SERVE = new URL('../serve-store.ts', import.meta.url).pathname

export async function run(options: Options): Promise<number> {
  console.log(
    `QoS 1 throughput: ${options.messages} messages, ${options.publishers} publishers × window ${options.window}, 1 persistent subscriber`,
  )
  const results: Record<'memory' | 'durable', number[]> = { memory: [], durable: [] }
  for (let round = 0; round < options.rounds; round++) {
    for (const mode of ['memory', 'durable'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-'))
      try {
        const { rate, loop } = await throughput(mode === 'memory' ? 'memory' : dir, options)
        results[mode].push(rate)
        console.log(
          `  round ${round + 1} ${mode.padEnd(7)} ${Math.round(rate).toLocaleString('en')} msgs/s  (${loop})`,
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  const best = (xs: number[]) => Math.max(...xs)
  console.log(
    `best: memory ${Math.round(best(results.memory)).toLocaleString('en')} msgs/s, durable ${Math.round(best(results.durable)).toLocaleString('en')} msgs/s ` +
      `(${((best(results.durable) / best(results.memory)) * 100).toFixed(0)}% of in-memory)`,
  )
  if (!options.skipScale) await scale(options)
  return 0
}

// ---- throughput ----

async function throughput(target: string, options: Options): Promise<{ rate: number; loop: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVE, target], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  let rate = 0
  try {
    const port = await portOf(child)
    const subscriber = await Client.open(port, 'bench-sub', false)
    await subscriber.subscribe('bench/#')
    let delivered = 0
    const allDelivered = new Promise<void>((resolve) => {
      subscriber.onPublish = () => {
        if (++delivered === options.messages) resolve()
      }
    })
    const publishers = await Promise.all(
      Array.from({ length: options.publishers }, (_, i) => Client.open(port, `bench-pub-${i}`, true)),
    )
    const share = Math.ceil(options.messages / options.publishers)
    const payload = Buffer.alloc(64, 0x61)
    const started = performance.now()
    await Promise.all(
      publishers.map((p, i) =>
        p.stream(`bench/${i}`, payload, Math.min(share, options.messages - share * i), options.window),
      ),
    )
    await allDelivered
    const seconds = (performance.now() - started) / 1000
    for (const c of [subscriber, ...publishers]) c.end()
    rate = options.messages / seconds
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  const loop = /LOOP (.*)/.exec(out)?.[1] ?? '?'
  return { rate, loop: `event-loop delay ms ${loop}` }
}

function portOf(child: ChildProcessByStdio<null, Readable, null>): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const match = /PORT (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
}

/** A minimal MQTT 3.1.1 client on a raw socket, enough for the benchmark. */
class Client {
  onPublish: (() => void) | undefined
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 })
  private readonly waiting = new Map<string, () => void>()
  private onPuback: (() => void) | undefined

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk))
    this.parser.on('packet', (packet: mqttPacket.Packet) => {
      if (packet.cmd === 'publish') {
        if (packet.qos > 0 && packet.messageId !== undefined)
          this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId }))
        this.onPublish?.()
      } else if (packet.cmd === 'puback') {
        this.onPuback?.()
      } else {
        this.waiting.get(packet.cmd)?.()
      }
    })
  }

  static async open(port: number, clientId: string, clean: boolean): Promise<Client> {
    const socket = net.connect({ port, host: '127.0.0.1' })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const client = new Client(socket)
    const connack = client.wait('connack')
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId,
        clean,
        keepalive: 0,
        protocolVersion: 4,
        protocolId: 'MQTT',
      }),
    )
    await connack
    return client
  }

  async subscribe(filter: string): Promise<void> {
    const suback = this.wait('suback')
    this.socket.write(
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] }),
    )
    await suback
  }

  /** Publishes `count` QoS 1 messages, keeping `window` unacknowledged. */
  stream(topic: string, payload: Buffer, count: number, window: number): Promise<void> {
    let sent = 0
    let acked = 0
    return new Promise((resolve) => {
      const send = () => {
        const messageId = (sent % 65_535) + 1
        sent++
        this.socket.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic,
            payload,
            qos: 1,
            messageId,
            retain: false,
            dup: false,
          }),
        )
      }
      this.onPuback = () => {
        acked++
        if (acked === count) resolve()
        else if (sent < count) send()
      }
      while (sent < Math.min(window, count)) send()
    })
  }

  end(): void {
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  }

  private wait(cmd: string): Promise<void> {
    return new Promise((resolve) => this.waiting.set(cmd, resolve))
  }
}

// ---- start-up at scale ----

async function scale(options: Options): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-scale-'))
  try {
    console.log(
      `start-up at scale: ${options.scaleRetained.toLocaleString('en')} retained, ${options.scaleSessions.toLocaleString('en')} persistent sessions (2 subscriptions, 5 queued QoS 1 messages each)`,
    )
    let started = performance.now()
    const store = await LmdbStore.open(dir)
    for (let i = 0; i < options.scaleRetained; i++) {
      store.putRetained({
        topic: `home/${i % 1000}/sensor/${i}`,
        payload: Buffer.from(`{"v":${i}}`),
        qos: 1,
        retain: true,
      })
      if (i % 10_000 === 9_999) await store.flush()
    }
    for (let i = 0; i < options.scaleSessions; i++) {
      const clientId = `device-${i}`
      store.putSession({
        clientId,
        expiryInterval: 0xffffffff,
        subscriptions: [
          { filter: `cmnd/${clientId}/#`, qos: 1 },
          { filter: 'cmnd/all/#', qos: 1 },
        ],
      })
      for (let seq = 1; seq <= 5; seq++) {
        store.putMessage(clientId, {
          seq,
          qos: 1,
          retain: false,
          message: { topic: `cmnd/${clientId}/POWER`, payload: Buffer.from('ON'), qos: 1, retain: false },
        })
      }
      if (i % 1000 === 999) await store.flush()
    }
    await store.close()
    console.log(`  written in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const rssBefore = process.memoryUsage().rss
    started = performance.now()
    const broker = await startBroker({
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      data: dir,
      maxQueuedMessages: 100,
    })
    const ms = performance.now() - started
    const rss = process.memoryUsage().rss
    console.log(
      `  startBroker: ${(ms / 1000).toFixed(2)} s; ${broker.stats().sessions.toLocaleString('en')} sessions; RSS ${(rss / 2 ** 20).toFixed(0)} MiB (+${((rss - rssBefore) / 2 ** 20).toFixed(0)} MiB)`,
    )
    await broker.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
