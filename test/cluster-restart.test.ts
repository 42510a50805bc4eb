// The NATS connection across a nats-server restart (killed, then started on the same port and
// store): it reports the outage and the reconnect, and the client lock, the node lease and the
// retained store all work afterwards with the state from before. Also the backoff curve.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClientLock, type TakeoverNotice } from '../src/cluster/client-lock.ts'
import { clusterNames } from '../src/cluster/names.ts'
import { NatsConnection, reconnectDelay } from '../src/cluster/nats-connection.ts'
import { NodeLease } from '../src/cluster/node-lease.ts'
import { RetainedStore } from '../src/cluster/retained-store.ts'
import { type Cleanup, until, waitFor } from './helpers.ts'
import { natsServerMissing, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('restarttest')

async function clusterNode(t: Cleanup, url: string, nodeId: string) {
  const conn = new NatsConnection({
    servers: [url],
    name: nodeId,
    reconnectDelayMs: 50,
    maxReconnectDelayMs: 400,
  })
  const connected = waitFor<[string]>(conn, 'connected')
  await conn.connect()
  assert.match((await connected)[0], /127\.0\.0\.1/)
  t.after(() => conn.close())
  const notices: TakeoverNotice[] = []
  const lock = await ClientLock.open(conn, names, { nodeId, onTakeover: (n) => void notices.push(n) })
  const lease = await NodeLease.start(conn, names, { nodeId, leaseMs: 1500 })
  t.after(() => lease.stop())
  const retained = await RetainedStore.open(conn, names)
  return { conn, lock, lease, retained, notices }
}

test('after a server restart: reconnected, and lock, lease and retained carry on', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await clusterNode(t, server.url, 'node-a')
  // clusterNode awaited more after starting the lease, so `acquired` may have fired already.
  if (!a.lease.held) await waitFor(a.lease, 'acquired')
  const b = await clusterNode(t, server.url, 'node-b')
  let overlap = false
  for (const n of [a, b]) n.lease.on('acquired', () => (overlap ||= a.lease.held && b.lease.held))

  const held = await a.lock.acquire('client-1')
  await a.retained.put({ topic: 'keep/me', payload: Buffer.from('kept'), qos: 1 })

  const disconnected = Promise.all([waitFor(a.conn, 'disconnected'), waitFor(b.conn, 'disconnected')])
  const reconnected = Promise.all([waitFor(a.conn, 'reconnected'), waitFor(b.conn, 'reconnected')])
  await server.stop('SIGKILL')
  await disconnected
  assert.equal(a.conn.state, 'disconnected')
  await server.start()
  await reconnected
  assert.equal(a.conn.state, 'connected')
  assert.equal(b.conn.state, 'connected')

  // Retained: what was stored before is still there, and writes work.
  const kept = await b.retained.get('keep/me')
  assert.equal(kept && Buffer.from(kept.payload).toString(), 'kept')
  await b.retained.put({ topic: 'keep/new', payload: Buffer.from('new'), qos: 0 })
  assert.deepEqual((await a.retained.match('keep/#')).map((m) => m.topic).sort(), ['keep/me', 'keep/new'])

  // Lock: the holder from before the restart is still recorded, and its takeover subscription
  // was restored on reconnect, so it hears the takeover.
  const r = await b.lock.acquire('client-1')
  assert.deepEqual(r.previous, { nodeId: 'node-a', revision: held.revision, alive: true, acknowledged: true })
  assert.deepEqual(a.notices, [{ clientId: 'client-1', revision: held.revision, by: 'node-b' }])

  // Lease: one of the two holds it again (the outage may or may not have cost a its lease).
  await until(() => a.lease.held !== b.lease.held, 'one lease holder after the restart')
  const holder = a.lease.held ? 'node-a' : 'node-b'
  assert.equal(await b.lease.holder(), holder)
  assert.equal(overlap, false)
})

test('an outage longer than the lease: the holder gives up, and after the restart one node holds it again', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await clusterNode(t, server.url, 'node-a')
  if (!a.lease.held) await waitFor(a.lease, 'acquired')
  const b = await clusterNode(t, server.url, 'node-b')
  const events: string[] = []
  a.lease.on('lost', (r) => events.push(`a-${r}`))
  for (const [id, n] of [
    ['a', a],
    ['b', b],
  ] as const)
    n.lease.on('acquired', () => events.push(`${id}+`))

  const lost = waitFor<[string]>(a.lease, 'lost')
  await server.stop('SIGKILL')
  // The server stays away until the holder has given up (it cannot renew).
  assert.deepEqual(await lost, ['renewal overdue'])
  assert.equal(b.lease.held, false)
  const reconnected = Promise.all([waitFor(a.conn, 'reconnected'), waitFor(b.conn, 'reconnected')])
  await server.start()
  await reconnected
  await until(() => a.lease.held !== b.lease.held, 'one lease holder after the restart')
  assert.equal(events[0], 'a-renewal overdue')
  assert.equal(events.length, 2, events.join())
  assert.equal(await a.lease.holder(), a.lease.held ? 'node-a' : 'node-b')
})

test('a clean close: closed event, state, and close() twice', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const conn = new NatsConnection({ servers: [server.url] })
  await conn.connect()
  const closed = waitFor<[Error | undefined]>(conn, 'closed')
  await conn.close()
  assert.deepEqual(await closed, [undefined])
  assert.equal(conn.state, 'closed')
  await conn.close()
  await assert.rejects(conn.connect(), /state closed/)
})

test('no server at start: connect() rejects unless told to wait', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  await server.stop('SIGKILL')
  const conn = new NatsConnection({ servers: [server.url] })
  await assert.rejects(conn.connect())
  assert.equal(conn.state, 'closed')

  const waiting = new NatsConnection({
    servers: [server.url],
    waitOnFirstConnect: true,
    reconnectDelayMs: 50,
  })
  t.after(() => waiting.close())
  const connecting = waiting.connect()
  await server.start()
  await connecting
  assert.equal(waiting.state, 'connected')
})

test('reconnect delay: starts at the initial delay, doubles the gap, stops at the cap', () => {
  assert.equal(reconnectDelay(0, 250, 10_000, 0), 250)
  assert.equal(reconnectDelay(2_000, 250, 10_000, 0), 1_000)
  assert.equal(reconnectDelay(60_000, 250, 10_000, 0), 10_000)
  assert.equal(reconnectDelay(60_000, 250, 10_000, 1), 12_000)
  // Simulate the client's dial loop: it dials once the wait since its last dial has passed.
  let last = 0
  const dials: number[] = []
  for (let now = 0; now <= 20_000; now += 10) {
    if (now === 0 || now - last >= reconnectDelay(now, 250, 10_000, 0)) {
      dials.push(now)
      last = now
    }
  }
  const gaps = dials.slice(1).map((d, i) => d - (dials[i] ?? 0))
  assert.deepEqual(gaps.slice(0, 3), [250, 250, 500])
  assert.ok(
    gaps.every((g, i) => i === 0 || g >= (gaps[i - 1] ?? 0)),
    `gaps grow: ${gaps.join()}`,
  )
  assert.ok(Math.max(...gaps) <= 10_000)
})
