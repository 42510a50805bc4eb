// Issue 5, points 1, 4, 5, 6 and 10: properties and reason codes on PUBLISH and its acks,
// topic aliases both ways, Receive Maximum both ways, Maximum Packet Size both ways, and the
// message properties forwarded unchanged (Payload Format Indicator with its 0x99).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  Inbox5,
  mqtt5,
  type Packet,
  type PacketOf,
  Raw5,
  startTestBroker,
  uid,
  wireSize,
} from './mqtt5-helpers.ts'

const INVALID_UTF8 = Buffer.from([0x61, 0xff, 0xfe, 0x62])

function publishes(packets: Packet[]): PacketOf<'publish'>[] {
  return packets.filter((p): p is PacketOf<'publish'> => p.cmd === 'publish')
}

// ---------------------------------------------------------------------------------------------
// Point 10: properties forwarded unchanged

test('user properties, content type, response topic, correlation data and payload format forwarded unchanged (MQTT.js, QoS 0/1/2)', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('props/#', { qos: 2 })
  const pub = await mqtt5(broker.port, {}, t)
  const correlation = Buffer.from([0x00, 0x01, 0xfe, 0xff])
  for (const qos of [0, 1, 2] as const) {
    await pub.publishAsync(`props/q${qos}`, 'héllo', {
      qos,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'text/plain; charset=utf-8',
        responseTopic: 'reply/here',
        correlationData: correlation,
        userProperties: { first: '1', multi: ['a', 'b'], ключ: 'значение' },
      },
    })
  }
  for (const qos of [0, 1, 2] as const) {
    const m = await inbox.waitFor((x) => x.topic === `props/q${qos}`, `props/q${qos}`)
    const p = m.packet.properties ?? {}
    assert.equal(m.payload.toString(), 'héllo')
    assert.equal(m.packet.qos, qos)
    assert.equal(p.payloadFormatIndicator, true)
    assert.equal(p.contentType, 'text/plain; charset=utf-8')
    assert.equal(p.responseTopic, 'reply/here')
    assert.deepEqual(p.correlationData, correlation)
    assert.deepEqual({ ...p.userProperties }, { first: '1', multi: ['a', 'b'], ключ: 'значение' })
    assert.equal(p.messageExpiryInterval, undefined, 'no expiry invented')
  }
})

test('user property order and repeated names are kept on the wire (raw)', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'order', qos: 0 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  pub.publish({
    topic: 'order',
    payload: 'x',
    properties: { userProperties: { z: ['3', '1'], a: '2', m: ['x', 'x'] } },
  })
  const p = await sub.expect('publish')
  assert.deepEqual(Object.keys(p.properties?.userProperties ?? {}), ['z', 'a', 'm'])
  assert.deepEqual({ ...p.properties?.userProperties }, { z: ['3', '1'], a: '2', m: ['x', 'x'] })
})

test('a message without properties arrives without properties; the publisher topic alias is not forwarded', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'plain/#', qos: 1 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  pub.publish({ topic: 'plain/a', payload: 'one' })
  pub.publish({ topic: 'plain/b', payload: 'two', properties: { topicAlias: 3 } })
  const a = await sub.expect('publish')
  assert.equal(a.topic, 'plain/a')
  assert.equal(a.properties?.topicAlias, undefined)
  assert.equal(a.properties?.userProperties, undefined)
  const b = await sub.expect('publish')
  assert.equal(b.topic, 'plain/b')
  assert.equal(b.properties?.topicAlias, undefined, 'the subscriber allowed no aliases')
})

