// The dashboard's Cluster view on a cluster node: the nodes alive and the one running the
// scripts, as JSON (/api/view/cluster) and in Chromium; a broker without --cluster says it runs
// alone. Real nats-server.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { type Broker, startBroker, webOf } from '../src/index.ts'
import { chromiumMissing, chromiumSkip, launchChromium } from './browser-helpers.ts'
import { type Cleanup, TIMEOUT } from './helpers.ts'
import { natsServerMissing, stack, startNatsServer } from './nats-helpers.ts'
import { tempDir } from './tls-helpers.ts'

const natsSkip = await natsServerMissing()

interface ClusterViewJson {
  cluster: {
    nodeId: string
    nats: string
    nodes: { id: string; self: boolean; scripts: boolean; since: number | null }[]
    scriptsNode: string | null
  } | null
}

async function clusterView(broker: Broker): Promise<ClusterViewJson> {
  const res = await fetch(`http://127.0.0.1:${webOf(broker)?.port}/api/view/cluster`)
  assert.equal(res.status, 200)
  return (await res.json()) as ClusterViewJson
}

/** Two nodes, `a` (with the dashboard) started first so it takes the scripts lease, then `b`. */
async function twoNodes(t: Cleanup): Promise<{ a: Broker; b: Broker }> {
  const s = stack(t)
  const nats = await startNatsServer(t)
  const scripts = await tempDir(t, 'tinymqtt-cluster-view-')
  await writeFile(join(scripts, 'hello.js'), "print('hello')\n")
  const start = async (node: string, http: boolean): Promise<Broker> => {
    const broker = await startBroker({
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      scripts,
      ...(http ? { http: 0 } : {}),
      cluster: { servers: [nats.url], node, leaseSeconds: 1 },
    })
    s.after(() => broker.close())
    return broker
  }
  const a = await start('a', true)
  const b = await start('b', false)
  return { a, b }
}

test('the Cluster view lists the nodes alive and the one running the scripts', {
  skip: natsSkip,
}, async (t) => {
  const { a } = await twoNodes(t)
  let view = await clusterView(a)
  // Presence is read at most once a second: ask until node b shows up.
  const deadline = Date.now() + TIMEOUT
  while ((view.cluster?.nodes.length ?? 0) < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    view = await clusterView(a)
  }
  const nodes = view.cluster?.nodes ?? []
  assert.deepEqual(
    nodes.map(({ id, self, scripts }) => ({ id, self, scripts })),
    [
      { id: 'a', self: true, scripts: true },
      { id: 'b', self: false, scripts: false },
    ],
  )
  // Each node's join time comes from its own heartbeat: a started before b, both in the past.
  const [sa = 0, sb = 0] = nodes.map((n) => n.since ?? 0)
  assert.ok(sa > 0 && sa <= sb && sb <= Date.now(), `since a=${sa} b=${sb}`)
  assert.equal(view.cluster?.scriptsNode, 'a')
  assert.equal(view.cluster?.nats, 'connected')
})

test('a broker without --cluster: the Cluster view says it runs alone', async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', http: 0 })
  t.after(() => broker.close())
  assert.deepEqual(await clusterView(broker), { cluster: null })
})

test('the Cluster view in Chromium', { skip: natsSkip || chromiumSkip }, async (t) => {
  if (chromiumMissing !== undefined) assert.fail(chromiumMissing)
  const { a } = await twoNodes(t)
  const browser = await launchChromium({ timeout: TIMEOUT })
  t.after(() => browser.close())
  const { page, errors } = browser
  await page.goto(`http://127.0.0.1:${webOf(a)?.port}/`)
  await page.click('button[data-view=cluster]')
  await page.locator('tr[data-node="b"]').waitFor()
  assert.match((await page.locator('tr[data-node="a"]').textContent()) ?? '', /this node.*runs the scripts/)
  assert.doesNotMatch((await page.locator('tr[data-node="b"]').textContent()) ?? '', /runs the scripts/)
  await page.locator('.card', { hasText: 'Scripts run on' }).locator('.big', { hasText: 'a' }).waitFor()
  assert.deepEqual(errors, [])
})
