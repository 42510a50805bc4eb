import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import { promisify } from 'node:util'
import { hashPassword } from '../src/broker/access/password-file.ts'
import { type Broker, listenersOf, startBroker } from '../src/index.ts'
import type { ListenerSpec } from '../src/listeners/types.ts'
import { defined } from './defined.ts'
import {
  attempt,
  barrier,
  collect,
  connect,
  guard,
  MemoryLog,
  makePki,
  nextMessage,
  type Pki,
  requireCommand,
  subackCodes,
  tempDir,
} from './tls-helpers.ts'

const run = promisify(execFile)
const noOpenssl = await requireCommand('openssl', 'openssl')
const noMosquittoPub = await requireCommand('mosquitto_pub', 'mosquitto-clients')

interface Setup {
  broker: Broker
  log: MemoryLog
  pki: Pki
  dir: string
  /** mqtt://… of the plain listener. */
  tcp: string
  /** Bound port of each extra listener, in order. */
  ports: number[]
}

async function brokerWithTls(
  t: { after(fn: () => unknown): void },
  listeners: (pki: Pki) => ListenerSpec[],
  extra: Parameters<typeof startBroker>[0] = {},
): Promise<Setup> {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const log = new MemoryLog()
  const broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logger: log.logger,
    listeners: listeners(pki),
    ...extra,
  })
  t.after(() => broker.close())
  return {
    broker,
    log,
    pki,
    dir,
    tcp: `mqtt://127.0.0.1:${broker.port}`,
    ports: listenersOf(broker).map((l) => l.port),
  }
}

const tlsOnly = (pki: Pki): ListenerSpec[] => [
  { type: 'tls', port: 0, cert: pki.serverCert, key: pki.serverKey },
]

test('MQTT.js over TLS with a self-signed certificate, talking to a plain TCP client', {
  skip: noOpenssl,
}, async (t) => {
  const { ports, tcp, pki, log } = await brokerWithTls(t, tlsOnly)
  const secure = await connect(t, `mqtts://localhost:${ports[0]}`, {
    ca: await readFile(pki.caCert),
    clientId: 'secure',
  })
  const plain = await connect(t, tcp)
  await secure.subscribeAsync('from/plain', { qos: 1 })
  await plain.subscribeAsync('from/secure', { qos: 1 })
  const toSecure = nextMessage(secure, 'from/plain')
  const toPlain = nextMessage(plain, 'from/secure')
  await plain.publishAsync('from/plain', 'hello tls', { qos: 1 })
  await secure.publishAsync('from/secure', 'hello tcp', { qos: 1 })
  assert.equal((await toSecure).payload, 'hello tls')
  assert.equal((await toPlain).payload, 'hello tcp')
  const record = await log.waitFor('client connected', (r) => r.clientId === 'secure')
  assert.equal(record.address, '127.0.0.1')
})

test('an untrusted server certificate is refused by a verifying client (the test can fail)', {
  skip: noOpenssl,
}, async (t) => {
  const { ports } = await brokerWithTls(t, tlsOnly)
  const result = await attempt(t, `mqtts://localhost:${ports[0]}`, { rejectUnauthorized: true })
  assert.equal(result.ok, false)
  const insecure = await attempt(t, `mqtts://localhost:${ports[0]}`, { rejectUnauthorized: false })
  assert.equal(insecure.ok, true)
})

test('Debian mosquitto_pub --cafile publishes over TLS', { skip: noOpenssl || noMosquittoPub }, async (t) => {
  const { ports, tcp, pki } = await brokerWithTls(t, tlsOnly)
  const subscriber = await connect(t, tcp)
  await subscriber.subscribeAsync('mosquitto/tls', { qos: 1 })
  const arrived = nextMessage(subscriber, 'mosquitto/tls')
  await run('mosquitto_pub', [
    ...['-h', 'localhost', '-p', String(ports[0]), '--cafile', pki.caCert],
    ...['-t', 'mosquitto/tls', '-m', 'from mosquitto_pub', '-q', '1'],
  ])
  assert.equal((await arrived).payload, 'from mosquitto_pub')
})

