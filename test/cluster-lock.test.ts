// The cluster-wide client-id lock between two nodes (two NATS connections) on a real
// nats-server: takeover with its notice, release by revision only, gone holders, races, and
// node presence.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClientLock, clientKey, type TakeoverNotice } from '../src/cluster/client-lock.ts'
import { clusterNames } from '../src/cluster/names.ts'
import { NodePresence } from '../src/cluster/node-presence.ts'
import { WillRegistry } from '../src/cluster/will-registry.ts'
import type { Cleanup } from './helpers.ts'
import { natsConnection, natsServerMissing, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('locktest')

async function node(t: Cleanup, url: string, nodeId: string, notices: TakeoverNotice[], presence = true) {
  const conn = await natsConnection(t, url, nodeId)
  const pres = presence ? await NodePresence.start(conn, names, { nodeId, ttlMs: 60_000 }) : undefined
  if (pres) t.after(() => pres.stop())
  const lock = await ClientLock.open(conn, names, {
    nodeId,
    run: `${nodeId}-run`,
    presence: pres,
    onTakeover: (n) => {
      notices.push(n)
    },
  })
  return { conn, pres, lock }
}

test('takeover between two nodes: the old holder is told, with its revision, before acquire resolves', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const aNotices: TakeoverNotice[] = []
  const bNotices: TakeoverNotice[] = []
  const a = await node(t, server.url, 'node-a', aNotices)
  const b = await node(t, server.url, 'node-b', bNotices)
  const id = 'sensor 1/with.dots*'

  const first = await a.lock.acquire(id)
  assert.equal(first.previous, undefined)
  assert.deepEqual(await b.lock.holder(id), { nodeId: 'node-a', run: 'node-a-run', revision: first.revision })

  const second = await b.lock.acquire(id)
  assert.deepEqual(second.previous, {
    nodeId: 'node-a',
    revision: first.revision,
    alive: true,
    acknowledged: true,
  })
  assert.deepEqual(aNotices, [{ clientId: id, revision: first.revision, by: 'node-b' }])
  assert.deepEqual(bNotices, [])
  assert.deepEqual(await a.lock.holder(id), {
    nodeId: 'node-b',
    run: 'node-b-run',
    revision: second.revision,
  })

  // The old holder's late disconnect must not free the new holder's lock.
  assert.equal(await a.lock.release(id, first.revision), false)
  assert.equal((await a.lock.holder(id))?.nodeId, 'node-b')
  assert.equal(await b.lock.release(id, second.revision), true)
  assert.equal(await a.lock.holder(id), undefined)
  // A released (deleted) key can be created again, with no previous holder.
  assert.equal((await a.lock.acquire(id)).previous, undefined)
})

test('acquire waits for the old holder to finish closing the connection', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const conn = await natsConnection(t, server.url)
  const steps: string[] = []
  const slow = await ClientLock.open(conn, names, {
    nodeId: 'slow',
    onTakeover: async () => {
      steps.push('closing')
      await new Promise((r) => setImmediate(r))
      steps.push('closed')
    },
  })
  t.after(() => slow.close())
  const b = await node(t, server.url, 'fast', [], false)
  await slow.acquire('c')
  const r = await b.lock.acquire('c')
  steps.push('acquired')
  assert.deepEqual(steps, ['closing', 'closed', 'acquired'])
  assert.equal(r.previous?.acknowledged, true)
})

test('a holder that is gone: presence skips the notice; without presence, no responders', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const aNotices: TakeoverNotice[] = []
  const a = await node(t, server.url, 'gone-a', aNotices)
  const b = await node(t, server.url, 'live-b', [])
  const held = await a.lock.acquire('x')
  assert.equal(await b.pres?.isAlive('gone-a'), true)
  assert.deepEqual(await b.pres?.alive(), ['gone-a', 'live-b'])
  await a.pres?.stop()
  await a.conn.close()
  assert.equal(await b.pres?.isAlive('gone-a'), false)
  const r = await b.lock.acquire('x')
  assert.deepEqual(r.previous, {
    nodeId: 'gone-a',
    revision: held.revision,
    alive: false,
    acknowledged: false,
  })

  // Without presence the notice goes out, and a node that stopped listening (or died before
  // presence noticed) makes the server answer "no responders" at once.
  const z = await b.lock.acquire('z')
  await b.lock.close()
  const c = await node(t, server.url, 'no-presence', [], false)
  const r2 = await c.lock.acquire('z')
  assert.deepEqual(r2.previous, { nodeId: 'live-b', revision: z.revision, alive: false, acknowledged: false })
  assert.equal(aNotices.length, 0)
})