test('Payload Format Indicator with invalid UTF-8: QoS 1 → PUBACK 0x99, QoS 2 → PUBREC 0x99, not delivered', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'pfi/#', qos: 2 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  pub.publish({
    topic: 'pfi/1',
    qos: 1,
    messageId: 11,
    payload: INVALID_UTF8,
    properties: { payloadFormatIndicator: true },
  })
  const puback = await pub.expect('puback')
  assert.equal(puback.messageId, 11)
  assert.equal(puback.reasonCode, 0x99)
  assert.ok((puback.properties?.reasonString ?? '').length > 0, 'a reason string says why')
  pub.publish({
    topic: 'pfi/2',
    qos: 2,
    messageId: 12,
    payload: INVALID_UTF8,
    properties: { payloadFormatIndicator: true },
  })
  const pubrec = await pub.expect('pubrec')
  assert.equal(pubrec.messageId, 12)
  assert.equal(pubrec.reasonCode, 0x99)
  // The same bytes without the indicator are fine, and valid UTF-8 with it too.
  pub.publish({ topic: 'pfi/3', qos: 1, messageId: 13, payload: INVALID_UTF8 })
  assert.equal((await pub.expect('puback')).reasonCode ?? 0, 0)
  pub.publish({
    topic: 'pfi/4',
    qos: 1,
    messageId: 14,
    payload: 'ok ✓',
    properties: { payloadFormatIndicator: true },
  })
  assert.equal((await pub.expect('puback')).reasonCode ?? 0, 0)
  const got = publishes([await sub.next(), await sub.next(), ...(await sub.pingBarrier())])
  assert.deepEqual(
    got.map((p) => p.topic),
    ['pfi/3', 'pfi/4'],
  )
  assert.equal(pub.closed, false)
})

test('Payload Format Indicator with invalid UTF-8 at QoS 0 → DISCONNECT 0x99', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'pfi0', qos: 0 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  pub.publish({ topic: 'pfi0', payload: INVALID_UTF8, properties: { payloadFormatIndicator: true } })
  const d = await pub.expectDisconnect()
  assert.equal(d.reasonCode, 0x99)
  assert.deepEqual(publishes(await sub.pingBarrier()), [], 'not delivered')
})

test('MQTT.js: an invalid UTF-8 payload flagged UTF-8 at QoS 1 is refused with 0x99', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  const err = await pub
    .publishAsync('pfi/js', INVALID_UTF8, { qos: 1, properties: { payloadFormatIndicator: true } })
    .then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    )
  assert.ok(err, 'the publish was refused')
  assert.equal(err.code, 0x99)
})

test('Request Problem Information 0: no reason string on the acknowledgement', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, { properties: { requestProblemInformation: false } }, t)
  client.publish({
    topic: 'rpi',
    qos: 1,
    messageId: 5,
    payload: INVALID_UTF8,
    properties: { payloadFormatIndicator: true },
  })
  const puback = await client.expect('puback')
  assert.equal(puback.reasonCode, 0x99)
  assert.equal(puback.properties?.reasonString, undefined)
  assert.equal(puback.properties?.userProperties, undefined)
  client.publish({
    topic: 'rpi',
    qos: 2,
    messageId: 6,
    payload: INVALID_UTF8,
    properties: { payloadFormatIndicator: true },
  })
  const pubrec = await client.expect('pubrec')
  assert.equal(pubrec.reasonCode, 0x99)
  assert.equal(pubrec.properties?.reasonString, undefined)
  const suback = await client.subscribe(7, [{ topic: 'bad/#/filter', qos: 0 }])
  assert.equal(suback.properties?.reasonString, undefined)
})

// ---------------------------------------------------------------------------------------------
// Point 1: a reason code on every acknowledgement; properties accepted on every packet type

test('reason codes on acknowledgements: PUBACK, PUBREC, PUBCOMP, SUBACK (granted QoS, 0x8F), UNSUBACK (0x00, 0x11)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  const suback = await client.subscribe(1, [
    { topic: 'rc/0', qos: 0 },
    { topic: 'rc/1', qos: 1 },
    { topic: 'rc/2', qos: 2 },
    { topic: 'rc/#/bad', qos: 1 },
    { topic: '$share/g/rc/s', qos: 1 },
  ])
  assert.equal(suback.messageId, 1)
  assert.deepEqual(suback.granted, [0, 1, 2, 0x8f, 1])
  client.publish({ topic: 'nobody/listens', qos: 1, messageId: 2, payload: 'x' })
  const puback = await client.expect('puback')
  // 0x00 Success or 0x10 No matching subscribers.
  assert.ok([0x00, 0x10].includes(puback.reasonCode ?? 0))
  client.publish({ topic: 'nobody/listens', qos: 2, messageId: 3, payload: 'x' })
  const pubrec = await client.expect('pubrec')
  assert.ok([0x00, 0x10].includes(pubrec.reasonCode ?? 0))
  client.send({ cmd: 'pubrel', messageId: 3 })
  const pubcomp = await client.expect('pubcomp')
  assert.equal(pubcomp.messageId, 3)
  assert.equal(pubcomp.reasonCode ?? 0, 0)
  client.send({
    cmd: 'unsubscribe',
    messageId: 4,
    unsubscriptions: ['rc/1', 'never/subscribed', '$share/g/rc/s'],
  })
  const unsuback = await client.expect('unsuback')
  assert.equal(unsuback.messageId, 4)
  assert.deepEqual(unsuback.granted, [0x00, 0x11, 0x00])
})