test('a failed TLS handshake affects only that connection', { skip: noOpenssl }, async (t) => {
  const { ports, pki, log } = await brokerWithTls(t, tlsOnly)
  const url = `mqtts://localhost:${ports[0]}`
  const ca = await readFile(pki.caCert)
  const steady = await connect(t, url, { ca, clientId: 'steady' })
  await steady.subscribeAsync('steady/#', { qos: 1 })
  // Plain MQTT bytes on the TLS port: not a ClientHello.
  const plain = net.connect(defined(ports[0], 'ports[0]'), '127.0.0.1')
  plain.on('error', () => {})
  plain.write(
    Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]),
  )
  await guard(new Promise((resolve) => plain.once('close', resolve)), 'the plain socket to be closed')
  // A client that does not trust the server's certificate aborts the handshake.
  const distrustful = tls.connect({
    port: defined(ports[0], 'ports[0]'),
    host: '127.0.0.1',
    servername: 'localhost',
  })
  await guard(new Promise((resolve) => distrustful.once('error', resolve)), 'the handshake to fail')
  await log.waitFor('TLS handshake failed')
  const arrived = nextMessage(steady, 'steady/ping')
  await steady.publishAsync('steady/ping', 'still here', { qos: 1 })
  assert.equal((await arrived).payload, 'still here')
  assert.equal(steady.connected, true)
})

const verifying = (pki: Pki): ListenerSpec[] => [
  {
    type: 'tls',
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.caCert,
    useIdentityAsUsername: true,
  },
]

test('client certificates: the CN becomes the user name, checked by the ACL; no or untrusted certificate is refused', {
  skip: noOpenssl,
}, async (t) => {
  const dir = await tempDir(t)
  const aclFile = join(dir, 'acl')
  const passwordFile = join(dir, 'passwd')
  await writeFile(aclFile, 'user device-1\ntopic readwrite devices/device-1/#\nuser admin\ntopic #\n')
  await writeFile(passwordFile, `admin:${hashPassword('root')}\n`)
  const { ports, pki, tcp, log, broker } = await brokerWithTls(t, verifying, { aclFile, passwordFile })
  const url = `mqtts://localhost:${ports[0]}`
  const ca = await readFile(pki.caCert)
  const cert = await readFile(pki.clientCert)
  const key = await readFile(pki.clientKey)
  // The user name and password the client sends are replaced: the certificate is the identity.
  const device = await connect(t, url, {
    ca,
    cert,
    key,
    clientId: 'dev1',
    username: 'admin',
    password: 'wrong',
  })
  assert.equal(broker.clientList().find((c) => c.clientId === 'dev1')?.username, 'device-1')
  const admin = await connect(t, tcp, { username: 'admin', password: 'root' })
  await admin.subscribeAsync('#', { qos: 1 })
  const seen = collect(admin)
  await device.publishAsync('devices/device-1/state', 'on', { qos: 1 })
  await device.publishAsync('devices/other/state', 'forged', { qos: 1 })
  await barrier(device, admin, 'devices/device-1/barrier')
  assert.deepEqual(
    seen.map((m) => m.topic),
    ['devices/device-1/state', 'devices/device-1/barrier'],
  )
  assert.deepEqual(await subackCodes(device, ['devices/device-1/#', '#']), [0, 128])
  // No client certificate, and a self-signed one: the handshake fails, nothing else does.
  const without = await attempt(t, url, { ca })
  assert.equal(without.ok, false)
  const rogue = await attempt(t, url, {
    ca,
    cert: await readFile(pki.rogueCert),
    key: await readFile(pki.rogueKey),
  })
  assert.equal(rogue.ok, false)
  await log.waitFor('TLS handshake failed')
  assert.equal(device.connected, true)
  // The certificate's token cannot be replayed: a password-file login as device-1 does not exist.
  const impostor = await attempt(t, tcp, { username: 'device-1', password: 'anything' })
  assert.equal(impostor.ok ? 0 : impostor.code, 4)
  assert.equal(
    broker.access && 'identities' in broker.access ? (broker.access.identities as { size: number }).size : -1,
    0,
  )
})

