// Flow control for QoS 1/2 (README "Reliability"): a connected subscriber that acknowledges
// slowly slows the publishers feeding it instead of losing what they were told was received;
// a stalled or offline one no longer holds them back and its excess is dropped, logged and
// counted; unrelated publishers keep flowing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { listenersOf, startBroker } from '../src/index.ts'
import { defined } from './defined.ts'
import {
  type Cleanup,
  decodePublish,
  LogCapture,
  mqttConnect,
  PT,
  puback,
  RawClient,
  startTestBroker,
  subscribe,
  until,
  WARN,
  withTimeout,
} from './helpers.ts'

/** Generous guards: these are failure guards on a busy machine, not timing assertions. */
const LONG = 60_000

/** Publishes `count` QoS 1 messages at once; resolves when every PUBACK arrived. */
function flood(client: MqttClient, topic: string, prefix: string, count: number): Promise<void> {
  const acks: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    acks.push(
      new Promise<void>((resolve, reject) => {
        client.publish(topic, `${prefix}-${i}`, { qos: 1 }, (error) => (error ? reject(error) : resolve()))
      }),
    )
  }
  return Promise.all(acks).then(() => undefined)
}

/**
 * An MQTT.js subscriber that reads and acknowledges slowly: MQTT.js handles one packet at a
 * time and sends PUBACK when handleMessage calls back, so every 50th message it pauses a few ms.
 */
async function slowSubscriber(
  port: number,
  filter: string,
  t: Cleanup,
  opts: IClientOptions = {},
): Promise<{ client: MqttClient; received: string[] }> {
  const client = await mqttConnect(
    port,
    { clientId: `slow-${Math.random().toString(36).slice(2)}`, ...opts },
    t,
  )
  const received: string[] = []
  client.handleMessage = (packet, done) => {
    received.push(String(packet.payload))
    if (received.length % 50 === 0) setTimeout(() => done(), 5)
    else setImmediate(() => done())
  }
  await client.subscribeAsync(filter, { qos: 1 })
  return { client, received }
}

function assertExactlyOnce(received: string[], expected: string[]): void {
  const seen = new Map<string, number>()
  for (const r of received) seen.set(r, (seen.get(r) ?? 0) + 1)
  const missing = expected.filter((e) => !seen.has(e))
  const repeated = [...seen].filter(([, n]) => n > 1).map(([r]) => r)
  assert.deepEqual(
    { missing: missing.length, repeated: repeated.length, total: received.length },
    { missing: 0, repeated: 0, total: expected.length },
    `first missing: ${missing.slice(0, 5).join(', ')}; first repeated: ${repeated.slice(0, 5).join(', ')}`,
  )
}

test('4 QoS 1 publishers flooding a slow, acknowledging QoS 1 subscriber: every acknowledged message is delivered once, and the publishers were slowed', async (t) => {
  const log = new LogCapture('warn')
  const broker = await startTestBroker(t, { maxQueuedMessages: 100, logger: log.logger })
  const sub = await slowSubscriber(broker.port, 'flood/+', t)
  const perPublisher = 5000
  const publishers = await Promise.all(
    [0, 1, 2, 3].map((i) => mqttConnect(broker.port, { clientId: `flood-pub-${i}` }, t)),
  )
  let receivedWhenAllAcked = -1
  await withTimeout(
    Promise.all(publishers.map((p, i) => flood(p, `flood/${i}`, `p${i}`, perPublisher))).then(() => {
      receivedWhenAllAcked = sub.received.length
    }),
    'every PUBACK',
    LONG,
  )
  const total = 4 * perPublisher
  await until(() => sub.received.length >= total, `${total} deliveries`, LONG)
  // Let anything duplicated or late show up before counting.
  await withTimeout(sub.client.publishAsync('flood/marker', 'end', { qos: 1 }), 'marker publish')
  await until(() => sub.received.includes('end'), 'the marker')
  const expected = [0, 1, 2, 3].flatMap((i) => Array.from({ length: perPublisher }, (_, n) => `p${i}-${n}`))
  assertExactlyOnce(
    sub.received.filter((r) => r !== 'end'),
    expected,
  )
  // Without flow control the broker acknowledges all 20,000 while the subscriber has a few
  // hundred; held back, the publishers get their last PUBACK only once most were delivered.
  assert.ok(
    receivedWhenAllAcked > total / 2,
    `publishers were acknowledged before the subscriber got most (${receivedWhenAllAcked} of ${total})`,
  )
  assert.equal(broker.stats().messagesDropped, 0)
  assert.equal(
    log.find((r) => r.level >= WARN && /dropped/.test(String(r.msg))),
    undefined,
  )
})

test('a stalled subscriber (connected, never acknowledges) holds publishers back only until stallTimeout; then its excess is dropped, logged and counted', async (t) => {
  const log = new LogCapture('warn')
  const broker = await startTestBroker(t, { maxQueuedMessages: 20, stallTimeout: 1, logger: log.logger })
  const { client: stuck } = await RawClient.connect(broker.port, { clientId: 'stuck', clean: true }, t)
  await stuck.send(subscribe(1, [{ topic: 'stall/t', qos: 1 }]))
  await stuck.expect(PT.SUBACK)
  const publisher = await mqttConnect(broker.port, { clientId: 'stall-pub' }, t)
  // Far more than the in-flight window (20) and the queue (20) hold.
  await withTimeout(
    flood(publisher, 'stall/t', 'm', 500),
    'every PUBACK despite the stalled subscriber',
    LONG,
  )
  await log.waitFor((r) => r.level >= WARN && /acknowledged nothing/.test(String(r.msg)), 'about the stall')
  await log.waitFor(
    (r) => r.level >= WARN && r.clientId === 'stuck' && /dropped/.test(String(r.msg)),
    'about the drops',
  )
  assert.ok(broker.stats().messagesDropped > 0)
  assert.ok(broker.stats().messagesDropped <= 500 - 20)
})

