// Issue 3, point 10: malformed input closes that connection only, is logged at warn with the
// reason, and loses nothing: other clients keep exchanging messages, retained and queued data
// survive.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClientInfo } from '../src/broker/types.ts'
import { defined } from './defined.ts'
import {
  connect,
  decodePublish,
  Inbox,
  LogCapture,
  mqttConnect,
  PT,
  packet,
  puback,
  publish,
  RawClient,
  recordText,
  startTestBroker,
  str,
  subscribe,
  until,
  WARN,
  waitFor,
} from './helpers.ts'

interface BadCase {
  name: string
  /** Sent after a valid CONNECT/CONNACK unless `beforeConnect`. */
  bytes: Buffer
  beforeConnect?: boolean
  /** The reason the warn record must mention. */
  reason: RegExp
  maxPacketSize?: number
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])

const BAD_CASES: BadCase[] = [
  {
    name: 'remaining length with a 5th continuation byte',
    bytes: Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    reason: /length/i,
  },
  {
    name: 'SUBSCRIBE with reserved flag bits 0000 (must be 0010)',
    bytes: packet(0x80, u16(1), str('a'), Buffer.from([0])),
    reason: /flag|reserved|header/i,
  },
  {
    name: 'PUBREL with reserved flag bits 0000 (must be 0010)',
    bytes: packet(0x60, u16(1)),
    reason: /flag|reserved|header/i,
  },
  {
    name: 'PINGREQ with a flag bit set',
    bytes: Buffer.from([0xc1, 0x00]),
    reason: /flag|reserved|header/i,
  },
  {
    name: 'PUBLISH with QoS 3',
    bytes: packet(0x36, str('a'), u16(1), Buffer.from('x')),
    reason: /qos|flag|reserved/i,
  },
  {
    name: 'CONNECT with the reserved connect-flags bit set',
    bytes: connect({ clientId: 'reserved-bit', extraFlags: 0x01 }),
    beforeConnect: true,
    reason: /flag|reserved/i,
  },
  {
    name: 'unknown packet type 0',
    bytes: Buffer.from([0x00, 0x00]),
    reason: /type|reserved|unknown|invalid/i,
  },
  {
    name: 'unknown packet type 15',
    bytes: Buffer.from([0xf0, 0x00]),
    reason: /type|reserved|unknown|auth|invalid/i,
  },
  {
    name: 'a second CONNECT',
    bytes: connect({ clientId: 'offender' }),
    reason: /connect/i,
  },
  {
    name: 'PINGREQ before CONNECT',
    bytes: Buffer.from([0xc0, 0x00]),
    beforeConnect: true,
    reason: /connect/i,
  },
  {
    name: 'PUBLISH before CONNECT',
    bytes: publish({ topic: 'a', payload: 'x' }),
    beforeConnect: true,
    reason: /connect/i,
  },
  {
    name: 'invalid UTF-8 in a PUBLISH topic',
    bytes: publish({ topic: Buffer.from([0x61, 0x2f, 0xff, 0xfe]), payload: 'x' }),
    reason: /utf|topic|invalid|string/i,
  },
  {
    name: 'U+0000 in a PUBLISH topic',
    bytes: publish({ topic: Buffer.from([0x61, 0x00, 0x62]), payload: 'x' }),
    reason: /utf|topic|invalid|null|string/i,
  },
  {
    name: 'wildcard + in a PUBLISH topic',
    bytes: publish({ topic: 'a/+/b', payload: 'x' }),
    reason: /wildcard|topic/i,
  },
  {
    name: 'wildcard # in a PUBLISH topic',
    bytes: publish({ topic: 'a/#', payload: 'x', qos: 1, packetId: 3 }),
    reason: /wildcard|topic/i,
  },
  {
    name: 'empty PUBLISH topic',
    bytes: publish({ topic: '', payload: 'x' }),
    reason: /topic|empty|invalid/i,
  },
  {
    name: 'SUBSCRIBE without any filter',
    bytes: packet(0x82, u16(1)),
    reason: /subscribe|filter|empty|payload|invalid/i,
  },
  {
    name: 'UNSUBSCRIBE without any filter',
    bytes: packet(0xa2, u16(1)),
    reason: /unsubscribe|filter|empty|payload|invalid/i,
  },
  {
    name: 'CONNECT with the password flag but no user name flag',
    bytes: packet(0x10, str('MQTT'), Buffer.from([4, 0x42]), u16(60), str('pwonly'), str('pw')),
    beforeConnect: true,
    reason: /password|user|flag/i,
  },
  {
    name: 'CONNECT with will QoS set but no will flag',
    bytes: connect({ clientId: 'willqos', extraFlags: 0x08 }),
    beforeConnect: true,
    reason: /will|flag|qos/i,
  },
  {
    name: 'CONNECT with will QoS 3',
    bytes: connect({ clientId: 'willqos3', will: { topic: 'w', payload: 'x' }, extraFlags: 0x18 }),
    beforeConnect: true,
    reason: /will|flag|qos/i,
  },
  {
    name: 'CONNECT with a wildcard in the will topic',
    bytes: connect({ clientId: 'willwild', will: { topic: 'w/#', payload: 'x' } }),
    beforeConnect: true,
    reason: /will|topic|wildcard/i,
  },
  {
    name: 'CONNECT with invalid UTF-8 in the client id',
    bytes: packet(0x10, str('MQTT'), Buffer.from([4, 0x02]), u16(60), str(Buffer.from([0x61, 0xc3]))),
    beforeConnect: true,
    reason: /utf|client|invalid|string/i,
  },
  {
    name: 'CONNECT with will retain set but no will flag',
    bytes: connect({ clientId: 'willretain', extraFlags: 0x20 }),
    beforeConnect: true,
    reason: /will|retain|flag/i,
  },
  {
    name: 'CONNECT whose client id runs past the end of the packet',
    bytes: packet(0x10, str('MQTT'), Buffer.from([4, 0x02]), u16(60), u16(40), Buffer.from('short')),
    beforeConnect: true,
    reason: /short|client id/i,
  },
  {
    name: 'CONNECT with invalid UTF-8 in the user name',
    bytes: packet(
      0x10,
      str('MQTT'),
      Buffer.from([4, 0x82]),
      u16(60),
      str('baduser'),
      str(Buffer.from([0xff])),
    ),
    beforeConnect: true,
    reason: /utf|user/i,
  },
  {
    name: 'CONNECT whose will message is cut off',
    bytes: packet(
      0x10,
      str('MQTT'),
      Buffer.from([4, 0x06]),
      u16(60),
      str('willcut'),
      str('w'),
      u16(10),
      Buffer.from('x'),
    ),
    beforeConnect: true,
    reason: /short|will/i,
  },
  {
    name: 'SUBSCRIBE with invalid UTF-8 in a filter',
    bytes: subscribe(1, [{ topic: Buffer.from([0x61, 0xed, 0xa0, 0x80]), qos: 0 }]),
    reason: /utf|filter|topic|invalid|string/i,
  },
  {
    name: 'SUBSCRIBE with requested QoS 3',
    bytes: subscribe(1, [{ topic: 'a', qos: 3 }]),
    reason: /qos|invalid|reserved/i,
  },
  {
    name: 'SUBSCRIBE with reserved bits in the requested QoS byte',
    bytes: packet(0x82, u16(1), str('a'), Buffer.from([0x04])),
    reason: /flag bits|reserved|invalid/i,
  },
  {
    name: 'SUBSCRIBE whose filter runs past the packet',
    bytes: packet(0x82, u16(1), u16(10), Buffer.from('ab')),
    reason: /topic|parse|malformed/i,
  },
  {
    name: 'SUBSCRIBE with a filter but no requested QoS byte',
    bytes: packet(0x82, u16(1), str('a/b')),
    reason: /malformed|payload|qos/i,
  },
  {
    name: 'oversize packet (maxPacketSize 256)',
    bytes: publish({ topic: 'a', payload: Buffer.alloc(300) }),
    reason: /size|large|big|limit|max/i,
    maxPacketSize: 256,
  },
  {
    name: 'remaining length shorter than the topic it announces',
    bytes: Buffer.from([0x30, 0x03, 0x00, 0x10, 0x61]),
    reason: /length|short|malformed|truncated|invalid|topic/i,
  },
  {
    name: 'PUBACK with a remaining length of 3',
    bytes: Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]),
    reason: /length|malformed|invalid|puback/i,
  },
]

