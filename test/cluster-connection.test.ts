// The node's NATS connection with credentials and TLS against a real nats-server: user and
// password, token, and TLS with a client certificate; wrong credentials are refused. And KV
// watches as the connection closes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterNames } from '../src/cluster/names.ts'
import { NatsConnection } from '../src/cluster/nats-connection.ts'
import { RetainedStore } from '../src/cluster/retained-store.ts'
import { natsConnection, natsServerMissing, startNatsServer } from './nats-helpers.ts'
import { makePki, requireCommand, tempDir } from './tls-helpers.ts'

test('user and password: the right ones connect, wrong ones are refused', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t, ['--user', 'tiny', '--pass', 's3cret'])
  const good = new NatsConnection({ servers: [server.url], user: 'tiny', pass: 's3cret' })
  await good.connect()
  t.after(() => good.close())
  // JetStream works through it (the store opens and round-trips a message).
  const store = await RetainedStore.open(good, clusterNames('authtest'))
  await store.put({ topic: 'a', payload: Buffer.from('x'), qos: 0 })
  assert.equal((await store.match('#')).length, 1)
  await assert.rejects(new NatsConnection({ servers: [server.url], user: 'tiny', pass: 'wrong' }).connect())
  await assert.rejects(new NatsConnection({ servers: [server.url] }).connect())
})

test('token: the right one connects, a wrong one is refused', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t, ['--auth', 'tok-123'])
  const good = new NatsConnection({ servers: [server.url], token: 'tok-123' })
  await good.connect()
  t.after(() => good.close())
  assert.equal(good.state, 'connected')
  await assert.rejects(new NatsConnection({ servers: [server.url], token: 'nope' }).connect())
})

test('TLS with a client certificate: trusted CA and certificate connect, no certificate is refused', async (t) => {
  const missing = (await natsServerMissing()) || (await requireCommand('openssl', 'openssl'))
  if (missing) return t.skip(missing)
  const pki = await makePki(await tempDir(t))
  const server = await startNatsServer(t, [
    '--tls',
    '--tlscert',
    pki.serverCert,
    '--tlskey',
    pki.serverKey,
    '--tlsverify',
    '--tlscacert',
    pki.caCert,
  ])
  const good = new NatsConnection({
    servers: [server.url],
    tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey },
  })
  await good.connect()
  t.after(() => good.close())
  assert.equal(good.state, 'connected')
  // Without a certificate the server drops the connection after the handshake; the client
  // notices only by its connect timeout, kept short here so the test does not idle.
  await assert.rejects(
    new NatsConnection({
      servers: [server.url],
      tls: { caFile: pki.caCert },
      connectTimeoutMs: 1_000,
    }).connect(),
  )
  await assert.rejects(new NatsConnection({ servers: [server.url] }).connect())
})

test('a KV watch asked for as the connection closes subscribes and is ended by the close; one asked for after is refused', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const conn = await natsConnection(t, server.url)
  const kv = await conn.kv('watchclose')
  await kv.put('k', 'v')
  // Asked for in the same turn as the close: the client's watch subscribes a few microtasks
  // later. Had the drain begun first, the subscribe would throw and leave the watch's heartbeat
  // timer running for good (the client's leak NatsConnection.watch works around).
  const watching = conn.watch(kv)
  const closing = conn.close()
  const refused = assert.rejects(conn.watch(kv), /NATS connection closing/)
  const iter = await watching
  await closing
  await refused
  const keys: string[] = []
  for await (const entry of iter) keys.push(entry.key)
  assert.equal(conn.state, 'closed')
  // The iterator ended once the close ended its subscription; what it had was the one key.
  assert.ok(keys.length <= 1 && keys.every((k) => k === 'k'), `watch saw ${JSON.stringify(keys)}`)
})
