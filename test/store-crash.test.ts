// Issue 6 points 3 and 5: what the broker acknowledged survives kill -9. A broker in a child
// process is killed with SIGKILL while a publisher streams QoS 1 (or 2) messages, retained,
// to topics a persistent, offline subscriber holds; restarted on the same data directory, the
// subscriber gets every acknowledged message and the retained store matches.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { defined } from './defined.ts'
import { type Cleanup, connect, publish, pubrel, withTimeout } from './helpers.ts'
import { connectCollecting, endClient, tempDataDir } from './store-helpers.ts'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'store-broker.ts')
/** Starting node with tsx takes a while on a busy 2-core machine. */
const START_TIMEOUT = 20_000
/** Messages the publisher sends at most; it is killed long before on most runs. */
const COUNT = 12_000
/** Retained topics the messages rotate over. */
const TOPICS = 8

const topicOf = (i: number): string => `t/${i % TOPICS}`

interface Child {
  process: ChildProcess
  port: number
  exited: Promise<void>
}

async function startChild(t: Cleanup, data: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, data], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let out = ''
  let err = ''
  defined(child.stderr, 'child.stderr').on('data', (d: Buffer) => {
    err += d.toString()
  })
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      defined(child.stdout, 'child.stdout').on('data', (d: Buffer) => {
        out += d.toString()
        const match = /PORT (\d+)/.exec(out)
        if (match) resolve(Number(match[1]))
      })
      child.once('exit', (code) => reject(new Error(`broker exited (${code}) before listening: ${err}`)))
    }),
    'the broker child to listen',
    START_TIMEOUT,
  )
  return { process: child, port, exited }
}

/** Registers the persistent subscriber on t/# and leaves it offline. */
async function offlineSubscriber(port: number, qos: 1 | 2, t: Cleanup): Promise<void> {
  const sub = await connectCollecting(port, { clientId: 'sub', clean: false }, t)
  await sub.client.subscribeAsync('t/#', { qos })
  await endClient(sub.client)
}

/**
 * A publisher on a raw socket that writes `COUNT` retained messages at once (packet id = index + 1)
 * and counts acknowledgements; `onAck` runs synchronously for each. For QoS 2 it answers PUBREC
 * with PUBREL. Everything the broker sends a 3.1.1 publisher is 4 bytes long.
 */