test('a subscriber that acknowledges again after a stall holds publishers back again', async (t) => {
  const broker = await startTestBroker(t, { maxQueuedMessages: 20, stallTimeout: 1 })
  const { client: sub } = await RawClient.connect(broker.port, { clientId: 'wakes', clean: true }, t)
  await sub.send(subscribe(1, [{ topic: 'wake/t', qos: 1 }]))
  await sub.expect(PT.SUBACK)
  const publisher = await mqttConnect(broker.port, { clientId: 'wake-pub' }, t)
  await withTimeout(flood(publisher, 'wake/t', 'a', 200), 'PUBACKs past the stall', LONG)
  const droppedWhileStalled = broker.stats().messagesDropped
  assert.ok(droppedWhileStalled > 0)
  // It acknowledges what it has: it counts as progressing again, so a second flood (while it
  // keeps acknowledging) is held back rather than dropped.
  const second: string[] = []
  const ackBatch = async (): Promise<number> => {
    const batch = await sub.pingBarrier()
    for (const p of batch) {
      if (p.type !== PT.PUBLISH) continue
      const d = decodePublish(p)
      if (d.payload.toString().startsWith('b-')) second.push(d.payload.toString())
      await sub.send(puback(defined(d.packetId, 'd.packetId')))
    }
    return batch.length
  }
  // What it was sent before the stall, then the rest of its queue.
  while ((await ackBatch()) > 0) {}
  let acking = true
  const acker = (async () => {
    while (acking) await ackBatch()
  })()
  await withTimeout(flood(publisher, 'wake/t', 'b', 200), 'the second flood', LONG)
  await until(() => second.length >= 200, 'the second flood delivered', LONG)
  acking = false
  await acker
  assert.equal(
    broker.stats().messagesDropped,
    droppedWhileStalled,
    'nothing dropped once it acknowledged again',
  )
  assertExactlyOnce(
    second,
    Array.from({ length: 200 }, (_, n) => `b-${n}`),
  )
})

test('an unrelated publisher and subscriber keep flowing while another subscriber holds its publisher back', async (t) => {
  // A long stall timeout: the congested subscriber stays congested for the whole test.
  const broker = await startTestBroker(t, { maxQueuedMessages: 20, stallTimeout: 600 })
  const { client: stuck } = await RawClient.connect(broker.port, { clientId: 'congested', clean: true }, t)
  await stuck.send(subscribe(1, [{ topic: 'busy/t', qos: 1 }]))
  await stuck.expect(PT.SUBACK)
  const busy = await mqttConnect(broker.port, { clientId: 'busy-pub' }, t)
  const busyDone = flood(busy, 'busy/t', 'b', 500)
  let busyFinished = false
  void busyDone.then(() => {
    busyFinished = true
  })
  await until(() => broker.flow.heldPublishers === 1, 'the busy publisher to be held back', LONG)

  const other = await slowSubscriber(broker.port, 'calm/t', t)
  const calm = await mqttConnect(broker.port, { clientId: 'calm-pub' }, t)
  await withTimeout(flood(calm, 'calm/t', 'c', 300), 'the unrelated publisher', LONG)
  await until(() => other.received.length >= 300, 'the unrelated deliveries', LONG)
  assertExactlyOnce(
    other.received,
    Array.from({ length: 300 }, (_, n) => `c-${n}`),
  )
  assert.equal(busyFinished, false, 'the busy publisher is still held back')
  assert.equal(broker.stats().messagesDropped, 0)

  // The congested subscriber goes offline (clean session): it holds nobody back any more.
  stuck.socket.destroy()
  await withTimeout(busyDone, 'the held publisher once the subscriber went', LONG)
})

test('a publisher over WebSocket is held back too: zero lost to a slow subscriber', async (t) => {
  const log = new LogCapture('warn')
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logger: log.logger,
    maxQueuedMessages: 50,
    listeners: [{ type: 'ws', port: 0, host: '127.0.0.1' }],
  })
  t.after(() => broker.close())
  const wsPort = defined(listenersOf(broker)[0], 'listenersOf(broker)[0]').port
  const sub = await slowSubscriber(broker.port, 'ws/flood', t)
  const publisher = mqtt.connect(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'ws-pub', reconnectPeriod: 0 })
  t.after(() => publisher.end(true))
  await withTimeout(new Promise((resolve) => publisher.once('connect', resolve)), 'the WebSocket CONNACK')
  let receivedWhenAllAcked = -1
  await withTimeout(
    flood(publisher, 'ws/flood', 'w', 3000).then(() => {
      receivedWhenAllAcked = sub.received.length
    }),
    'every PUBACK over WebSocket',
    LONG,
  )
  await until(() => sub.received.length >= 3000, '3000 deliveries', LONG)
  assertExactlyOnce(
    sub.received,
    Array.from({ length: 3000 }, (_, n) => `w-${n}`),
  )
  assert.ok(receivedWhenAllAcked > 1500, `acknowledged before most were delivered (${receivedWhenAllAcked})`)
  assert.equal(broker.stats().messagesDropped, 0)
})
