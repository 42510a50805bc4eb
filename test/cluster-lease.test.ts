// The "one node runs the scripts" lease between nodes on a real nats-server: one holder at a
// time, failover on a clean stop and when the holder's connection dies (the old holder gives
// up before the new one starts). Lease times are short; the tests wait for events.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterNames } from '../src/cluster/names.ts'
import { NodeLease } from '../src/cluster/node-lease.ts'
import { type Cleanup, waitFor, withTimeout } from './helpers.ts'
import { natsConnection, natsServerMissing, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('leasetest')
const LEASE_MS = 900

/** Every acquired/lost, in order, so a test can check that holders never overlap. */
class Journal {
  readonly events: string[] = []
  readonly holding = new Set<string>()
  watch(nodeId: string, lease: NodeLease): void {
    lease.on('acquired', () => {
      assert.equal(this.holding.size, 0, `${nodeId} acquired while ${[...this.holding].join()} held`)
      this.holding.add(nodeId)
      this.events.push(`${nodeId}+`)
    })
    lease.on('lost', (reason) => {
      this.holding.delete(nodeId)
      this.events.push(`${nodeId}-${reason}`)
    })
  }
}

async function leaseNode(t: Cleanup, url: string, nodeId: string, journal: Journal) {
  const conn = await natsConnection(t, url, nodeId)
  const lease = await NodeLease.start(conn, names, { nodeId, leaseMs: LEASE_MS })
  t.after(() => lease.stop())
  journal.watch(nodeId, lease)
  return { conn, lease }
}

test('one holder; a clean stop hands the lease over', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const j = new Journal()
  const a = await leaseNode(t, server.url, 'a', j)
  await waitFor(a.lease, 'acquired')
  const b = await leaseNode(t, server.url, 'b', j)
  assert.equal(await b.lease.holder(), 'a')
  // b keeps competing for several lease times while a renews: it must not get the lease.
  const renewals = waitFor(a.lease, 'lost', LEASE_MS * 2).then(
    () => assert.fail('a lost the lease while renewing'),
    () => undefined,
  )
  await renewals
  assert.equal(b.lease.held, false)
  assert.equal(await b.lease.holder(), 'a')

  const bGets = waitFor(b.lease, 'acquired')
  await a.lease.stop()
  await bGets
  assert.deepEqual(j.events, ['a+', 'a-stopped', 'b+'])
  assert.equal(await a.lease.holder(), 'b')
})

test('failover when the holder’s connection dies: it gives up before the other takes over', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const j = new Journal()
  const a = await leaseNode(t, server.url, 'a', j)
  await waitFor(a.lease, 'acquired')
  const b = await leaseNode(t, server.url, 'b', j)
  const aLost = waitFor<[string]>(a.lease, 'lost')
  const bGets = waitFor(b.lease, 'acquired')
  // No clean stop: the connection just goes, so a's renewals fail and its key stays behind.
  await a.conn.close()
  const [reason] = await aLost
  assert.equal(reason, 'renewal overdue')
  await bGets
  assert.deepEqual(j.events, ['a+', 'a-renewal overdue', 'b+'])
  assert.equal(await b.lease.holder(), 'b')
})

test('three contenders after the holder dies: exactly one takes over', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const j = new Journal()
  const a = await leaseNode(t, server.url, 'a', j)
  await waitFor(a.lease, 'acquired')
  const others = await Promise.all(['b', 'c', 'd'].map((id) => leaseNode(t, server.url, id, j)))
  // One listener per contender, all removed by the first `acquired` (no guard timers left running).
  const anyGets = withTimeout(
    new Promise<void>((resolve) => {
      const done = (): void => {
        for (const o of others) o.lease.off('acquired', done)
        resolve()
      }
      for (const o of others) o.lease.on('acquired', done)
    }),
    'a contender to take over',
  )
  await a.conn.close()
  await anyGets
  const holders = others.filter((o) => o.lease.held)
  assert.equal(holders.length, 1)
  // The Journal asserted on every `acquired` that nobody else held the lease.
  assert.equal(j.holding.size, 1)
})

test('lease options are checked', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const conn = await natsConnection(t, server.url)
  await assert.rejects(NodeLease.start(conn, names, { nodeId: 'x', leaseMs: 10 }), RangeError)
  await assert.rejects(NodeLease.start(conn, names, { nodeId: 'x', name: 'a.b' }), RangeError)
})