function streamPublisher(
  port: number,
  qos: 1 | 2,
  onAck: (acked: number) => void,
): { acked: Set<number>; completed: Set<number>; closed: Promise<void> } {
  const acked = new Set<number>()
  const completed = new Set<number>()
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  let pending: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let at = 0
    for (; at + 4 <= pending.length; at += 4) {
      const type = defined(pending[at], 'pending[at]') >> 4
      const index = pending.readUInt16BE(at + 2) - 1
      if (type === 4 || type === 5) {
        acked.add(index)
        if (type === 5) socket.write(pubrel(index + 1))
        onAck(acked.size)
      } else if (type === 7) {
        completed.add(index)
      }
    }
    pending = pending.subarray(at)
  })
  socket.once('connect', () => {
    socket.write(connect({ clientId: 'pub', clean: false }))
    for (let i = 0; i < COUNT; i++) {
      socket.write(publish({ topic: topicOf(i), payload: String(i), qos, retain: true, packetId: i + 1 }))
    }
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { acked, completed, closed }
}

/** Reads the retained store: topic → message index. */
async function retainedIndexes(port: number, t: Cleanup): Promise<Map<string, number>> {
  const reader = await connectCollecting(port, { clientId: 'reader' }, t)
  // The broker sends the retained messages before SUBACK.
  await reader.client.subscribeAsync('t/#', { qos: 1 })
  const messages = reader.inbox.messages.filter((m) => m.retain)
  await endClient(reader.client)
  return new Map(messages.map((m) => [m.topic, Number(m.payload)]))
}

/** Connects the subscriber again and collects until the marker, which follows everything restored. */
async function drainSubscriber(port: number, t: Cleanup): Promise<number[]> {
  const sub = await connectCollecting(port, { clientId: 'sub', clean: false }, t)
  assert.equal(sub.sessionPresent, true, 'the session survived')
  const marker = await connectCollecting(port, { clientId: 'marker' }, t)
  await marker.client.publishAsync('t/marker', 'marker', { qos: 1 })
  await sub.inbox.waitFor((m) => m.topic === 't/marker', 'the marker after the restored queue', 30_000)
  await endClient(marker.client)
  await endClient(sub.client)
  return sub.inbox.messages.filter((m) => m.topic !== 't/marker').map((m) => Number(m.payload))
}

/** The last index ≤ `upTo` on each topic. */
function lastPerTopic(upTo: number): Map<string, number> {
  const last = new Map<string, number>()
  for (let i = Math.max(0, upTo - TOPICS + 1); i <= upTo; i++) last.set(topicOf(i), i)
  return last
}

async function killDuringStream(t: Cleanup, data: string, qos: 1 | 2, killAfter: number) {
  const child = await startChild(t, data)
  await offlineSubscriber(child.port, qos, t)
  const stream = streamPublisher(child.port, qos, (acked) => {
    if (acked >= killAfter && child.process.exitCode === null) child.process.kill('SIGKILL')
  })
  await withTimeout(child.exited, 'the broker to be killed', 30_000)
  await withTimeout(stream.closed, 'the publisher to see the connection close')
  assert.equal(child.process.signalCode, 'SIGKILL')
  return stream
}

for (const killAfter of [1, 700, 4000]) {
  test(`QoS 1: killed after ${killAfter} PUBACKs, every acknowledged message is delivered after restart`, async (t) => {
    const data = tempDataDir(t)
    const { acked } = await killDuringStream(t, data, 1, killAfter)
    assert.ok(acked.size >= killAfter)
    const maxAcked = Math.max(...acked)

    const child = await startChild(t, data)
    const received = await drainSubscriber(child.port, t)
    const got = new Set(received)
    const missing = [...acked].filter((i) => !got.has(i))
    assert.deepEqual(missing, [], 'acknowledged messages lost')
    // Commits are atomic and in order, so what survived is a prefix 0..last of what was sent.
    const last = Math.max(...got)
    assert.ok(last >= maxAcked && last < COUNT)
    assert.equal(got.size, last + 1, 'the messages that survived are a prefix of the stream')
    // The retained store holds, per topic, the last message of that prefix.
    assert.deepEqual(await retainedIndexes(child.port, t), lastPerTopic(last))
    child.process.kill('SIGKILL')
    await child.exited
  })
}

for (const killAfter of [300, 3000]) {
  test(`QoS 2: killed after ${killAfter} PUBRECs, none lost and none duplicated once the publisher resumes`, async (t) => {
    const data = tempDataDir(t)
    const { acked, completed } = await killDuringStream(t, data, 2, killAfter)
    assert.ok(acked.size >= killAfter)

    const child = await startChild(t, data)
    // The publisher resumes its session as MQTT requires: PUBREL for what got PUBREC, the
    // PUBLISH again (DUP) for the rest. Ids the broker stored as received are not routed twice.
    const resumed = await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ port: child.port, host: '127.0.0.1' }, () => resolve(socket))
      socket.once('error', reject)
    })
    t.after(() => resumed.destroy())
    const done = new Set(completed)
    let pending: Buffer = Buffer.alloc(0)
    const allComplete = new Promise<void>((resolve) => {
      resumed.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        let at = 0
        for (; at + 4 <= pending.length; at += 4) {
          const type = defined(pending[at], 'pending[at]') >> 4
          const id = pending.readUInt16BE(at + 2)
          if (type === 5) resumed.write(pubrel(id))
          if (type === 7) done.add(id - 1)
        }
        pending = pending.subarray(at)
        if (done.size === COUNT) resolve()
      })
    })
    resumed.write(connect({ clientId: 'pub', clean: false }))
    for (let i = 0; i < COUNT; i++) {
      if (done.has(i)) continue
      if (acked.has(i)) resumed.write(pubrel(i + 1))
      else
        resumed.write(
          publish({
            topic: topicOf(i),
            payload: String(i),
            qos: 2,
            retain: true,
            dup: true,
            packetId: i + 1,
          }),
        )
    }
    await withTimeout(allComplete, 'every QoS 2 exchange to complete', 30_000)

    const received = await drainSubscriber(child.port, t)
    const counts = new Map<number, number>()
    for (const i of received) counts.set(i, (counts.get(i) ?? 0) + 1)
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      'duplicated',
    )
    assert.equal(counts.size, COUNT, 'every message delivered')
    assert.deepEqual(await retainedIndexes(child.port, t), lastPerTopic(COUNT - 1))
    child.process.kill('SIGKILL')
    await child.exited
  })
}
