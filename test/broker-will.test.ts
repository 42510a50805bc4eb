// Issue 3, point 8: the will message. Published on keepalive expiry (1.5 × keepalive), on socket
// error or abrupt close, on session takeover; not after DISCONNECT.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClientInfo } from '../src/broker/types.ts'
import { type FakeClock, installFakeClock } from './fake-clock.ts'
import {
  connect,
  DISCONNECT,
  Inbox,
  markerBarrier,
  mqttConnect,
  PINGREQ,
  PT,
  publish,
  RawClient,
  startTestBroker,
  waitFor,
} from './helpers.ts'

/** Runs the broker's close-grace sweep to its end, so no socket it closed waits on the fake clock. */
async function settleClosing(clock: FakeClock): Promise<void> {
  await clock.advance(2500)
}

async function watcher(port: number, t: Parameters<typeof mqttConnect>[2], filter = 'will/#') {
  const client = await mqttConnect(port, { clientId: `watcher-${Math.random().toString(36).slice(2)}` }, t)
  const inbox = new Inbox(client)
  await client.subscribeAsync(filter, { qos: 2 })
  return { client, inbox }
}

test('will on keepalive expiry: a silent client with keepalive 1 s is closed and its will published', async (t) => {
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client, connack } = await RawClient.connect(
    broker.port,
    { clientId: 'sleepy', keepalive: 1, will: { topic: 'will/sleepy', payload: 'gone', qos: 1 } },
    t,
  )
  assert.equal(connack.returnCode, 0)
  // Silent for less than 1.5 × keepalive: still connected, no will.
  await clock.advance(1400)
  assert.deepEqual(
    await markerBarrier(w.client, w.inbox, 'will/marker'),
    [],
    'no will before 1.5 × keepalive',
  )
  assert.equal(client.closed, false)
  await clock.advance(600)
  const m = await w.inbox.waitFor((x) => x.topic === 'will/sleepy', 'the will')
  assert.equal(m.payload, 'gone')
  assert.equal(m.qos, 1)
  assert.equal(m.retain, false)
  await client.waitClosed()
  await settleClosing(clock)
})

test('keepalive: a client that keeps sending PINGREQ within the interval stays connected', async (t) => {
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'awake', keepalive: 1, will: { topic: 'will/awake', payload: 'gone' } },
    t,
  )
  // Four pings 900 ms apart: 3.6 s in all, well past 1.5 × 1 s without any 1 s gap.
  for (let i = 0; i < 4; i++) {
    await client.send(PINGREQ)
    await client.expect(PT.PINGRESP)
    await clock.advance(900)
  }
  assert.equal(client.closed, false)
  const before = await markerBarrier(w.client, w.inbox, 'will/marker')
  assert.deepEqual(before, [], 'no will')
  // The sweep is live on this clock: silence past 1.5 × keepalive does close it.
  await clock.advance(1000)
  await w.inbox.waitFor((x) => x.topic === 'will/awake', 'the will once the pings stop')
  await settleClosing(clock)
})

test('keepalive 0 disables the timeout', async (t) => {
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'ka0', keepalive: 0 }, t)
  await clock.advance(60_000)
  assert.deepEqual(await client.pingBarrier(), [])
})

test('will on abrupt close (socket destroyed without DISCONNECT)', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'crash', will: { topic: 'will/crash', payload: 'crashed', qos: 0 } },
    t,
  )
  await client.pingBarrier()
  client.destroy()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/crash', 'the will')
  assert.equal(m.payload, 'crashed')
})

test('will on a socket error (connection reset)', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'reset', will: { topic: 'will/reset', payload: 'reset', qos: 2 } },
    t,
  )
  await client.pingBarrier()
  client.socket.resetAndDestroy()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/reset', 'the will')
  assert.equal(m.payload, 'reset')
  assert.equal(m.qos, 2)
})

test('will on session takeover by a new connection with the same client id', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const first = await RawClient.connect(
    broker.port,
    { clientId: 'taken', will: { topic: 'will/taken', payload: 'taken over' } },
    t,
  )
  await RawClient.connect(broker.port, { clientId: 'taken' }, t)
  await first.client.waitClosed()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/taken', 'the will')
  assert.equal(m.payload, 'taken over')
})

