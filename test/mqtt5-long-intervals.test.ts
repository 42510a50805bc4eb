// MQTT 5 intervals past Node's 2^31 − 1 ms timer limit (24.8 days): a long Session Expiry
// Interval keeps the session, a long Will Delay does not publish at the close, and a Message
// Expiry Interval of 0xFFFFFFFF is kept and forwarded. Node would fire such a timer after
// 1 ms with a TimeoutOverflowWarning; none may be emitted.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type Broker, startBroker } from '../src/index.ts'
import { defined } from './defined.ts'
import { Inbox5, mqtt5, type Packet, type PacketOf, Raw5, startTestBroker, uid } from './mqtt5-helpers.ts'
import { tempDataDir } from './store-helpers.ts'

const DAY_S = 86_400
const MAX_INTERVAL = 0xffffffff

/** Collects TimeoutOverflowWarnings emitted while the test runs. */
function overflowWarnings(t: TestContext): Error[] {
  const seen: Error[] = []
  const listener = (warning: Error) => {
    if (warning.name === 'TimeoutOverflowWarning') seen.push(warning)
  }
  process.on('warning', listener)
  t.after(() => process.off('warning', listener))
  return seen
}

/** Warnings are emitted on the next tick: let them arrive before asserting there were none. */
async function noOverflow(seen: Error[]): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(
    seen.map((w) => w.message),
    [],
  )
}

function publishes(packets: Packet[]): PacketOf<'publish'>[] {
  return packets.filter((p): p is PacketOf<'publish'> => p.cmd === 'publish')
}

/** The broker has handled a close once a later connection's packets are handled after it. */
async function barrier(broker: Broker, t: TestContext): Promise<void> {
  const probe = await Raw5.connect(broker.port, {}, t)
  await probe.client.pingBarrier()
  probe.client.destroy()
}

/** Seconds until a timer's deadline, as armed. */
function secondsLeft(deadline: number | undefined): number {
  assert.notEqual(deadline, undefined, 'a timer is armed')
  return (defined(deadline, 'deadline') - Date.now()) / 1000
}

async function start(t: TestContext, data: string | undefined): Promise<Broker> {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', data })
  t.after(() => broker.close())
  return broker
}

async function keepSessionAcrossLongExpiry(t: TestContext, data?: string): Promise<void> {
  const warnings = overflowWarnings(t)
  let broker = await start(t, data)
  const id = `long-${uid()}`
  const spec = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } }
  const first = await Raw5.connect(broker.port, spec, t)
  await first.client.subscribe(1, [{ topic: 'long/#', qos: 1 }])
  first.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 999_999_999 } })
  await first.client.untilClosed()
  await barrier(broker, t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('long/1', 'queued', { qos: 1 })
  pub.end(true)
  if (data !== undefined) {
    await broker.close()
    broker = await start(t, data)
  }
  const left = secondsLeft(broker.sessionInfo(id)?.expiresAt)
  assert.ok(left > 999_999_999 - 600 && left <= 999_999_999, `expires in ${left} s`)
  await noOverflow(warnings)

  const second = await Raw5.connect(broker.port, spec, t)
  assert.equal(second.connack.sessionPresent, true)
  const message = await second.client.expect('publish')
  assert.equal(message.topic, 'long/1')
  assert.equal(message.payload.toString(), 'queued')
  await noOverflow(warnings)
}

test('Session Expiry Interval 999,999,999 s set on DISCONNECT: the session and its queued message survive', async (t) => {
  await keepSessionAcrossLongExpiry(t)
})

test('Session Expiry Interval 999,999,999 s: a restored session keeps its long expiry across a restart', async (t) => {
  await keepSessionAcrossLongExpiry(t, tempDataDir(t))
})