test('properties are accepted on every packet type a client sends', async (t) => {
  const broker = await startTestBroker(t)
  const { client: watcher } = await Raw5.connect(broker.port, {}, t)
  await watcher.subscribe(1, [{ topic: 'will/#', qos: 0 }])
  const userProperties = { who: 'test', n: ['1', '2'] }
  const { client, connack } = await Raw5.connect(
    broker.port,
    {
      properties: {
        userProperties,
        sessionExpiryInterval: 0,
        receiveMaximum: 10,
        maximumPacketSize: 100_000,
      },
      will: {
        topic: 'will/p',
        payload: Buffer.from('w'),
        qos: 0,
        retain: false,
        properties: { userProperties },
      },
    },
    t,
  )
  assert.equal(connack.reasonCode, 0)
  const suback = await client.subscribe(2, [{ topic: 'every/#', qos: 2 }], {
    userProperties,
    subscriptionIdentifier: 9,
  })
  assert.deepEqual(suback.granted, [2])
  client.publish({ topic: 'every/1', qos: 1, messageId: 3, payload: 'a', properties: { userProperties } })
  const echoed = await client.expect('publish')
  const puback = await client.expect('puback')
  assert.equal(puback.reasonCode ?? 0, 0)
  client.send({
    cmd: 'puback',
    messageId: echoed.messageId,
    reasonCode: 0,
    properties: { reasonString: 'thanks', userProperties },
  })
  client.publish({ topic: 'every/2', qos: 2, messageId: 4, payload: 'b', properties: { userProperties } })
  const got = [await client.next(), await client.next()]
  const pubrec = got.find((p): p is PacketOf<'pubrec'> => p.cmd === 'pubrec')
  const incoming = got.find((p): p is PacketOf<'publish'> => p.cmd === 'publish')
  assert.ok(pubrec && incoming)
  client.send({
    cmd: 'pubrel',
    messageId: 4,
    reasonCode: 0,
    properties: { reasonString: 'rel', userProperties },
  })
  assert.equal((await client.expect('pubcomp')).messageId, 4)
  client.send({ cmd: 'pubrec', messageId: incoming.messageId, reasonCode: 0, properties: { userProperties } })
  const pubrel = await client.expect('pubrel')
  client.send({ cmd: 'pubcomp', messageId: pubrel.messageId, reasonCode: 0, properties: { userProperties } })
  client.send({
    cmd: 'unsubscribe',
    messageId: 5,
    unsubscriptions: ['every/#'],
    properties: { userProperties },
  })
  assert.deepEqual((await client.expect('unsuback')).granted, [0])
  assert.deepEqual(await client.pingBarrier(), [])
  client.send({ cmd: 'disconnect', reasonCode: 0, properties: { reasonString: 'bye', userProperties } })
  assert.deepEqual(await client.untilClosed(), [], 'a normal DISCONNECT gets no answer')
  assert.deepEqual(publishes(await watcher.pingBarrier()), [], 'no will after a normal DISCONNECT')
})

// ---------------------------------------------------------------------------------------------
// Point 4: topic aliases, client → server

