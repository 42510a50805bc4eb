import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { test } from 'node:test'
import { type Broker, listenersOf, startBroker } from '../src/index.ts'
import type { ListenerSpec } from '../src/listeners/types.ts'
import { defined } from './defined.ts'
import {
  attempt,
  connect,
  guard,
  MemoryLog,
  makePki,
  nextMessage,
  type Pki,
  requireCommand,
  tempDir,
} from './tls-helpers.ts'

const noOpenssl = await requireCommand('openssl', 'openssl')

async function brokerWith(t: { after(fn: () => unknown): void }, listeners: ListenerSpec[]) {
  const log = new MemoryLog()
  const broker: Broker = await startBroker({ port: 0, host: '127.0.0.1', logger: log.logger, listeners })
  t.after(() => broker.close())
  return {
    broker,
    log,
    tcp: `mqtt://127.0.0.1:${broker.port}`,
    ports: listenersOf(broker).map((l) => l.port),
  }
}

/** Sends raw bytes and returns everything the server answers until it closes the socket. */
function rawExchange(port: number, request: string): Promise<string> {
  return guard(
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(request))
      let answer = ''
      socket.on('data', (chunk) => {
        answer += chunk.toString('latin1')
      })
      socket.on('error', reject)
      socket.on('close', () => resolve(answer))
    }),
    'the server to answer and close',
  )
}

const upgrade = (path: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`

test('MQTT.js over ws:// on /mqtt talks to a plain TCP client', async (t) => {
  const { ports, tcp, log } = await brokerWith(t, [{ type: 'ws', port: 0 }])
  const ws = await connect(t, `ws://127.0.0.1:${ports[0]}/mqtt`, { clientId: 'browser' })
  const plain = await connect(t, tcp)
  await ws.subscribeAsync('to/ws', { qos: 1 })
  await plain.subscribeAsync('to/tcp', { qos: 1 })
  const toWs = nextMessage(ws, 'to/ws')
  const toTcp = nextMessage(plain, 'to/tcp')
  await plain.publishAsync('to/ws', 'hello browser', { qos: 1 })
  await ws.publishAsync('to/tcp', Buffer.alloc(70_000, 'x'), { qos: 2 })
  assert.equal((await toWs).payload, 'hello browser')
  assert.equal((await toTcp).payload.length, 70_000)
  const record = await log.waitFor('client connected', (r) => r.clientId === 'browser')
  assert.equal(record.address, '127.0.0.1')
})

test('MQTT 3.1 (subprotocol mqttv3.1) and MQTT 5 clients over WebSocket', async (t) => {
  const { ports, broker } = await brokerWith(t, [{ type: 'ws', port: 0 }])
  const url = `ws://127.0.0.1:${ports[0]}/mqtt`
  await connect(t, url, { clientId: 'v3', protocolId: 'MQIsdp', protocolVersion: 3 })
  await connect(t, url, { clientId: 'v5', protocolVersion: 5 })
  const versions = broker
    .clientList()
    .map((c) => `${c.clientId}:${c.protocolVersion}`)
    .sort()
  assert.deepEqual(versions, ['v3:3', 'v5:5'])
})

test('a configured path is served, /mqtt then is not', async (t) => {
  const { ports } = await brokerWith(t, [{ type: 'ws', port: 0, path: '/broker' }])
  await connect(t, `ws://127.0.0.1:${ports[0]}/broker`)
  const wrong = await attempt(t, `ws://127.0.0.1:${ports[0]}/mqtt`)
  assert.equal(wrong.ok, false)
})

test('invalid WebSocket upgrades are refused and logged; a connected client is unaffected', async (t) => {
  const { ports, log } = await brokerWith(t, [{ type: 'ws', port: 0 }])
  const port = defined(ports[0], 'ports[0]')
  const steady = await connect(t, `ws://127.0.0.1:${port}/mqtt`, { clientId: 'steady' })
  await steady.subscribeAsync('steady/#', { qos: 1 })

  assert.match(await rawExchange(port, upgrade('/elsewhere')), /^HTTP\/1\.1 404 /)
  assert.match(
    await rawExchange(port, upgrade('/mqtt', 'Sec-WebSocket-Protocol: chat, superchat\r\n')),
    /^HTTP\/1\.1 400 /,
  )
  const badKey = upgrade('/mqtt').replace('dGhlIHNhbXBsZSBub25jZQ==', 'not-a-key')
  assert.match(await rawExchange(port, badKey), /^HTTP\/1\.1 400 /)
  assert.match(
    await rawExchange(port, 'GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    /^HTTP\/1\.1 426 /,
  )
  assert.match(
    await rawExchange(port, '\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00'),
    /^(HTTP\/1\.1 400 |)$/,
  )
  assert.equal(log.count('WebSocket upgrade refused'), 3)
  await log.waitFor('bad HTTP request')

  const arrived = nextMessage(steady, 'steady/ping')
  await steady.publishAsync('steady/ping', 'still here', { qos: 1 })
  assert.equal((await arrived).payload, 'still here')
})

test('per-listener connection limit on a WebSocket listener', async (t) => {
  const { ports, log } = await brokerWith(t, [{ type: 'ws', port: 0, maxConnections: 1 }])
  const url = `ws://127.0.0.1:${ports[0]}/mqtt`
  const first = await connect(t, url)
  const second = await attempt(t, url)
  assert.equal(second.ok, false)
  await log.waitFor('connection limit')
  assert.equal(first.connected, true)
})

const wssListener = (pki: Pki, extra: Partial<ListenerSpec> = {}): ListenerSpec[] => [
  { type: 'wss', port: 0, cert: pki.serverCert, key: pki.serverKey, ...extra } as ListenerSpec,
]

test('MQTT.js over wss:// with a self-signed certificate', { skip: noOpenssl }, async (t) => {
  const pki = await makePki(await tempDir(t))
  const { ports, tcp } = await brokerWith(t, wssListener(pki))
  const secure = await connect(t, `wss://localhost:${ports[0]}/mqtt`, { ca: await readFile(pki.caCert) })
  const plain = await connect(t, tcp)
  await secure.subscribeAsync('to/wss', { qos: 1 })
  const arrived = nextMessage(secure, 'to/wss')
  await plain.publishAsync('to/wss', 'hello wss', { qos: 1 })
  assert.equal((await arrived).payload, 'hello wss')
  const insecure = await attempt(t, `wss://localhost:${ports[0]}/mqtt`, { rejectUnauthorized: true })
  assert.equal(insecure.ok, false)
})

test('wss:// with a client certificate: the CN is the user name', { skip: noOpenssl }, async (t) => {
  const pki = await makePki(await tempDir(t))
  const { ports, broker } = await brokerWith(
    t,
    wssListener(pki, { ca: pki.caCert, useIdentityAsUsername: true }),
  )
  const url = `wss://localhost:${ports[0]}/mqtt`
  const ca = await readFile(pki.caCert)
  await connect(t, url, {
    ca,
    cert: await readFile(pki.clientCert),
    key: await readFile(pki.clientKey),
    clientId: 'ws-device',
    username: 'someone-else',
  })
  assert.equal(broker.clientList().find((c) => c.clientId === 'ws-device')?.username, 'device-1')
  const without = await attempt(t, url, { ca })
  assert.equal(without.ok, false)
})