for (const bad of BAD_CASES) {
  test(`bad input: ${bad.name} → connection closed, warn logged, others unaffected`, async (t) => {
    const log = new LogCapture()
    const broker = await startTestBroker(t, {
      logger: log.logger,
      ...(bad.maxPacketSize ? { maxPacketSize: bad.maxPacketSize } : {}),
    })
    const bystander = await RawClient.connect(broker.port, { clientId: 'bystander' }, t)
    await bystander.client.send(subscribe(1, [{ topic: 'ok/#', qos: 1 }]))
    await bystander.client.expect(PT.SUBACK)

    const bad1 = await RawClient.open(broker.port, t)
    if (!bad.beforeConnect) {
      await bad1.send(connect({ clientId: 'offender' }))
      assert.equal((await bad1.expect(PT.CONNACK)).body[1], 0)
    }
    await bad1.send(bad.bytes)
    await bad1.waitClosed()
    const answers = bad1.drain().filter((p) => p.type !== PT.CONNACK && p.type !== PT.DISCONNECT)
    assert.deepEqual(
      answers.map((p) => p.raw.toString('hex')),
      [],
      'no normal answer to the bad packet',
    )
    const rec = await log.waitFor(
      (r) => r.level === WARN && bad.reason.test(recordText(r)),
      `at warn matching ${bad.reason}`,
    )
    if (!bad.beforeConnect) assert.equal(rec.clientId, 'offender', 'the warn record names the client')

    // The other connection was not touched.
    assert.equal(bystander.client.closed, false)
    await broker.publish({ topic: 'ok/after', payload: 'fine', qos: 1 })
    const p = await bystander.client.nextPublish()
    assert.equal(p.payload.toString(), 'fine')
    await bystander.client.send(puback(defined(p.packetId, 'p.packetId')))
    assert.deepEqual(await bystander.client.pingBarrier(), [])
  })
}