test('no will after DISCONNECT', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'polite', will: { topic: 'will/polite', payload: 'should not appear', qos: 1 } },
    t,
  )
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (info) => info.clientId === 'polite',
  )
  await client.send(DISCONNECT)
  await client.waitClosed()
  await gone
  const before = await markerBarrier(w.client, w.inbox, 'will/marker')
  assert.deepEqual(before, [])
})

test('no will after DISCONNECT even when the socket is then reset', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'polite2', will: { topic: 'will/polite2', payload: 'no' } },
    t,
  )
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (i) => i.clientId === 'polite2',
  )
  await client.send(DISCONNECT)
  client.socket.resetAndDestroy()
  await gone
  const before = await markerBarrier(w.client, w.inbox, 'will/marker')
  assert.deepEqual(before, [])
})

test('a retained will is stored as a retained message', async (t) => {
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'lwt', will: { topic: 'tele/lwt/LWT', payload: 'Offline', qos: 1, retain: true } },
    t,
  )
  const gone = waitFor<[ClientInfo, string]>(
    broker,
    'clientDisconnect',
    undefined,
    (i) => i.clientId === 'lwt',
  )
  client.destroy()
  await gone
  const late = await mqttConnect(broker.port, { clientId: 'late' }, t)
  const inbox = new Inbox(late)
  await late.subscribeAsync('tele/+/LWT', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'tele/lwt/LWT', 'the retained will')
  assert.deepEqual([m.payload, m.retain, m.qos], ['Offline', true, 1])
})

test('a will is sent by the MQTT 3.1 (MQIsdp) protocol too', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const c = await RawClient.open(broker.port, t)
  await c.send(
    connect({
      clientId: 'old-will',
      protocolName: 'MQIsdp',
      protocolLevel: 3,
      will: { topic: 'will/old', payload: 'bye' },
    }),
  )
  await c.expect(PT.CONNACK)
  c.destroy()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/old', 'the will')
  assert.equal(m.payload, 'bye')
})

test('keepalive grace is 1.5×: pings 2.5 s apart keep a keepalive-2 s client connected', async (t) => {
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'lazy', keepalive: 2, will: { topic: 'will/lazy', payload: 'gone' } },
    t,
  )
  // 2.5 s is past the keepalive (2 s) but inside the 1.5 × grace (3 s).
  for (let i = 0; i < 2; i++) {
    await clock.advance(2500)
    await client.send(PINGREQ)
    await client.expect(PT.PINGRESP)
  }
  const before = await markerBarrier(w.client, w.inbox, 'will/marker')
  assert.deepEqual(before, [], 'no will')
  // And the grace ends at 1.5 ×: silent for 3.5 s, the client is closed.
  await clock.advance(3500)
  await w.inbox.waitFor((x) => x.topic === 'will/lazy', 'the will past the grace')
  await settleClosing(clock)
})

test('any packet, not only PINGREQ, counts as activity for the keepalive', async (t) => {
  const clock = installFakeClock(t)
  const broker = await startTestBroker(t)
  const { client } = await RawClient.connect(broker.port, { clientId: 'chatty', keepalive: 1 }, t)
  for (let i = 0; i < 4; i++) {
    await client.send(publish({ topic: 'chatty', payload: String(i), qos: 1, packetId: i + 1 }))
    await client.expect(PT.PUBACK)
    await clock.advance(900)
  }
  assert.equal(client.closed, false)
  assert.deepEqual(await client.pingBarrier(), [])
})

test('will when the client half-closes (FIN) in the middle of a packet', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'midway', will: { topic: 'will/midway', payload: 'cut' } },
    t,
  )
  const half = publish({ topic: 'x', payload: 'never completed', qos: 1, packetId: 1 })
  await client.send(half.subarray(0, 6))
  client.socket.end()
  await client.waitClosed()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/midway', 'the will')
  assert.equal(m.payload, 'cut')
})

test('will when the broker closes the connection for a protocol error', async (t) => {
  const broker = await startTestBroker(t)
  const w = await watcher(broker.port, t)
  const { client } = await RawClient.connect(
    broker.port,
    { clientId: 'rude', will: { topic: 'will/rude', payload: 'malformed', qos: 1 } },
    t,
  )
  await client.send(publish({ topic: 'bad/#', payload: 'wildcard in a PUBLISH topic' }))
  await client.waitClosed()
  const m = await w.inbox.waitFor((x) => x.topic === 'will/rude', 'the will')
  assert.equal(m.payload, 'malformed')
})