test('two nodes racing for one client id: each acquire wins once, the last one holds', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await node(t, server.url, 'race-a', [])
  const b = await node(t, server.url, 'race-b', [])
  for (let round = 0; round < 10; round++) {
    const id = `racer-${round}`
    const [ra, rb] = await Promise.all([a.lock.acquire(id), b.lock.acquire(id)])
    assert.notEqual(ra.revision, rb.revision)
    const winner = ra.revision > rb.revision ? 'race-a' : 'race-b'
    assert.deepEqual(await a.lock.holder(id), {
      nodeId: winner,
      run: `${winner}-run`,
      revision: Math.max(ra.revision, rb.revision),
    })
    // The later one took over from the earlier one.
    const later = ra.revision > rb.revision ? ra : rb
    assert.equal(later.previous?.nodeId, winner === 'race-a' ? 'race-b' : 'race-a')
  }
})

test('client ids become valid KV keys; very long ones are hashed', () => {
  assert.equal(clientKey('plain-id_1'), 'plain-id_1')
  assert.equal(clientKey(''), '=')
  assert.match(clientKey('a.b c'), /^[-=\w]+$/)
  const long = clientKey('ü'.repeat(1000))
  assert.match(long, /^==[0-9a-f]{64}$/)
  assert.notEqual(long, clientKey('ü'.repeat(1001)))
})

test("the wills a node left are listed by its key prefix alone, or with everyone's in a full listing", async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const registry = async (nodeId: string) => {
    const conn = await natsConnection(t, server.url, nodeId)
    return WillRegistry.open(conn, names, { nodeId, run: `${nodeId}-run` })
  }
  const will = (topic: string) => ({
    topic,
    payload: Buffer.from('gone'),
    qos: 1 as const,
    retain: false,
    delaySeconds: 0,
  })
  const a = await registry('node a.1')
  const b = await registry('node-b')
  const c = await registry('node-c')
  await a.put('sensor 1/with.dots*', will('will/a1'))
  const gone = await a.put('a2', will('will/a2'))
  await b.put('b1', will('will/b1'))
  // The same client id on two nodes (a takeover in progress): two entries.
  await b.put('a2', will('will/a2 on b'))
  const topics = (wills: { node: string; will: { topic: string } }[]) =>
    wills.map((w) => `${w.node} ${w.will.topic}`).sort()

  // Nodes a and b are gone; a's wills are listed by a's prefix alone.
  const alive = new Map([['node-c', 'node-c-run']])
  assert.deepEqual(topics(await c.orphans(alive, ['node a.1'])), ['node a.1 will/a1', 'node a.1 will/a2'])
  // A node that left nothing, and a live node named by mistake: nothing.
  assert.deepEqual(await c.orphans(alive, ['node-x', 'node-c']), [])
  // The full listing finds every dead node's.
  const all = ['node a.1 will/a1', 'node a.1 will/a2', 'node-b will/a2 on b', 'node-b will/b1']
  assert.deepEqual(topics(await c.orphans(alive)), all)
  assert.deepEqual(topics(await c.orphans(alive, ['node-b', 'node a.1'])), all)
  // A removal by the node that wrote it takes its own entry only.
  assert.equal(await a.remove('a2', gone), true)
  assert.deepEqual(topics(await c.orphans(alive, ['node a.1', 'node-b'])), [
    'node a.1 will/a1',
    'node-b will/a2 on b',
    'node-b will/b1',
  ])
})
