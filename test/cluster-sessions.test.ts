// Persistent sessions' records shared between nodes on a real nats-server: what one node
// writes, another sees (and loads at start); deletes reach every node; bad records are skipped.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import { clusterNames } from '../src/cluster/names.ts'
import { NatsConnection } from '../src/cluster/nats-connection.ts'
import { type ClusterSessionRecord, SessionDirectory } from '../src/cluster/session-directory.ts'
import { type Cleanup, until } from './helpers.ts'
import { natsServerMissing, startNatsServer } from './nats-helpers.ts'

const names = clusterNames('sesstest')

async function directory(t: Cleanup, url: string, name: string) {
  const conn = new NatsConnection({ servers: [url], name })
  await conn.connect()
  t.after(() => conn.close())
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

test('a record written on one node is seen on another, and loaded by a node that starts later', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const a = await directory(t, server.url, 'a')
  const b = await directory(t, server.url, 'b')
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