test('client → server topic aliases are honoured, re-mapped, and up to Topic Alias Maximum (MQTT.js)', async (t) => {
  const broker = await startTestBroker(t, { topicAliasMaximum: 3 })
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('alias/#', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('alias/one', '1', { qos: 1, properties: { topicAlias: 1 } })
  await pub.publishAsync('', '2', { qos: 1, properties: { topicAlias: 1 } })
  await pub.publishAsync('alias/three', '3', { qos: 1, properties: { topicAlias: 3 } })
  await pub.publishAsync('', '4', { qos: 1, properties: { topicAlias: 3 } })
  await pub.publishAsync('alias/other', '5', { qos: 1, properties: { topicAlias: 1 } })
  await pub.publishAsync('', '6', { qos: 1, properties: { topicAlias: 1 } })
  const seen = inbox.messages
  await inbox.waitFor((m) => m.payload.toString() === '6', 'message 6')
  assert.deepEqual(
    seen.map((m) => `${m.topic}=${m.payload.toString()}`),
    ['alias/one=1', 'alias/one=2', 'alias/three=3', 'alias/three=4', 'alias/other=5', 'alias/other=6'],
  )
})

test('topic alias 0 → DISCONNECT 0x94', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.publish({ topic: 'a', payload: 'x', properties: { topicAlias: 0 } })
  assert.equal((await client.expectDisconnect()).reasonCode, 0x94)
})

test('topic alias above the broker Topic Alias Maximum → DISCONNECT 0x94 (default 10, and a configured 2)', async (t) => {
  const broker = await startTestBroker(t)
  const ok = await Raw5.connect(broker.port, {}, t)
  ok.client.publish({ topic: 'a', payload: 'x', properties: { topicAlias: 10 } })
  assert.deepEqual(await ok.client.pingBarrier(), [], 'alias 10 is fine by default')
  ok.client.publish({ topic: 'a', payload: 'x', properties: { topicAlias: 11 } })
  assert.equal((await ok.client.expectDisconnect()).reasonCode, 0x94)

  const small = await startTestBroker(t, { topicAliasMaximum: 2 })
  const { client } = await Raw5.connect(small.port, {}, t)
  client.publish({ topic: 'a', payload: 'x', properties: { topicAlias: 3 } })
  assert.equal((await client.expectDisconnect()).reasonCode, 0x94)
})

test('topicAliasMaximum 0: any topic alias → DISCONNECT 0x94', async (t) => {
  const broker = await startTestBroker(t, { topicAliasMaximum: 0 })
  const { client, connack } = await Raw5.connect(broker.port, {}, t)
  assert.ok((connack.properties?.topicAliasMaximum ?? 0) === 0)
  client.publish({ topic: 'a', payload: 'x', properties: { topicAlias: 1 } })
  assert.equal((await client.expectDisconnect()).reasonCode, 0x94)
})

test('an empty topic with an alias never set → DISCONNECT with an error reason (0x82)', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.publish({ topic: '', payload: 'x', properties: { topicAlias: 4 } })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x82)
})

test('client topic aliases are per connection: a new connection must set them again', async (t) => {
  const broker = await startTestBroker(t)
  const id = `alias-conn-${uid()}`
  const first = await Raw5.connect(
    broker.port,
    { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  first.client.publish({ topic: 'per/conn', payload: 'x', properties: { topicAlias: 2 } })
  await first.client.pingBarrier()
  first.client.send({ cmd: 'disconnect', reasonCode: 0 })
  await first.client.untilClosed()
  const second = await Raw5.connect(
    broker.port,
    { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } },
    t,
  )
  assert.equal(second.connack.sessionPresent, true)
  second.client.publish({ topic: '', payload: 'y', properties: { topicAlias: 2 } })
  const d = await second.client.expectDisconnect()
  assert.ok((d.reasonCode ?? 0) >= 0x80)
})

// ---------------------------------------------------------------------------------------------
// Point 4: topic aliases, server → client

test('server → client topic aliases: first PUBLISH sets alias with topic, later ones send an empty topic; never above the client maximum', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, { properties: { topicAliasMaximum: 2 } }, t)
  await sub.subscribe(1, [{ topic: 'out/#', qos: 1 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  const order = ['out/a', 'out/b', 'out/c', 'out/a', 'out/b', 'out/c', 'out/a']
  order.forEach((topic, i) => {
    pub.publish({ topic, payload: String(i) })
  })
  const aliases = new Map<number, string>()
  const resolved: string[] = []
  const wire: PacketOf<'publish'>[] = []
  while (resolved.length < order.length) {
    const p = await sub.expect('publish')
    wire.push(p)
    const alias = p.properties?.topicAlias
    if (alias !== undefined) {
      assert.ok(alias >= 1 && alias <= 2, `alias ${alias} within 1..2`)
      if (p.topic !== '') aliases.set(alias, p.topic)
    }
    const topic = p.topic !== '' ? p.topic : alias !== undefined ? aliases.get(alias) : undefined
    assert.ok(topic, `PUBLISH ${JSON.stringify(p)} resolves to a topic`)
    resolved.push(topic)
  }
  assert.deepEqual(resolved, order)
  const first = defined(wire[0], 'wire[0]')
  assert.equal(first.topic, 'out/a')
  assert.equal(typeof first.properties?.topicAlias, 'number', 'the first PUBLISH sets an alias')
  const again = defined(wire[3], 'wire[3]')
  assert.equal(again.topic, '', 'the second PUBLISH on out/a uses the alias only')
  assert.equal(again.properties?.topicAlias, first.properties?.topicAlias)
})

test('no topic aliases towards a client that did not allow them (Topic Alias Maximum absent)', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'noalias', qos: 0 }])
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  for (let i = 0; i < 3; i++) pub.publish({ topic: 'noalias', payload: String(i) })
  for (let i = 0; i < 3; i++) {
    const p = await sub.expect('publish')
    assert.equal(p.topic, 'noalias')
    assert.equal(p.properties?.topicAlias, undefined)
  }
})