test('client certificate with MQTT 3.1 and MQTT 5 clients', { skip: noOpenssl }, async (t) => {
  const { ports, pki, broker } = await brokerWithTls(t, verifying)
  const options = {
    ca: await readFile(pki.caCert),
    cert: await readFile(pki.clientCert),
    key: await readFile(pki.clientKey),
  }
  await connect(t, `mqtts://localhost:${ports[0]}`, {
    ...options,
    clientId: 'v3',
    protocolId: 'MQIsdp',
    protocolVersion: 3,
  })
  await connect(t, `mqtts://localhost:${ports[0]}`, { ...options, clientId: 'v5', protocolVersion: 5 })
  const users = broker.clientList().map((c) => `${c.clientId}:${c.username}:${c.protocolVersion}`)
  assert.deepEqual(users.sort(), ['v3:device-1:3', 'v5:device-1:5'])
})

test('per-listener connection limit: extra connections are refused at accept, others keep working', {
  skip: noOpenssl,
}, async (t) => {
  const { ports, pki, log, tcp } = await brokerWithTls(t, (p) => [
    { type: 'tls', port: 0, cert: p.serverCert, key: p.serverKey, maxConnections: 1 },
  ])
  const url = `mqtts://localhost:${ports[0]}`
  const ca = await readFile(pki.caCert)
  const first = await connect(t, url, { ca, clientId: 'first' })
  const second = await attempt(t, url, { ca, clientId: 'second' })
  assert.equal(second.ok, false)
  await log.waitFor('connection limit')
  assert.equal(first.connected, true)
  // The plain listener has its own (unlimited) count.
  await connect(t, tcp)
  await connect(t, tcp)
})

test('a listener whose port is taken stops start-up with the error; nothing stays bound', {
  skip: noOpenssl,
}, async (t) => {
  const dir = await tempDir(t)
  const pki = await makePki(dir)
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => blocker.close(resolve)))
  const taken = (blocker.address() as net.AddressInfo).port
  await assert.rejects(
    startBroker({
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      listeners: [
        { type: 'ws', port: 0 },
        { type: 'tls', port: taken, cert: pki.serverCert, key: pki.serverKey },
      ],
    }),
    /EADDRINUSE/,
  )
  await assert.rejects(
    startBroker({
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      listeners: [{ type: 'tls', port: 0, cert: join(dir, 'missing.crt'), key: pki.serverKey }],
    }),
    /cannot read TLS certificate .*missing\.crt/,
  )
})

test('with certificate user names, a first packet that is not CONNECT closes only that connection', {
  skip: noOpenssl,
}, async (t) => {
  const { ports, pki, log } = await brokerWithTls(t, verifying)
  const credentials = {
    ca: await readFile(pki.caCert),
    cert: await readFile(pki.clientCert),
    key: await readFile(pki.clientKey),
  }
  const steady = await connect(t, `mqtts://localhost:${ports[0]}`, { ...credentials, clientId: 'steady' })
  const socket = tls.connect({
    port: defined(ports[0], 'ports[0]'),
    host: '127.0.0.1',
    servername: 'localhost',
    ...credentials,
  })
  socket.on('error', () => {})
  await guard(new Promise((resolve) => socket.once('secureConnect', resolve)), 'the TLS handshake')
  socket.write(Buffer.from([0xc0, 0x00])) // PINGREQ before CONNECT
  await guard(new Promise((resolve) => socket.once('close', resolve)), 'the connection to be closed')
  await log.waitFor('connection closed: the first packet is not a valid CONNECT')
  await guard(steady.publishAsync('still/here', 'x', { qos: 1 }), 'the other client to be served')
})
