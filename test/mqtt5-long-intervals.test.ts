// Found by the live fuzz (test/broker-fuzz-live.test.ts): Node runs a timer set for more than
// 2^31-1 ms (24.8 days) after 1 ms, with a TimeoutOverflowWarning. MQTT 5 intervals go up to
// 2^32-1 s, so a Session Expiry Interval or Will Delay Interval past 24.8 days ended the
// session, or sent the will, at once instead of weeks later.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Inbox5, mqtt5, Raw5, sleep, startTestBroker, uid } from './mqtt5-helpers.ts'

const THIRTY_DAYS = 30 * 24 * 3600

/** Collects TimeoutOverflowWarnings while a test runs. */
function overflowWarnings(t: { after(fn: () => unknown): void }): string[] {
  const seen: string[] = []
  const onWarning = (w: Error): void => {
    if (w.name === 'TimeoutOverflowWarning') seen.push(w.message)
  }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  return seen
}

/** A chance for a timer mis-armed to 1 ms to fire; the assertions do not depend on its length. */
const GRACE_MS = 100

test('a Session Expiry Interval of 30 days keeps the session and its queued messages', async (t) => {
  const warnings = overflowWarnings(t)
  const broker = await startTestBroker(t)
  const id = `long-${uid()}`
  const connect = () =>
    Raw5.connect(
      broker.port,
      { clientId: id, clean: false, properties: { sessionExpiryInterval: THIRTY_DAYS } },
      t,
    )
  const first = await connect()
  await first.client.subscribe(1, [{ topic: 'long/expiry', qos: 1 }])
  first.client.send({ cmd: 'disconnect', reasonCode: 0 })
  await first.client.untilClosed()
  await sleep(GRACE_MS)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('long/expiry', 'queued', { qos: 1 })
  const second = await connect()
  assert.equal(second.connack.sessionPresent, true)
  const queued = await second.client.expect('publish')
  assert.equal(queued.payload.toString(), 'queued')
  assert.deepEqual(warnings, [])
})

test('a Will Delay Interval of 30 days holds the will back', async (t) => {
  const warnings = overflowWarnings(t)
  const broker = await startTestBroker(t)
  const watcher = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(watcher)
  await watcher.subscribeAsync('long/will', { qos: 1 })
  const { client } = await Raw5.connect(
    broker.port,
    {
      clientId: `will-${uid()}`,
      clean: false,
      properties: { sessionExpiryInterval: 0xffffffff },
      will: {
        topic: 'long/will',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: THIRTY_DAYS },
      },
    },
    t,
  )
  // Connection lost without DISCONNECT: the will is due in 30 days, not now.
  client.destroy()
  await sleep(GRACE_MS)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('long/will', 'marker', { qos: 1 })
  await inbox.waitFor((m) => m.payload.toString() === 'marker', 'the marker')
  assert.deepEqual(
    inbox.messages.map((m) => m.payload.toString()),
    ['marker'],
  )
  assert.deepEqual(warnings, [])
})
