// Persistent sessions shared between nodes on a real nats-server: the directory's records
// (what one node writes, another sees and loads at start; deletes reach every node; bad
// records are skipped), and MQTT clients whose persistent session moves from node to node.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { chosenFor } from '../src/cluster/dead-node-sessions.ts'
import { clusterNames } from '../src/cluster/names.ts'
import { type ClusterSessionRecord, SessionDirectory } from '../src/cluster/session-directory.ts'
import { SessionQueue } from '../src/cluster/session-queue.ts'
import type { Message } from '../src/index.ts'
import { type Cleanup, mqttConnect, until, withTimeout } from './helpers.ts'
import { natsConnection, natsServerMissing, node, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('sesstest')

async function directory(t: Cleanup, url: string, name: string) {
  const conn = await natsConnection(t, url, name)
  const dir = await SessionDirectory.open(conn, names)
  t.after(() => dir.stop())
  return { conn, dir }
}

const record: ClusterSessionRecord = {
  clientId: 'dev.1/a b',
  expiryInterval: 3600,
  node: 'a',
  subscriptions: [
    { filter: 'sensors/+/temp', qos: 1 },
    { filter: 'cmd/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, identifier: 7 },
  ],
  disconnectedAt: 1_700_000_000_000,
}

/** A nats-server and the directories of nodes a and b on it; undefined (skipped) without nats-server. */
async function twoDirectories(t: TestContext) {
  const missing = await natsServerMissing()
  if (missing) {
    t.skip(missing)
    return undefined
  }
  const server = await startNatsServer(t)
  return { server, a: await directory(t, server.url, 'a'), b: await directory(t, server.url, 'b') }
}

test('a record written on one node is seen on another, and loaded by a node that starts later', async (t) => {
  const both = await twoDirectories(t)
  if (!both) return
  const { server, a, b } = both
  assert.equal(b.dir.get(record.clientId), undefined)
  await a.dir.put(record)
  await until(() => isDeepStrictEqual(b.dir.get(record.clientId), record), 'b sees the record')
  // A node joining later has it as soon as open resolves.
  const c = await directory(t, server.url, 'c')
  assert.deepEqual(c.dir.get(record.clientId), record)

  await b.dir.delete(record.clientId)
  await until(() => !a.dir.has(record.clientId), 'a sees the delete')
  const d = await directory(t, server.url, 'd')
  assert.equal(d.dir.has(record.clientId), false)
})

test('a malformed record from elsewhere is ignored', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await directory(t, server.url, 'a')
  const kv = await a.conn.kv(`${names.cluster}_sessions`)
  await kv.put('bad', '{"clientId":"bad","subscriptions":"nope"}')
  await kv.put('junk', 'not json')
  await a.dir.put({ ...record, clientId: 'good' })
  const b = await directory(t, server.url, 'b')
  assert.equal(b.dir.has('good'), true)
  assert.equal(b.dir.get('bad'), undefined)
  assert.equal(b.dir.get('junk'), undefined)
})

/**
 * Holds back what `dir`'s watch brings until `release`, as a watch lagging under load does
 * (the directory's private `apply` is where each watched entry lands).
 */
function lagging(dir: SessionDirectory): { release: (count: number) => void; held: () => number } {
  const inner = dir as unknown as { apply: (entry: unknown) => void }
  const apply = inner.apply.bind(dir)
  const queue: unknown[] = []
  inner.apply = (entry) => queue.push(entry)
  return {
    release: (count) => {
      for (const entry of queue.splice(0, count)) apply(entry)
    },
    held: () => queue.length,
  }
}

test("refresh reads a record past a lagging watch, and the watch's older entries never put back what was replaced", async (t) => {
  const both = await twoDirectories(t)
  if (!both) return
  const { a, b } = both
  const watch = lagging(b.dir)
  const connected = { ...record, disconnectedAt: undefined }
  delete connected.disconnectedAt
  const gone = { ...record, inflight: [{ key: 'o.1', messageId: 7, state: 'publish' as const }] }
  await a.dir.put(connected)
  await a.dir.put(gone)
  await until(() => watch.held() === 2, "b's watch to bring both writes")
  assert.equal(b.dir.get(record.clientId), undefined)

  await b.dir.refresh(record.clientId)
  assert.deepEqual(b.dir.get(record.clientId), gone)
  watch.release(1)
  assert.deepEqual(b.dir.get(record.clientId), gone, 'the older write came through the watch after the read')
  watch.release(1)
  assert.deepEqual(b.dir.get(record.clientId), gone)

  // b resumes the session: its own write stands against the watch's lag, and a later write
  // from a (a takeover back) replaces it once the watch brings it.
  const resumed = { ...connected, node: 'b' }
  await b.dir.put(resumed)
  assert.deepEqual(b.dir.get(record.clientId), resumed)
  const back = { ...connected, node: 'a' }
  await a.dir.put(back)
  await until(() => watch.held() === 2, "b's watch to bring its own write and a's")
  watch.release(1)
  assert.deepEqual(b.dir.get(record.clientId), resumed)
  watch.release(1)
  assert.deepEqual(b.dir.get(record.clientId), back)
})

test("a dead node's sessions spread over the live nodes, and a node leaving moves only its own share", () => {
  const three = new Map([
    ['a', 'r1'],
    ['b', 'r2'],
    ['c', 'r3'],
  ])
  const two = new Map([
    ['a', 'r1'],
    ['b', 'r2'],
  ])
  const share = new Map<string, number>()
  for (let i = 0; i < 3000; i++) {
    const clientId = `device-${i}`
    const chosen = chosenFor(clientId, three)
    assert.ok(chosen !== undefined && three.has(chosen))
    share.set(chosen, (share.get(chosen) ?? 0) + 1)
    // Every node computes the same choice, whatever order it lists the nodes in.
    assert.equal(chosenFor(clientId, new Map([...three].reverse())), chosen)
    if (chosen !== 'c')
      assert.equal(chosenFor(clientId, two), chosen, `${clientId} moved though its node stayed`)
  }
  for (const node of three.keys())
    assert.ok((share.get(node) ?? 0) > 700, `${node} got ${share.get(node)} of 3000`)
  assert.equal(chosenFor('x', new Map()), undefined)
})

/** Watches the default cluster's session bucket, as a node would. */
async function observer(t: Cleanup, url: string): Promise<SessionDirectory> {
  const conn = await natsConnection(t, url, 'observer')
  const dir = await SessionDirectory.open(conn, clusterNames())
  t.after(() => dir.stop())
  return dir
}

function received(c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`))
  return got
}

async function end(c: MqttClient): Promise<void> {
  await c.endAsync()
}

test('a 3.1.1 persistent session moves between nodes with its subscriptions, and clean session ends it everywhere', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await node(t, server.url, 'a')
  const b = await node(t, server.url, 'b')
  const seen = await observer(t, server.url)
  const publisher = await mqttConnect(a.port, { clientId: 'pub' }, t)
  const id = 'roamer'
  const persistent = { clientId: id, clean: false, protocolVersion: 4 as const }

  const onA = await connect(a.port, persistent, t)
  await onA.subscribeAsync({ 'x/+': { qos: 1 }, 'y/#': { qos: 2 } })
  await end(onA)
  await until(() => seen.get(id)?.disconnectedAt !== undefined, 'the record says the client went')
  assert.deepEqual(
    seen.get(id)?.subscriptions.map((s) => [s.filter, s.qos]),
    [
      ['x/+', 1],
      ['y/#', 2],
    ],
  )
  assert.equal(seen.get(id)?.node, 'a')

  // On b: session present, and both subscriptions work without subscribing again.
  const onB = await connect(b.port, persistent, t)
  const gotB = received(onB)
  await until(() => seen.get(id)?.node === 'b', 'b owns the record')
  await eventually(
    () => publisher.publishAsync('x/1', 'one', { qos: 1 }),
    () => gotB.includes('x/1 one'),
    'x/1 reaches the client on b',
  )
  await publisher.publishAsync('y/2/3', 'two', { qos: 1 })
  await until(() => gotB.includes('y/2/3 two'), 'y/2/3 reaches the client on b')
  assert.equal(connackPresent(onB), true)

  await onB.unsubscribeAsync('y/#')
  await end(onB)
  await until(
    () => seen.get(id)?.disconnectedAt !== undefined && seen.get(id)?.subscriptions.length === 1,
    'the record lost y/#',
  )

  // Back on a: its own stale copy gives way to b's record.
  const again = await connect(a.port, persistent, t)
  assert.equal(connackPresent(again), true)
  const gotA = received(again)
  await publisher.publishAsync('y/9', 'gone', { qos: 1 })
  await publisher.publishAsync('x/9', 'kept', { qos: 1 })
  await until(() => gotA.includes('x/9 kept'), 'x/9 reaches the client on a')
  assert.equal(gotA.includes('y/9 gone'), false)
  await end(again)

  // Clean session on b ends it: no node resumes it afterwards.
  await until(() => seen.get(id)?.node === 'a' && seen.get(id)?.disconnectedAt !== undefined, 'a owns it')
  const clean = await connect(b.port, { clientId: id, clean: true, protocolVersion: 4 }, t)
  assert.equal(connackPresent(clean), false)
  await end(clean)
  await until(() => !seen.has(id), 'the record is deleted')
  const fresh = await connect(a.port, persistent, t)
  assert.equal(connackPresent(fresh), false)
})

test('an MQTT 5 session keeps its subscription options on another node; expiry 0 on resume ends it', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await node(t, server.url, 'a')
  const b = await node(t, server.url, 'b')
  const seen = await observer(t, server.url)
  const id = 'v5'
  const v5 = (expiry: number) => ({
    clientId: id,
    clean: false,
    protocolVersion: 5 as const,
    properties: { sessionExpiryInterval: expiry },
  })
  const onA = await connect(a.port, v5(600), t)
  await onA.subscribeAsync('n/#', { qos: 1, nl: true, properties: { subscriptionIdentifier: 42 } })
  await end(onA)
  await until(() => seen.get(id)?.disconnectedAt !== undefined, 'the record says the client went')
  assert.equal(seen.get(id)?.expiryInterval, 600)

  const onB = await connect(b.port, v5(600), t)
  assert.equal(connackPresent(onB), true)
  const ids: unknown[] = []
  const got: string[] = []
  onB.on('message', (topic, payload, packet) => {
    got.push(`${topic} ${payload.toString()}`)
    ids.push(packet.properties?.subscriptionIdentifier)
  })
  const publisher = await mqttConnect(a.port, { clientId: 'pub5', protocolVersion: 5 }, t)
  await eventually(
    () => publisher.publishAsync('n/1', 'hi', { qos: 1 }),
    () => got.includes('n/1 hi'),
    'n/1 reaches the client on b',
  )
  assert.equal(ids[0], 42)
  // No Local survived the move: the client's own message does not come back.
  await onB.publishAsync('n/self', 'mine', { qos: 1 })
  await publisher.publishAsync('n/after', 'x', { qos: 1 })
  await until(() => got.includes('n/after x'), 'n/after arrives')
  assert.equal(got.includes('n/self mine'), false)
  await end(onB)

  // Resumed with expiry 0 it ends with its connection: the record goes.
  await until(() => seen.get(id)?.disconnectedAt !== undefined, 'b wrote the record')
  const last = await connect(a.port, v5(0), t)
  assert.equal(connackPresent(last), true)
  await until(() => !seen.has(id), 'the record is deleted')
  await end(last)
})

test('a session that expires on the node holding it leaves no record; no node resumes it', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await node(t, server.url, 'a')
  const b = await node(t, server.url, 'b')
  const seen = await observer(t, server.url)
  const opts = {
    clientId: 'brief',
    clean: false,
    protocolVersion: 5 as const,
    properties: { sessionExpiryInterval: 1 },
  }
  const onA = await connect(a.port, opts, t)
  await onA.subscribeAsync('e/#', { qos: 1 })
  await until(() => seen.has('brief'), 'the record is written')
  await end(onA)
  await until(() => !seen.has('brief'), 'the record is deleted at expiry')
  const onB = await connect(b.port, opts, t)
  assert.equal(connackPresent(onB), false)
})

const present = new WeakMap<MqttClient, boolean>()

/** Connects, remembering the CONNACK's session present flag. */
async function connect(port: number, opts: IClientOptions, t: Cleanup): Promise<MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, ...opts })
  t.after(() => c.end(true))
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      c.once('connect', (connack) => {
        present.set(c, connack.sessionPresent)
        resolve()
      })
      c.once('error', reject)
    }),
    'CONNACK',
  )
  return c
}

function connackPresent(c: MqttClient): boolean {
  return present.get(c) === true
}

/** Repeats `action` until `cond` holds: a remote node's interest reaches the publisher's node a little later. */
async function eventually(action: () => Promise<unknown>, cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await action()
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

test("the session queue keeps each session's messages in order until removed or purged; a store sent twice is kept once", async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await directory(t, server.url, 'qa')
  const b = await directory(t, server.url, 'qb')
  const writer = await SessionQueue.open(a.conn, names, 'writer')
  const reader = await SessionQueue.open(b.conn, names, 'reader')
  const msg = (topic: string, payload: string, qos: 1 | 2): Message => ({
    topic,
    payload: Buffer.from(payload),
    qos,
    retain: false,
  })
  // Node b hears the stream sequence of every copy kept for a session it holds.
  const sequences: string[] = []
  reader.followSequences('node b', (token, key, seq) => sequences.push(`${token} ${key} ${seq}`))
  await b.conn.connection.flush()
  const keys = [1, 2, 3].map((n) => SessionQueue.keyOf('node a#x.y', n))
  for (const [i, qos] of [1, 2, 1].entries())
    await writer.store('dev/1', 'node b', keys[i] as string, msg(`t/${i}`, `p${i}`, qos as 1 | 2))
  // Sent again after a failed confirmation: still one copy (the newest, at the end).
  await writer.store('dev/1', 'node b', keys[2] as string, msg('t/2', 'p2', 1))
  await writer.store('dev 2', 'node c', keys[0] as string, msg('other', 'x', 1))
  const summary = (q: { key: string; message: Message }[]) =>
    q.map(({ key, message: m }) => `${key} ${m.topic} ${m.payload.toString()} ${m.qos}`)

  // The session's list of what is in flight sits among its copies; the newest list is kept.
  writer.writeInflight('dev/1', [{ key: keys[0] as string, messageId: 9, state: 'publish' }])
  writer.writeInflight('dev/1', [
    { key: keys[1] as string, messageId: 7, state: 'pubrel' },
    { key: keys[2] as string, messageId: 65535, state: 'publish' },
  ])
  await writer.confirm()
  // Another node reads them, oldest first, each with its key and sequence.
  const kept = await reader.read('dev/1')
  assert.deepEqual(summary(kept), [`${keys[0]} t/0 p0 1`, `${keys[1]} t/1 p1 2`, `${keys[2]} t/2 p2 1`])
  assert.deepEqual((await reader.readSession('dev/1')).inflight, [
    { key: keys[1], messageId: 7, state: 'pubrel' },
    { key: keys[2], messageId: 65535, state: 'publish' },
  ])
  await until(() => sequences.length === 4, 'the four sequences of the copies held on node b')
  const token = SessionQueue.sessionToken('dev/1')
  assert.deepEqual(
    sequences.slice(0, 2),
    kept.slice(0, 2).map((m) => `${token} ${m.key} ${m.seq}`),
  )
  assert.equal(sequences[3], `${token} ${keys[2]} ${kept[2]?.seq}`)

  // A delete is not confirmed: read until it has happened.
  reader.remove(kept[0]?.seq as number)
  const deadline = Date.now() + 30_000
  while ((await reader.read('dev/1')).length !== 2) {
    assert.ok(Date.now() < deadline, 'the removed message is still there')
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.deepEqual(summary(await reader.read('dev/1')), [`${keys[1]} t/1 p1 2`, `${keys[2]} t/2 p2 1`])
  await reader.removeBySubject('dev/1', keys[1] as string)
  assert.deepEqual(summary(await reader.read('dev/1')), [`${keys[2]} t/2 p2 1`])
  await reader.purge('dev/1')
  assert.deepEqual(await reader.readSession('dev/1'), { messages: [], inflight: [] })
  assert.deepEqual(summary(await reader.read('dev 2')), [`${keys[0]} other x 1`])
  reader.stop()
})

test('a persistent client connecting on B while still connected on A: taken over, and its session continues on B', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await node(t, server.url, 'a')
  const b = await node(t, server.url, 'b')
  const seen = await observer(t, server.url)
  const publisher = await mqttConnect(a.port, { clientId: 'pub' }, t)
  const persistent = { clientId: 'mover', clean: false, protocolVersion: 4 as const, reconnectPeriod: 0 }
  const onA = await connect(a.port, persistent, t)
  await onA.subscribeAsync({ 'm/+': { qos: 1 } })
  await until(() => seen.get('mover')?.subscriptions.length === 1, 'the record has the subscription')
  const closedOnA = new Promise<void>((resolve) => onA.once('close', () => resolve()))
  const onB = await connect(b.port, persistent, t)
  await closedOnA
  const gotB = received(onB)
  assert.equal(connackPresent(onB), true)
  await until(() => seen.get('mover')?.node === 'b', 'b owns the record after the takeover')
  await eventually(
    () => publisher.publishAsync('m/1', 'hi', { qos: 1 }),
    () => gotB.includes('m/1 hi'),
    'm/1 reaches the client on b',
  )
  // A's late disconnect does not take the record back.
  assert.equal(seen.get('mover')?.node, 'b')
})
