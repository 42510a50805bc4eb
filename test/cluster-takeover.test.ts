// A client id is unique across the cluster: connecting on node B closes the client's connection
// on node A (MQTT 5: DISCONNECT 0x8E), whose will is delivered on every node; the lock then
// names B; of two simultaneous connections with one id on two nodes exactly one stays. When a
// node is killed (-9), a surviving node publishes its clients' wills, and they reconnect
// elsewhere at once. The NATS outage case is in cluster-outage.test.ts. Real nats-server; the killed node is a CLI child process.
import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { ClientLock } from '../src/cluster/client-lock.ts'
import { clusterNames } from '../src/cluster/names.ts'
import { clusterOf } from '../src/index.ts'
import { type Cleanup, freePort, mqttConnect, until, withTimeout } from './helpers.ts'
import {
  cliNode,
  natsConnection,
  natsServerMissing,
  node,
  stack,
  startNatsServer,
  twoNodes,
  willWatcher,
} from './nats-helpers.ts'

const skip = await natsServerMissing()

/** Who holds a client id's lock, read from NATS as another process would. */
async function lockHolder(t: Cleanup, url: string, clientId: string): Promise<string | undefined> {
  const conn = await natsConnection(t, url)
  const lock = await ClientLock.open(conn, clusterNames(), { nodeId: 'reader', onTakeover: () => undefined })
  t.after(() => lock.close())
  return (await lock.holder(clientId))?.nodeId
}

/** A nats-server and node `b`, with a client of b's watching for wills. */
async function survivor(t: Cleanup) {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const b = await node(s, nats.url, 'b')
  const onB = await willWatcher(s, b, 'watch-b')
  return { s, nats, b, onB }
}

/**
 * On the node at `port`: `sensor`, with a will on `will/sensor`, and `quiet`, without one
 * (nothing to publish, but its lock must not outlive its node).
 */
async function sensorAndQuiet(t: Cleanup, port: number): Promise<void> {
  const dev = await mqttConnect(
    port,
    {
      clientId: 'sensor',
      reconnectPeriod: 0,
      keepalive: 60,
      will: { topic: 'will/sensor', payload: Buffer.from('offline'), qos: 1, retain: false },
    },
    t,
  )
  assert.equal(dev.connected, true)
  await mqttConnect(port, { clientId: 'quiet', reconnectPeriod: 0, keepalive: 60 }, t)
}

function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()))
}