test('a bad remaining length arriving one byte per write is detected at the 5th byte', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { logger: log.logger })
  const { client } = await RawClient.connect(broker.port, { clientId: 'slow-bad' }, t)
  await client.sendBytewise(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80]))
  await client.waitClosed()
  await log.waitFor((r) => r.level === WARN && /length/i.test(recordText(r)), 'at warn about the length')
})

test('a client sending a valid CONNECT and then nothing is not disturbed by malformed neighbours', async (t) => {
  // Many bad connections opened at once, each with a different fault.
  const log = new LogCapture()
  const broker = await startTestBroker(t, { logger: log.logger })
  const quiet = await RawClient.connect(broker.port, { clientId: 'quiet' }, t)
  const bads = await Promise.all(
    BAD_CASES.filter((b) => !b.maxPacketSize).map(async (b) => {
      const c = await RawClient.open(broker.port, t)
      if (!b.beforeConnect) await c.send(connect({ clientId: `bad-${Math.random()}` }))
      await c.send(b.bytes)
      // Each case's own test checks that the broker closes; here only the neighbour matters.
      c.socket.end()
      return c
    }),
  )
  await Promise.all(bads.map((c) => c.waitClosed()))
  assert.deepEqual(await quiet.client.pingBarrier(), [])
})

