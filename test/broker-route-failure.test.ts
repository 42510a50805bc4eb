// Found while fuzzing: when delivering a message to one subscriber threw (a malformed MQTT 5
// property did, before the decoder refused them; an access hook still can), the rest of that
// routing pass was abandoned with its subscriber list left filled, and the next message went
// to those stale subscribers too, whatever its topic.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Inbox, mqttConnect, startTestBroker } from './helpers.ts'

test('a delivery that throws does not send later messages to its subscribers', async (t) => {
  const broker = await startTestBroker(t)
  broker.setAccessControl({
    canRead: (_client, topic) => {
      if (topic === 'route/boom') throw new Error('access hook failed')
      return true
    },
  })
  const boomSubscriber = await mqttConnect(broker.port, { clientId: 'boom-sub' }, t)
  const boomInbox = new Inbox(boomSubscriber)
  await boomSubscriber.subscribeAsync('route/boom', { qos: 1 })
  const otherSubscriber = await mqttConnect(broker.port, { clientId: 'other-sub' }, t)
  const otherInbox = new Inbox(otherSubscriber)
  await otherSubscriber.subscribeAsync('route/other', { qos: 1 })

  const publisher = await mqttConnect(broker.port, { clientId: 'route-pub' }, t)
  publisher.publish('route/boom', 'x', { qos: 0 })
  const second = await mqttConnect(broker.port, { clientId: 'route-pub-2' }, t)
  await second.publishAsync('route/other', 'for other only', { qos: 1 })
  await otherInbox.waitFor((m) => m.payload === 'for other only', 'the message on route/other')
  // A round trip on boom-sub's own connection: anything routed to it before has arrived.
  await boomSubscriber.subscribeAsync('route/ping', { qos: 1 })
  await second.publishAsync('route/ping', 'ping', { qos: 1 })
  await boomInbox.waitFor((m) => m.payload === 'ping', 'the ping')
  assert.deepEqual(
    boomInbox.messages.map((m) => m.topic),
    ['route/ping'],
  )
})
