// A NATS outage longer than the presence TTL: while NATS is away a cluster node refuses new
// connections (it cannot make a client id unique), and once NATS is back no node takes a live
// node for dead (no will of a live node's client is published), while a real death after the
// outage is still seen. Real nats-server; the node killed afterwards is a CLI child process.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterOf } from '../src/index.ts'
import { mqttConnect, until } from './helpers.ts'
import { cliNode, natsServerMissing, twoNodes, willWatcher } from './nats-helpers.ts'

const skip = await natsServerMissing()

test('NATS down longer than the presence TTL: connects are refused meanwhile, and afterwards no live node is taken for dead', {
  skip,
}, async (t) => {
  const { s, nats, a, b } = await twoNodes(t)
  const { cli: c, port: cPort } = await cliNode(t, nats.url, 'c')
  const onB = await willWatcher(s, b, 'watch-b')
  const will = (name: string) => ({
    topic: `will/${name}`,
    payload: Buffer.from('gone'),
    qos: 1 as const,
    retain: false,
  })
  await mqttConnect(a.port, { clientId: 'on-a', reconnectPeriod: 0, keepalive: 0, will: will('on-a') }, s)
  await mqttConnect(b.port, { clientId: 'on-b', reconnectPeriod: 0, keepalive: 0, will: will('on-b') }, s)
  await mqttConnect(cPort, { clientId: 'on-c', reconnectPeriod: 0, keepalive: 0, will: will('on-c') }, s)

  await nats.stop('SIGKILL')
  // While NATS is away a node cannot make a client id unique: the CONNECT is refused.
  await assert.rejects(
    mqttConnect(a.port, { clientId: 'during', reconnectPeriod: 0, connectTimeout: 60_000 }, s),
    /Server unavailable/,
  )
  // Longer than the presence TTL (6 s): every heartbeat key has expired when the server is back.
  await new Promise((r) => setTimeout(r, 8000))
  const back = c.lines().length
  await nats.start()
  await c.waitForLog(
    (l) => String(l.msg).startsWith('cluster: NATS connection back'),
    'node c to reconnect',
    back,
  )
  await until(() => clusterOf(a)?.status().nats === 'connected', 'node a to reconnect', 60_000)
  const after = await mqttConnect(a.port, { clientId: 'after', reconnectPeriod: 0 }, s)
  assert.equal(after.connected, true)
  // A death after the outage is still seen: c's client's will comes, and only that one.
  c.child.kill('SIGKILL')
  await c.exited
  await until(
    () => onB.includes('will/on-c=gone'),
    'the will of the client of the node killed after the outage',
    60_000,
  )
  assert.deepEqual(onB, ['will/on-c=gone'], 'no will of a client of a live node')
})
