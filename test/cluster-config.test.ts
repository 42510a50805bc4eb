// The `cluster` setting: `--cluster` on the command line and the config file's object, their
// checks, and the CLI joining a cluster with an in-process node (a message crosses both ways).
// Also the routed-message envelope: a round trip keeps every field, and bytes that are not an
// envelope are refused rather than delivered.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { decodeEnvelope, encodeEnvelope } from '../src/cluster/envelope.ts'
import { shareId } from '../src/cluster/subjects.ts'
import { type Broker, startBroker } from '../src/index.ts'
import {
  settingsCommand,
  settingsFromCommand,
  settingsFromFile,
  startOptionsOf,
} from '../src/settings/index.ts'
import { freePort, mqttConnect, spawnCollecting, until } from './helpers.ts'
import { natsServerMissing, startNatsServer } from './nats-helpers.ts'

const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'src', 'cli.ts')

test('--cluster takes comma-separated NATS URLs and reaches startBroker as cluster.servers', () => {
  const command = settingsCommand()
  command.parse(['node', 'tinymqtt', '--cluster', 'nats://a:4222, tls://b:4222'])
  const options = startOptionsOf(settingsFromCommand(command))
  assert.deepEqual(options.cluster, { servers: ['nats://a:4222', 'tls://b:4222'] })
  assert.throws(
    () =>
      settingsCommand()
        .configureOutput({ writeErr: () => undefined })
        .parse(['node', 'tinymqtt', '--cluster', 'http://a']),
    /nats:\/\/host:port/,
  )
})

test('the config file cluster object is checked, TLS paths relative to the file', () => {
  const parsed = settingsFromFile(
    {
      cluster: {
        servers: ['nats://n1:4222'],
        name: 'home',
        node: 'hall',
        user: 'u',
        pass: 'p',
        tls: { ca: 'ca.pem', cert: '/abs/c.pem', key: 'k.pem' },
        replicas: 3,
        leaseSeconds: 10,
        presenceSeconds: 9,
      },
    },
    'config file x',
    '/etc/tinymqtt',
  )
  assert.deepEqual(parsed.cluster, {
    servers: ['nats://n1:4222'],
    name: 'home',
    node: 'hall',
    user: 'u',
    pass: 'p',
    token: undefined,
    tls: { ca: '/etc/tinymqtt/ca.pem', cert: '/abs/c.pem', key: '/etc/tinymqtt/k.pem' },
    replicas: 3,
    leaseSeconds: 10,
    presenceSeconds: 9,
  })
  const bad = (cluster: unknown, message: RegExp): void =>
    assert.throws(() => settingsFromFile({ cluster }, 'config file x', '/etc'), message)
  bad('nats://a:4222', /"cluster" must be an object/)
  bad({ servers: [] }, /needs "servers"/)
  bad({ servers: ['nats://a:1'], name: 'a.b' }, /"name" must be/)
  bad({ servers: ['nats://a:1'], replica: 3 }, /unknown key "replica"/)
  bad({ servers: ['nats://a:1'], tls: { cert: 'c.pem' } }, /both "cert" and "key"/)
  bad({ servers: ['nats://a:1'], leaseSeconds: 0.5 }, /"leaseSeconds" must be/)
  bad({ servers: ['nats://a:1'], presenceSeconds: '6' }, /"presenceSeconds" must be/)
})

test('an envelope keeps every field; other bytes are refused', () => {
  const message = {
    topic: 'ignored',
    payload: Buffer.from('héllo'),
    qos: 2 as const,
    retain: true,
    clientId: 'dev-1',
    expiresAt: 1_800_000_000_000,
    properties: {
      contentType: 'text/plain',
      userProperties: { a: 'b' },
      correlationData: Buffer.from([0, 1]),
    },
  }
  const wire = encodeEnvelope(message, Buffer.from('node#x'), 42)
  const back = decodeEnvelope(wire)
  assert.equal(back?.origin, 'node#x')
  assert.equal(back?.seq, 42)
  assert.deepEqual(back?.message, { ...message, topic: '' })
  const plain = decodeEnvelope(
    encodeEnvelope({ topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false }, Buffer.from('n'), 1),
  )
  assert.deepEqual(plain?.message, {
    topic: '',
    payload: Buffer.alloc(0),
    qos: 0,
    retain: false,
    clientId: undefined,
    properties: undefined,
    expiresAt: undefined,
  })
  assert.equal(decodeEnvelope(Buffer.from('hello world, not an envelope')), undefined)
  assert.equal(decodeEnvelope(Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined, 'QoS 3')
  assert.equal(decodeEnvelope(wire.subarray(0, 12)), undefined, 'cut short')
  // The `$share` groups kept in JetStream travel between the properties and the payload.
  const shares = [shareId('g', 'a/#'), shareId('h', 'a/#')]
  const kept = decodeEnvelope(encodeEnvelope(message, Buffer.from('node#x'), 43, shares))
  assert.deepEqual(kept?.shares, shares)
  assert.deepEqual(kept?.message, { ...message, topic: '' })
  assert.equal(back?.shares, undefined)
  assert.notEqual(shares[0], shares[1])
  assert.equal(shareId('g', 'a/#').length, 12)
  const cut = encodeEnvelope({ ...message, payload: Buffer.alloc(0) }, Buffer.from('n'), 1, shares)
  assert.equal(decodeEnvelope(cut.subarray(0, cut.length - 1)), undefined, 'group list cut short')
})

test('the CLI with --cluster and an in-process node route to each other', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const port = await freePort()
  const cli = spawnCollecting(
    t,
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      '--memory',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--cluster',
      server.url,
    ],
    ROOT,
  )
  await until(() => cli.output().includes('joined the cluster'), `the CLI to join; output:\n${cli.output()}`)
  const node: Broker = await startBroker({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    cluster: { servers: [server.url] },
  })
  // Closed before the nats-server stop registered above runs (hooks run in order added).
  const closeNode = (): Promise<void> => node.close()
  t.after(closeNode)
  const onCli = await mqttConnect(port, { clientId: 'on-cli' }, t)
  const onNode = await mqttConnect(node.port, { clientId: 'on-node' }, t)
  const got: string[] = []
  onCli.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
  await onCli.subscribeAsync('cli/#', { qos: 1 })
  await onNode.publishAsync('cli/x', 'from-node', { qos: 1 })
  await until(() => got.includes('cli/x=from-node'), 'cli/x on the CLI node')
  const back: string[] = []
  onNode.on('message', (topic, payload) => back.push(`${topic}=${payload.toString()}`))
  await onNode.subscribeAsync('node/+', { qos: 1 })
  await onCli.publishAsync('node/y', 'from-cli', { qos: 1 })
  await until(() => back.includes('node/y=from-cli'), 'node/y on the in-process node')
  onCli.end(true)
  onNode.end(true)
  await closeNode()
  cli.child.kill('SIGTERM')
  await cli.exited
})
