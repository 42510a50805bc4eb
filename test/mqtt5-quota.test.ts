import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import { Raw5, startTestBroker, uid } from './mqtt5-helpers.ts'

// Issue 5 point 13: DISCONNECT 0x97 (Quota exceeded). tinymqtt uses it for a connected MQTT 5
// client that lets its message queue overflow: it is told why and disconnected, and its
// persistent session keeps what was queued for it.

test('a connected MQTT 5 client whose queue overflows gets DISCONNECT 0x97; its session keeps the queue', async (t) => {
  // The subscriber never acknowledges: the publisher is held back until it counts as stalled
  // (stallTimeout), and only then does its queue overflow.
  const broker = await startTestBroker(t, { maxInflight: 1, maxQueuedMessages: 2, stallTimeout: 1 })
  const clientId = `quota-${uid()}`
  const { client: sub } = await Raw5.connect(
    broker.port,
    { clientId, clean: true, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  const suback = await sub.subscribe(1, [{ topic: 'quota/t', qos: 1 }])
  assert.deepEqual(suback.granted, [1])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  // 1 in flight (never acknowledged) + 2 queued fit; the 4th overflows the queue.
  for (let i = 1; i <= 4; i++) pub.publish({ topic: 'quota/t', qos: 1, messageId: i, payload: `m${i}` })
  const before = await sub.untilClosed()
  const disconnect = before.find((p) => p.cmd === 'disconnect')
  assert.ok(disconnect, `expected a DISCONNECT, got ${JSON.stringify(before.map((p) => p.cmd))}`)
  assert.equal(disconnect.reasonCode, 0x97)
  const delivered = before.filter((p) => p.cmd === 'publish')
  assert.equal(delivered.length, 1, 'only the in-flight window was sent before the disconnect')

  // The session survives with its in-flight and queued messages: m1 again with DUP, then m2
  // and m3 as the window (maxInflight 1) frees up.
  const { client: again, connack } = await Raw5.connect(
    broker.port,
    { clientId, clean: false, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  assert.equal(connack.sessionPresent, true)
  const received: string[] = []
  for (let i = 0; i < 3; i++) {
    const message = await again.expect('publish')
    if (i === 0) assert.equal(message.dup, true)
    received.push(String(message.payload))
    again.send({ cmd: 'puback', messageId: defined(message.messageId, 'message.messageId') })
  }
  assert.deepEqual(received, ['m1', 'm2', 'm3'])
})