test('server → client aliases start afresh on a new connection (MQTT.js packetreceive shows the wire)', async (t) => {
  const broker = await startTestBroker(t)
  const id = `js-alias-${uid()}`
  const opts = { clientId: id, clean: false, properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 } }
  const pub = await mqtt5(broker.port, {}, t)
  for (let round = 0; round < 2; round++) {
    const sub = await mqtt5(broker.port, opts, t)
    const wire: { topic: string; alias: number | undefined }[] = []
    sub.on('packetreceive', (p) => {
      if (p.cmd === 'publish') wire.push({ topic: p.topic, alias: p.properties?.topicAlias })
    })
    const inbox = new Inbox5(sub)
    if (round === 0) await sub.subscribeAsync('js/alias', { qos: 1 })
    await pub.publishAsync('js/alias', 'a', { qos: 1 })
    await pub.publishAsync('js/alias', 'b', { qos: 1 })
    await inbox.waitFor((m) => m.payload.toString() === 'b', 'b')
    assert.deepEqual(
      inbox.messages.map((m) => m.topic),
      ['js/alias', 'js/alias'],
      'MQTT.js resolves the alias',
    )
    assert.equal(wire[0]?.topic, 'js/alias', `round ${round}: the first PUBLISH names the topic`)
    assert.equal(typeof wire[0]?.alias, 'number')
    assert.equal(wire[1]?.topic, '', `round ${round}: the second uses the alias`)
    assert.equal(wire[1]?.alias, wire[0]?.alias)
    await sub.endAsync()
  }
})

// ---------------------------------------------------------------------------------------------
// Point 5: Receive Maximum both ways

test('Receive Maximum towards a client: receiveMaximum 2 and no acks → exactly 2 in flight; the third after an ack', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, { properties: { receiveMaximum: 2 } }, t)
  await sub.subscribe(1, [{ topic: 'flow', qos: 1 }])
  const pub = await mqtt5(broker.port, {}, t)
  for (let i = 1; i <= 5; i++) await pub.publishAsync('flow', String(i), { qos: 1 })
  const firstBatch = publishes(await sub.pingBarrier())
  assert.deepEqual(
    firstBatch.map((p) => p.payload.toString()),
    ['1', '2'],
  )
  sub.send({ cmd: 'puback', messageId: defined(firstBatch[0], 'firstBatch[0]').messageId })
  const third = publishes(await sub.pingBarrier())
  assert.deepEqual(
    third.map((p) => p.payload.toString()),
    ['3'],
  )
  sub.send({ cmd: 'puback', messageId: defined(firstBatch[1], 'firstBatch[1]').messageId })
  sub.send({ cmd: 'puback', messageId: defined(third[0], 'third[0]').messageId })
  const rest = publishes(await sub.pingBarrier())
  assert.deepEqual(
    rest.map((p) => p.payload.toString()),
    ['4', '5'],
  )
})

