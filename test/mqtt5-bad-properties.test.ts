// Found by the live fuzz (npm run fuzz -- --live): mqtt-packet's parser takes any known MQTT 5
// property in any packet, and turns a repeated one into an array. A PUBLISH carrying, say,
// Receive Maximum was routed with it, and encoding it for an MQTT 5 subscriber threw inside
// routing: the publisher was dropped with an internal error, the subscribers after the failing
// one missed the message, and a retained one failed again for every later subscriber.
// Such packets are refused at the decoder [MQTT-2.2.2.2, 3.3.2.3 and each packet's properties].
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeLength, LogCapture } from './helpers.ts'
import { Inbox5, mqtt5, Raw5, startTestBroker, uid } from './mqtt5-helpers.ts'

const ERROR = 50

function str(s: string): Buffer {
  return Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)])
}

/**
 * An MQTT 5 QoS 0 PUBLISH with hand-written property bytes (mqtt-packet would refuse them);
 * `payload` undefined ends the packet inside the properties, which claim 8 bytes more.
 */
function publish5(topic: string, properties: Buffer, payload: string | undefined, retain = false): Buffer {
  const length = encodeLength(properties.length + (payload === undefined ? 8 : 0))
  const body = Buffer.concat([str(topic), length, properties, Buffer.from(payload ?? '')])
  return Buffer.concat([Buffer.from([0x30 | (retain ? 1 : 0)]), encodeLength(body.length), body])
}

const receiveMaximum = Buffer.from([0x21, 0x00, 0x05])
const willDelay = Buffer.from([0x18, 0, 0, 0, 9])
const contentTypeTwice = Buffer.concat([Buffer.from([0x03]), str('a'), Buffer.from([0x03]), str('b')])

const CASES = [
  { name: 'a CONNECT-only property (Receive Maximum)', properties: receiveMaximum, reason: 0x81 },
  { name: 'a will-only property (Will Delay Interval)', properties: willDelay, reason: 0x81 },
  { name: 'the same property twice (Content Type)', properties: contentTypeTwice, reason: 0x82 },
  // The fuzz's find: mqtt-packet decodes a value cut off by the packet's end as -1 or null.
  { name: 'Receive Maximum cut off', properties: Buffer.from([0x21]), reason: 0x81, cut: true },
  { name: 'Content Type cut off', properties: Buffer.from([0x03, 0x00]), reason: 0x81, cut: true },
]

for (const c of CASES) {
  test(`a PUBLISH with ${c.name} is refused; subscribers and retained messages are unharmed`, async (t) => {
    const log = new LogCapture('warn')
    const broker = await startTestBroker(t, { logger: log.logger })
    const topic = `props/${uid()}`
    const watcher = await mqtt5(broker.port, {}, t)
    const inbox = new Inbox5(watcher)
    await watcher.subscribeAsync(topic, { qos: 0 })

    const { client: bad } = await Raw5.connect(broker.port, {}, t)
    bad.sendRaw(publish5(topic, c.properties, c.cut ? undefined : 'poison', true))
    const disconnect = await bad.expectDisconnect()
    assert.equal(disconnect.reasonCode, c.reason)

    // Nothing was routed or retained, and the broker goes on delivering.
    const pub = await mqtt5(broker.port, {}, t)
    await pub.publishAsync(topic, 'fine', { qos: 1, properties: { contentType: 'text/plain' } })
    await inbox.waitFor((m) => m.payload.toString() === 'fine', 'the valid message')
    assert.deepEqual(
      inbox.messages.map((m) => m.payload.toString()),
      ['fine'],
    )
    const late = await Raw5.connect(broker.port, {}, t)
    await late.client.subscribe(1, [{ topic, qos: 0 }])
    assert.deepEqual(await late.client.pingBarrier(), [], 'no retained poison')
    assert.deepEqual(
      log.records.filter((r) => r.level >= ERROR),
      [],
    )
  })
}

test('a CONNECT with Session Expiry Interval twice is refused without an internal error', async (t) => {
  const log = new LogCapture('warn')
  const broker = await startTestBroker(t, { logger: log.logger })
  const expiry = Buffer.from([0x11, 0, 0, 0, 10])
  const properties = Buffer.concat([expiry, expiry])
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([5, 0x02, 0, 30]),
    encodeLength(properties.length),
    properties,
    str(`twice-${uid()}`),
  ])
  const raw = await Raw5.open(broker.port, t)
  raw.sendRaw(Buffer.concat([Buffer.from([0x10]), encodeLength(body.length), body]))
  const got = await raw.untilClosed()
  assert.ok(!got.some((p) => p.cmd === 'connack' && p.reasonCode === 0), 'not accepted')
  await log.waitFor((r) => /more than once/.test(String(r.msg)), 'the refusal')
  assert.deepEqual(
    log.records.filter((r) => r.level >= ERROR),
    [],
  )
})
