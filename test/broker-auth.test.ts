// Issue 3, point 4: the single user (ms_user / ms_pass model), CONNACK 4 / 5, logging.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  connect,
  LogCapture,
  type LogRecord,
  mqttConnect,
  mqttConnectRefused,
  PT,
  RawClient,
  recordText,
  startTestBroker,
} from './helpers.ts'

const creds = { user: 'admin', pass: 's3cret' }

/** An auth-failure record for `clientId` that names the client and its address. */
function authRecord(clientId: string) {
  return (r: LogRecord): boolean =>
    r.level >= 30 &&
    r.clientId === clientId &&
    typeof r.address === 'string' &&
    /127\.0\.0\.1/.test(r.address)
}

test('no user configured: anonymous clients are accepted', async (t) => {
  const broker = await startTestBroker(t)
  const { connack } = await RawClient.connect(broker.port, { clientId: 'anon' }, t)
  assert.equal(connack.returnCode, 0)
  // Credentials are not required, and any offered are not rejected either.
  const withCreds = await RawClient.connect(
    broker.port,
    { clientId: 'anon2', username: 'x', password: 'y' },
    t,
  )
  assert.equal(withCreds.connack.returnCode, 0)
})

test('the configured user and password are accepted', async (t) => {
  const broker = await startTestBroker(t, creds)
  const { client, connack } = await RawClient.connect(
    broker.port,
    { clientId: 'good', username: 'admin', password: 's3cret' },
    t,
  )
  assert.equal(connack.returnCode, 0)
  assert.deepEqual(await client.pingBarrier(), [])
  const js = await mqttConnect(broker.port, { clientId: 'good-js', username: 'admin', password: 's3cret' }, t)
  assert.equal(js.connected, true)
})

test('wrong password → CONNACK 4, connection closed, logged with client id and address', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { ...creds, logger: log.logger })
  const c = await RawClient.open(broker.port, t)
  await c.send(connect({ clientId: 'bad-pass', username: 'admin', password: 'nope' }))
  const p = await c.expect(PT.CONNACK)
  assert.equal(p.raw.toString('hex'), '20020004')
  await c.waitClosed()
  const rec = await log.waitFor(authRecord('bad-pass'), 'about bad-pass with its address')
  assert.match(recordText(rec), /auth|password|credential|user|denied|refused|reject/i)
})

test('wrong user name → CONNACK 4', async (t) => {
  const broker = await startTestBroker(t, creds)
  const { client, connack } = await RawClient.connect(
    broker.port,
    { clientId: 'bad-user', username: 'root', password: 's3cret' },
    t,
  )
  assert.equal(connack.returnCode, 4)
  await client.waitClosed()
})

test('missing credentials when a user is set → CONNACK 5, logged with client id and address', async (t) => {
  const log = new LogCapture()
  const broker = await startTestBroker(t, { ...creds, logger: log.logger })
  const { client, connack } = await RawClient.connect(broker.port, { clientId: 'no-creds' }, t)
  assert.equal(connack.returnCode, 5)
  await client.waitClosed()
  await log.waitFor(authRecord('no-creds'), 'about no-creds with its address')
})

test('user name without password when a password is set → refused (4 or 5)', async (t) => {
  const broker = await startTestBroker(t, creds)
  const { client, connack } = await RawClient.connect(
    broker.port,
    { clientId: 'no-pass', username: 'admin' },
    t,
  )
  assert.ok([4, 5].includes(connack.returnCode), `got ${connack.returnCode}`)
  await client.waitClosed()
})

test('MQTT.js sees the refusals as CONNACK errors 4 and 5', async (t) => {
  const broker = await startTestBroker(t, creds)
  assert.deepEqual(
    await mqttConnectRefused(broker.port, { clientId: 'js4', username: 'admin', password: 'x' }),
    {
      code: 4,
    },
  )
  assert.deepEqual(await mqttConnectRefused(broker.port, { clientId: 'js5' }), { code: 5 })
})

test('a refused client does not take over the session of a connected client with its id', async (t) => {
  const broker = await startTestBroker(t, creds)
  const good = await RawClient.connect(
    broker.port,
    { clientId: 'victim', username: 'admin', password: 's3cret' },
    t,
  )
  assert.equal(good.connack.returnCode, 0)
  const bad = await RawClient.connect(
    broker.port,
    { clientId: 'victim', username: 'admin', password: 'bad' },
    t,
  )
  assert.equal(bad.connack.returnCode, 4)
  await bad.client.waitClosed()
  assert.deepEqual(await good.client.pingBarrier(), [], 'the authenticated connection is still open')
})