test('Receive Maximum towards a client at QoS 2: PUBREC does not free the slot, PUBCOMP does', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, { properties: { receiveMaximum: 1 } }, t)
  await sub.subscribe(1, [{ topic: 'flow2', qos: 2 }])
  const pub = await mqtt5(broker.port, {}, t)
  for (let i = 1; i <= 3; i++) await pub.publishAsync('flow2', String(i), { qos: 2 })
  const [one, ...none] = publishes(await sub.pingBarrier())
  assert.equal(one?.payload.toString(), '1')
  assert.deepEqual(none, [])
  sub.send({ cmd: 'pubrec', messageId: one.messageId })
  const afterRec = await sub.pingBarrier()
  assert.deepEqual(
    afterRec.map((p) => p.cmd),
    ['pubrel'],
    'PUBREL only, no new PUBLISH while the QoS 2 exchange is open',
  )
  sub.send({ cmd: 'pubcomp', messageId: one.messageId })
  const next = publishes(await sub.pingBarrier())
  assert.deepEqual(
    next.map((p) => p.payload.toString()),
    ['2'],
  )
})

test('MQTT.js subscriber with receiveMaximum 1 still gets every QoS 1 message, in order', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, { properties: { receiveMaximum: 1 } }, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('flowjs', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  for (let i = 0; i < 10; i++) await pub.publishAsync('flowjs', String(i), { qos: 1 })
  await inbox.waitFor((m) => m.payload.toString() === '9', 'the last message')
  assert.deepEqual(
    inbox.messages.map((m) => m.payload.toString()),
    ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  )
})

test('a client exceeding the broker Receive Maximum (QoS 2 without PUBREL) → DISCONNECT 0x93', async (t) => {
  const broker = await startTestBroker(t, { receiveMaximum: 2 })
  const { client, connack } = await Raw5.connect(broker.port, {}, t)
  assert.equal(connack.properties?.receiveMaximum, 2)
  client.publish({ topic: 'rm', qos: 2, messageId: 1, payload: 'a' })
  client.publish({ topic: 'rm', qos: 2, messageId: 2, payload: 'b' })
  assert.equal((await client.expect('pubrec')).messageId, 1)
  assert.equal((await client.expect('pubrec')).messageId, 2)
  // Releasing one frees a slot: a third is fine then.
  client.send({ cmd: 'pubrel', messageId: 1 })
  assert.equal((await client.expect('pubcomp')).messageId, 1)
  client.publish({ topic: 'rm', qos: 2, messageId: 3, payload: 'c' })
  assert.equal((await client.expect('pubrec')).messageId, 3)
  client.publish({ topic: 'rm', qos: 2, messageId: 4, payload: 'd' })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x93)
})

// ---------------------------------------------------------------------------------------------
// Point 6: Maximum Packet Size both ways

test('a message larger than the client Maximum Packet Size is not sent to it; smaller ones are (QoS 0 and 1)', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(
    broker.port,
    { properties: { maximumPacketSize: 256, receiveMaximum: 1 } },
    t,
  )
  await sub.subscribe(1, [{ topic: 'size/#', qos: 1 }])
  const { client: big } = await Raw5.connect(broker.port, {}, t)
  await big.subscribe(1, [{ topic: 'size/#', qos: 0 }])
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('size/0', 'small-0', { qos: 0 })
  await pub.publishAsync('size/0', Buffer.alloc(1000, 0x61), { qos: 0 })
  await pub.publishAsync('size/1', Buffer.alloc(1000, 0x62), { qos: 1 })
  // With receiveMaximum 1, a dropped QoS 1 message must not hold the only slot.
  await pub.publishAsync('size/1', 'small-1', { qos: 1 })
  const got = publishes(await sub.pingBarrier())
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['small-0', 'small-1'],
  )
  for (const p of got) assert.ok(wireSize(p) <= 256)
  // Another client without a limit got everything.
  const all = publishes([...(await big.pingBarrier())])
  assert.equal(all.length, 4)
})

test('a retained message larger than the client Maximum Packet Size is not sent on subscribe', async (t) => {
  const broker = await startTestBroker(t)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('rsize/big', Buffer.alloc(600, 0x62), { qos: 1, retain: true })
  await pub.publishAsync('rsize/small', 'small', { qos: 1, retain: true })
  const { client: sub } = await Raw5.connect(broker.port, { properties: { maximumPacketSize: 200 } }, t)
  await sub.subscribe(1, [{ topic: 'rsize/#', qos: 1 }])
  const got = publishes(await sub.pingBarrier())
  assert.deepEqual(
    got.map((p) => p.topic),
    ['rsize/small'],
  )
})