test('garbage on one socket while another client keeps exchanging messages; retained and queued data intact', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { logger: log.logger })
  let uncaught: unknown
  const onUncaught = (err: unknown): void => {
    uncaught = err
  }
  process.on('uncaughtException', onUncaught)
  t.after(() => process.off('uncaughtException', onUncaught))

  // State that must survive: a retained message and a persistent session with queued messages.
  await broker.publish({ topic: 'keep/retained', payload: 'retained-value', qos: 1, retain: true })
  const offline = await RawClient.connect(broker.port, { clientId: 'offline-sub', clean: false }, t)
  await offline.client.send(subscribe(1, [{ topic: 'queue/#', qos: 1 }]))
  await offline.client.expect(PT.SUBACK)
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (i) => i.clientId === 'offline-sub',
  )
  offline.client.destroy()
  await gone
  for (let i = 0; i < 5; i++) await broker.publish({ topic: 'queue/x', payload: `q${i}`, qos: 1 })

  // Two MQTT.js clients ping-pong while the garbage flows.
  const ping = await mqttConnect(broker.port, { clientId: 'ping' }, t)
  const pong = await mqttConnect(broker.port, { clientId: 'pong' }, t)
  const pingInbox = new Inbox(ping)
  await ping.subscribeAsync('pp/pong', { qos: 1 })
  await pong.subscribeAsync('pp/ping', { qos: 1 })
  pong.on('message', (_topic, payload) => {
    pong.publish('pp/pong', payload, { qos: 1 })
  })
  let stop = false
  let rounds = 0
  const exchange = (async () => {
    while (!stop) {
      const id = `r${rounds}`
      await ping.publishAsync('pp/ping', id, { qos: 1 })
      await pingInbox.waitFor((m) => m.payload === id, `pong ${id}`)
      rounds++
    }
  })()

  // The garbage: every bad case, then pseudo-random bytes after a valid CONNECT and without one.
  let seed = 12345
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed
  }
  let garbageSockets = 0
  const roundsAtStart = rounds
  for (const bad of BAD_CASES.filter((b) => !b.maxPacketSize)) {
    const c = await RawClient.open(broker.port, t)
    if (!bad.beforeConnect) await c.send(connect({ clientId: `garbage-${garbageSockets}` }))
    await c.send(bad.bytes)
    c.socket.end()
    await c.waitClosed()
    garbageSockets++
  }
  for (let i = 0; i < 40; i++) {
    const c = await RawClient.open(broker.port, t)
    if (i % 2 === 0) await c.send(connect({ clientId: `fuzz-${i}` }))
    const junk = Buffer.alloc(64 + (rand() % 512))
    for (let j = 0; j < junk.length; j++) junk[j] = rand() & 0xff
    await c.send(junk)
    // Random bytes may happen to form a valid prefix; end our side so every socket finishes.
    c.socket.end()
    await c.waitClosed()
    garbageSockets++
  }
  // The exchange kept going during the garbage and still works after it.
  const target = rounds + 3
  await until(() => rounds >= target, 'three more ping-pong rounds')
  stop = true
  await exchange
  assert.ok(rounds > roundsAtStart, 'messages were exchanged while garbage was being sent')
  assert.ok(rounds >= target, `ping-pong still running after the garbage (${rounds} rounds)`)
  assert.ok(garbageSockets > 50)
  assert.equal(uncaught, undefined, 'nothing escaped to the event loop')
  assert.ok(
    log.records.filter((r) => r.level === WARN).length >= BAD_CASES.length - 1,
    'the bad connections were logged at warn',
  )

  // Retained data intact.
  const late = await mqttConnect(broker.port, { clientId: 'late' }, t)
  const lateInbox = new Inbox(late)
  await late.subscribeAsync('keep/#', { qos: 1 })
  const r = await lateInbox.waitFor((m) => m.topic === 'keep/retained', 'the retained message')
  assert.deepEqual([r.payload, r.retain], ['retained-value', true])

  // Queued data intact: the persistent session gets its five messages, in order.
  const back = await RawClient.connect(broker.port, { clientId: 'offline-sub', clean: false }, t)
  assert.equal(back.connack.sessionPresent, true)
  const got: string[] = []
  while (got.length < 5) {
    const p = decodePublish(await back.client.expect(PT.PUBLISH))
    got.push(p.payload.toString())
    await back.client.send(puback(defined(p.packetId, 'p.packetId')))
  }
  assert.deepEqual(got, ['q0', 'q1', 'q2', 'q3', 'q4'])
  assert.deepEqual(await back.client.pingBarrier(), [])
})