test('Session Expiry Interval 0xFFFFFFFF: the session never expires (no timer armed)', async (t) => {
  const warnings = overflowWarnings(t)
  const broker = await startTestBroker(t)
  const id = `never-${uid()}`
  const spec = { clientId: id, clean: false, properties: { sessionExpiryInterval: MAX_INTERVAL } }
  const first = await Raw5.connect(broker.port, spec, t)
  await first.client.subscribe(1, [{ topic: 'never/#', qos: 1 }])
  first.client.destroy()
  await first.client.untilClosed()
  await barrier(broker, t)
  const session = broker.sessionInfo(id)
  assert.ok(session, 'kept')
  assert.equal(session.expiresAt, undefined)
  const second = await Raw5.connect(broker.port, spec, t)
  assert.equal(second.connack.sessionPresent, true)
  await noOverflow(warnings)
})

test('a Will Delay Interval of 30 days does not publish the will at the close', async (t) => {
  const warnings = overflowWarnings(t)
  const broker = await startTestBroker(t)
  const watcher = await Raw5.connect(broker.port, {}, t)
  await watcher.client.subscribe(1, [{ topic: 'will/#', qos: 1 }])
  const id = `will-${uid()}`
  const delay = 30 * DAY_S
  const { client } = await Raw5.connect(
    broker.port,
    {
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: MAX_INTERVAL },
      will: {
        topic: 'will/month',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: delay },
      },
    },
    t,
  )
  await client.pingBarrier()
  client.destroy()
  await client.untilClosed()
  await barrier(broker, t)
  const session = broker.sessionInfo(id)
  assert.ok(session?.willAt !== undefined, 'the will is still pending')
  const left = secondsLeft(session.willAt)
  assert.ok(left > delay - 600 && left <= delay, `the will goes out in ${left} s`)
  // A later message on the topic arrives alone: the will did not go out in between.
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('will/month', 'marker', { qos: 1 })
  const got = publishes([await watcher.client.expect('publish'), ...(await watcher.client.pingBarrier())])
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['marker'],
  )
  await noOverflow(warnings)
})

test('Message Expiry Interval 0xFFFFFFFF is kept and forwarded: live, retained and queued', async (t) => {
  const warnings = overflowWarnings(t)
  const broker = await startTestBroker(t)
  const id = `mx-${uid()}`
  const spec = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } }
  const offline = await Raw5.connect(broker.port, spec, t)
  await offline.client.subscribe(1, [{ topic: 'mx/queued', qos: 1 }])
  offline.client.send({ cmd: 'disconnect', reasonCode: 0 })
  await offline.client.untilClosed()

  const live = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(live)
  await live.subscribeAsync('mx/live', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  const properties = { messageExpiryInterval: MAX_INTERVAL }
  await pub.publishAsync('mx/live', 'l', { qos: 1, properties })
  await pub.publishAsync('mx/retained', 'r', { qos: 1, retain: true, properties })
  await pub.publishAsync('mx/queued', 'q', { qos: 1, properties })
  const near = (interval: number | undefined) =>
    interval !== undefined && interval <= MAX_INTERVAL && interval > MAX_INTERVAL - 600

  const liveMsg = await inbox.waitFor((m) => m.topic === 'mx/live', 'the live message')
  assert.ok(near(liveMsg.packet.properties?.messageExpiryInterval), JSON.stringify(liveMsg.packet.properties))

  const late = await mqtt5(broker.port, {}, t)
  const lateInbox = new Inbox5(late)
  await late.subscribeAsync('mx/retained', { qos: 1 })
  const retained = await lateInbox.waitFor((m) => m.topic === 'mx/retained', 'the retained message')
  assert.ok(
    near(retained.packet.properties?.messageExpiryInterval),
    JSON.stringify(retained.packet.properties),
  )

  const back = await Raw5.connect(broker.port, spec, t)
  assert.equal(back.connack.sessionPresent, true)
  const queued = await back.client.expect('publish')
  assert.equal(queued.payload.toString(), 'q')
  assert.ok(near(queued.properties?.messageExpiryInterval), JSON.stringify(queued.properties))
  await noOverflow(warnings)
})