test('MQTT.js with maximumPacketSize: oversize messages are skipped, later ones arrive', async (t) => {
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, { properties: { maximumPacketSize: 300 } }, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('jsize', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('jsize', Buffer.alloc(2000, 0x61), { qos: 1 })
  await pub.publishAsync('jsize', 'after', { qos: 1 })
  await inbox.waitFor((m) => m.payload.toString() === 'after', 'the small message')
  assert.equal(inbox.messages.length, 1)
})

test('a reason string is left out of PUBACK when it would exceed the client Maximum Packet Size', async (t) => {
  const broker = await startTestBroker(t)
  const max = 30
  const { client, connack } = await Raw5.connect(broker.port, { properties: { maximumPacketSize: max } }, t)
  assert.ok(wireSize(connack) <= max, `CONNACK of ${wireSize(connack)} bytes within ${max}`)
  client.publish({
    topic: 't',
    qos: 1,
    messageId: 1,
    payload: INVALID_UTF8,
    properties: { payloadFormatIndicator: true },
  })
  const puback = await client.expect('puback')
  assert.equal(puback.reasonCode, 0x99)
  assert.ok(
    wireSize(puback) <= max,
    `[MQTT-3.4.2-2] PUBACK of ${wireSize(puback)} bytes exceeds the client maximum ${max}`,
  )
})

test('a reason string is left out of a server DISCONNECT when it would exceed the client Maximum Packet Size', async (t) => {
  const broker = await startTestBroker(t)
  const max = 30
  const { client } = await Raw5.connect(broker.port, { properties: { maximumPacketSize: max } }, t)
  client.publish({ topic: 't', payload: 'x', properties: { topicAlias: 0 } })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x94)
  assert.ok(
    wireSize(d) <= max,
    `[MQTT-3.14.2-3] DISCONNECT of ${wireSize(d)} bytes exceeds the client maximum ${max}`,
  )
})

test('an oversize incoming packet → DISCONNECT 0x95; other clients unaffected', async (t) => {
  const broker = await startTestBroker(t, { maxPacketSize: 1000 })
  const { client: other } = await Raw5.connect(broker.port, {}, t)
  await other.subscribe(1, [{ topic: 'big', qos: 0 }])
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.publish({ topic: 'big', payload: Buffer.alloc(1200, 0x61) })
  const d = await client.expectDisconnect()
  assert.equal(d.reasonCode, 0x95)
  assert.deepEqual(await other.pingBarrier(), [])
})

test('a PUBREC with an error reason ends the QoS 2 exchange and frees the Receive Maximum slot', async (t) => {
  const broker = await startTestBroker(t)
  const { client: sub } = await Raw5.connect(broker.port, { properties: { receiveMaximum: 1 } }, t)
  await sub.subscribe(1, [{ topic: 'recerr', qos: 2 }])
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('recerr', '1', { qos: 2 })
  await pub.publishAsync('recerr', '2', { qos: 2 })
  const [one] = publishes(await sub.pingBarrier())
  assert.equal(one?.payload.toString(), '1')
  sub.send({ cmd: 'pubrec', messageId: one.messageId, reasonCode: 0x80 })
  const after = await sub.pingBarrier()
  assert.deepEqual(
    after.map((p) => (p.cmd === 'publish' ? `publish:${p.payload.toString()}` : p.cmd)),
    ['publish:2'],
    'no PUBREL for a failed PUBREC; the next message takes the slot',
  )
})