for (const protocolVersion of [4, 5] as const) {
  test(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}: connecting on B takes the client over from A, with its will on both nodes`, {
    skip,
  }, async (t) => {
    const { s, nats, a, b } = await twoNodes(t)
    const onA = await willWatcher(s, a, 'watch-a')
    const onB = await willWatcher(s, b, 'watch-b')
    const first = await mqttConnect(
      a.port,
      {
        clientId: 'dev',
        protocolVersion,
        reconnectPeriod: 0,
        will: { topic: 'will/dev', payload: Buffer.from('gone'), qos: 1, retain: false },
      },
      s,
    )
    let reason: number | undefined
    first.on('disconnect', (packet) => {
      reason = packet.reasonCode
    })
    const firstClosed = closed(first)
    const second = await mqttConnect(b.port, { clientId: 'dev', protocolVersion, reconnectPeriod: 0 }, s)
    await withTimeout(firstClosed, 'the connection on A to be closed')
    if (protocolVersion === 5) assert.equal(reason, 0x8e, 'DISCONNECT with Session taken over')
    await until(() => onA.length > 0 && onB.length > 0, 'the will on both nodes')
    assert.deepEqual(onA, ['will/dev=gone'])
    assert.deepEqual(onB, ['will/dev=gone'])
    assert.equal(second.connected, true)
    // A's disconnect came after B's claim: the lock stays B's.
    assert.equal(await lockHolder(s, nats.url, 'dev'), 'b')
  })
}

test('two connections with one client id on two nodes at once: exactly one stays connected', {
  skip,
}, async (t) => {
  const { s, nats, a, b } = await twoNodes(t)
  for (let round = 0; round < 5; round++) {
    const id = `race-${round}`
    const settle = (c: Promise<MqttClient>) =>
      c.then(
        (client) => client,
        () => undefined,
      )
    const [ca, cb] = await Promise.all([
      settle(mqttConnect(a.port, { clientId: id, reconnectPeriod: 0 }, s)),
      settle(mqttConnect(b.port, { clientId: id, reconnectPeriod: 0 }, s)),
    ])
    const clients = [ca, cb].filter((c): c is MqttClient => c !== undefined)
    // The loser is closed once the winner's claim reached it; wait until one is left.
    await until(() => clients.filter((c) => c.connected).length <= 1, `round ${round} to settle`)
    const left = clients.filter((c) => c.connected)
    assert.equal(left.length, 1, `round ${round}`)
    const holder = await lockHolder(s, nats.url, id)
    assert.equal(holder, left[0] === ca ? 'a' : 'b')
  }
})

test("kill -9 of a node: a surviving node publishes its clients' wills; they reconnect elsewhere at once", {
  skip,
}, async (t) => {
  const { s, nats, b, onB } = await survivor(t)
  const { cli: a, port } = await cliNode(t, nats.url, 'a')
  await sensorAndQuiet(s, port)
  assert.equal(await lockHolder(s, nats.url, 'quiet'), `${hostname()}-${port}`, "the CLI node's default id")
  const killedAt = Date.now()
  a.child.kill('SIGKILL')
  await a.exited
  // Presence TTL 6 s plus the sweep: generous bound for a busy machine, not a speed check.
  await until(() => onB.length > 0, "the will of the dead node's client", 60_000)
  t.diagnostic(`will published ${Date.now() - killedAt} ms after kill -9`)
  assert.deepEqual(onB, ['will/sensor=offline'])
  // The same sweep frees the lock of the client that had no will.
  const deadline = Date.now() + 60_000
  while ((await lockHolder(s, nats.url, 'quiet')) !== undefined) {
    assert.ok(Date.now() < deadline, "the lock of the dead node's client without a will was not freed")
    await new Promise((r) => setTimeout(r, 200))
  }
  const again = await mqttConnect(b.port, { clientId: 'sensor', reconnectPeriod: 0 }, s)
  assert.equal(again.connected, true)
  assert.equal(await lockHolder(s, nats.url, 'sensor'), 'b')
})

test('kill -9 and an immediate restart under the same node id: the wills, locks and sessions of the run that died are dealt with', {
  skip,
}, async (t) => {
  const { s, nats, b, onB } = await survivor(t)
  const port = await freePort()
  const nodeId = `${hostname()}-${port}`
  const first = await cliNode(t, nats.url, 'a', port)
  await sensorAndQuiet(s, port)
  // A persistent session that expires 2 s after its client goes; the client never comes back.
  await mqttConnect(
    port,
    {
      clientId: 'brief',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 2 },
      reconnectPeriod: 0,
    },
    s,
  )
  await until(() => clusterOf(b)?.session('brief') !== undefined, "b to see brief's session record")
  assert.equal(await lockHolder(s, nats.url, 'quiet'), nodeId)

  // A supervisor starts the node again at once: its presence key never lapses.
  first.cli.child.kill('SIGKILL')
  await first.cli.exited
  const second = await cliNode(t, nats.url, 'a again', port)
  await until(() => onB.length > 0, 'the will of the client of the run that died', 60_000)
  assert.deepEqual(onB, ['will/sensor=offline'])
  const deadline = Date.now() + 60_000
  while ((await lockHolder(s, nats.url, 'quiet')) !== undefined) {
    assert.ok(Date.now() < deadline, 'the lock of the client of the run that died was not freed')
    await new Promise((r) => setTimeout(r, 200))
  }
  await until(() => clusterOf(b)?.session('brief') === undefined, "brief's session to expire", 60_000)
  // The node itself carries on under its id.
  const back = await mqttConnect(second.port, { clientId: 'sensor', reconnectPeriod: 0 }, s)
  assert.equal(back.connected, true)
  assert.equal(await lockHolder(s, nats.url, 'sensor'), nodeId)
  assert.deepEqual(onB, ['will/sensor=offline'])
})