test('Receive Maximum on a resumed session: unacknowledged messages are re-sent only up to the new Receive Maximum', async (t) => {
  const broker = await startTestBroker(t)
  const id = `rm-resume-${uid()}`
  const spec = { clientId: id, clean: false }
  const first = await Raw5.connect(
    broker.port,
    { ...spec, properties: { sessionExpiryInterval: 60, receiveMaximum: 5 } },
    t,
  )
  await first.client.subscribe(1, [{ topic: 'rmresume', qos: 1 }])
  const pub = await mqtt5(broker.port, {}, t)
  for (let i = 1; i <= 5; i++) await pub.publishAsync('rmresume', String(i), { qos: 1 })
  assert.equal(publishes(await first.client.pingBarrier()).length, 5, 'five in flight, none acknowledged')
  first.client.destroy()
  await first.client.untilClosed()
  const second = await Raw5.connect(
    broker.port,
    { ...spec, properties: { sessionExpiryInterval: 60, receiveMaximum: 2 } },
    t,
  )
  assert.equal(second.connack.sessionPresent, true)
  const resent = publishes(await second.client.pingBarrier())
  assert.ok(
    resent.length <= 2,
    `[MQTT-3.3.4-9] at most Receive Maximum (2) unacknowledged PUBLISH packets; got ${resent.length}: ${resent.map((p) => p.payload.toString())}`,
  )
  assert.ok(resent.length > 0, 'unacknowledged messages are re-sent')
  assert.ok(resent.every((p) => p.dup))
})

test('a resumed session whose in-flight message is now too large for the client does not stall the window', async (t) => {
  const broker = await startTestBroker(t)
  const id = `mps-resume-${uid()}`
  const spec = { clientId: id, clean: false }
  const first = await Raw5.connect(
    broker.port,
    { ...spec, properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } },
    t,
  )
  await first.client.subscribe(1, [{ topic: 'mpsresume', qos: 1 }])
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('mpsresume', Buffer.alloc(1000, 0x61), { qos: 1 })
  const [big] = publishes(await first.client.pingBarrier())
  assert.equal(big?.payload.length, 1000)
  first.client.destroy()
  await first.client.untilClosed()
  const second = await Raw5.connect(
    broker.port,
    { ...spec, properties: { sessionExpiryInterval: 60, receiveMaximum: 1, maximumPacketSize: 200 } },
    t,
  )
  assert.equal(second.connack.sessionPresent, true)
  await pub.publishAsync('mpsresume', 'small', { qos: 1 })
  const got = publishes(await second.client.pingBarrier())
  for (const p of got) assert.ok(wireSize(p) <= 200, 'nothing above the new Maximum Packet Size')
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['small'],
    'the too-large in-flight message is dropped, not left holding the only slot',
  )
})

test('a retained message published through a topic alias is stored and delivered under its topic', async (t) => {
  const broker = await startTestBroker(t)
  const { client: pub } = await Raw5.connect(broker.port, {}, t)
  pub.publish({ topic: 'aliased/retained', payload: 'first', properties: { topicAlias: 1 } })
  pub.publish({ topic: '', payload: 'second', retain: true, properties: { topicAlias: 1 } })
  await pub.pingBarrier()
  const { client: sub } = await Raw5.connect(broker.port, {}, t)
  await sub.subscribe(1, [{ topic: 'aliased/#', qos: 0 }])
  const got = publishes(await sub.pingBarrier())
  assert.deepEqual(
    got.map((p) => [p.topic, p.payload.toString(), p.retain]),
    [['aliased/retained', 'second', true]],
  )
})

test('MQTT 5 and 3.1.1 side by side: a v5 message with properties reaches a 3.1.1 subscriber as a plain PUBLISH', async (t) => {
  const broker = await startTestBroker(t)
  const old = await mqtt5(broker.port, { protocolVersion: 4 }, t)
  const oldInbox = new Inbox5(old)
  await old.subscribeAsync('mixed/#', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('mixed/a', 'payload-bytes', {
    qos: 1,
    properties: { userProperties: { k: 'v' }, contentType: 'text/plain', messageExpiryInterval: 60 },
  })
  const m = await oldInbox.waitFor((x) => x.topic === 'mixed/a', 'the message at the 3.1.1 client')
  assert.equal(m.payload.toString(), 'payload-bytes')
  assert.equal(m.packet.properties, undefined)
})

test('an empty topic without a topic alias → DISCONNECT with an error reason', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await Raw5.connect(broker.port, {}, t)
  client.publish({ topic: '', payload: 'x' })
  const d = await client.expectDisconnect()
  assert.ok(d.reasonCode === 0x82 || d.reasonCode === 0x90, `reason ${d.reasonCode}`)
})
