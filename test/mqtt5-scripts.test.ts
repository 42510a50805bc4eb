// Issue 5, point 14: the `msg` argument of an ms_subscribe callback carries the MQTT 5
// properties (user properties, content type, response topic, correlation data as bytes,
// message expiry), and ms_publish accepts them in its options.
//
// The issue names the properties, not the field names; this suite assumes MQTT.js's names
// (`userProperties`, `contentType`, `responseTopic`, `correlationData`, `messageExpiryInterval`),
// found on `msg` itself or on `msg.properties`, and passes them to ms_publish both ways too.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startBroker } from '../src/index.ts'
import { defined } from './defined.ts'
import { Inbox5, mqtt5 } from './mqtt5-helpers.ts'

const SCRIPT = `
function props(msg) {
  const p = msg.properties || {}
  const pick = (k) => (msg[k] !== undefined ? msg[k] : p[k])
  const corr = pick('correlationData')
  return {
    userProperties: pick('userProperties') ?? null,
    contentType: pick('contentType') ?? null,
    responseTopic: pick('responseTopic') ?? null,
    correlationData: corr === undefined || corr === null ? null : Array.from(corr),
    correlationIsBytes: corr instanceof Uint8Array,
    messageExpiryInterval: pick('messageExpiryInterval') ?? null,
  }
}
ms_subscribe('s5/in', (topic, payload, msg) => {
  ms_publish('s5/seen', JSON.stringify(props(msg)))
})
ms_subscribe('s5/go', () => {
  const properties = {
    userProperties: { from: 'script', list: ['1', '2'] },
    contentType: 'application/json',
    responseTopic: 's5/reply',
    correlationData: new Uint8Array([1, 2, 3]),
    messageExpiryInterval: 60,
  }
  ms_publish('s5/out', '{"ok":true}', Object.assign({ qos: 1, retain: false, properties }, properties))
})
`

async function scriptedBroker(t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-mqtt5-scripts-'))
  await writeFile(join(dir, 'props.js'), SCRIPT)
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', scripts: dir })
  t.after(async () => {
    await broker.close()
    await rm(dir, { recursive: true, force: true })
  })
  return broker
}

interface Seen {
  userProperties: Record<string, string | string[]> | null
  contentType: string | null
  responseTopic: string | null
  correlationData: number[] | null
  correlationIsBytes: boolean
  messageExpiryInterval: number | null
}

test('scripts: msg of an ms_subscribe callback carries the MQTT 5 properties', async (t) => {
  const broker = await scriptedBroker(t)
  const watcher = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(watcher)
  await watcher.subscribeAsync('s5/seen', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('s5/in', 'x', {
    qos: 1,
    properties: {
      userProperties: { a: '1', b: ['2', '3'] },
      contentType: 'text/plain',
      responseTopic: 's5/answer',
      correlationData: Buffer.from([0xde, 0xad]),
      messageExpiryInterval: 45,
    },
  })
  const m = await inbox.waitFor((x) => x.topic === 's5/seen', 'what the script saw')
  const seen = JSON.parse(m.payload.toString()) as Seen
  assert.deepEqual(seen.userProperties, { a: '1', b: ['2', '3'] })
  assert.equal(seen.contentType, 'text/plain')
  assert.equal(seen.responseTopic, 's5/answer')
  assert.deepEqual(seen.correlationData, [0xde, 0xad])
  assert.equal(seen.correlationIsBytes, true, 'correlation data as bytes (Uint8Array)')
  assert.equal(typeof seen.messageExpiryInterval, 'number')
  assert.ok(
    defined(seen.messageExpiryInterval, 'seen.messageExpiryInterval') <= 45 &&
      defined(seen.messageExpiryInterval, 'seen.messageExpiryInterval') > 0,
  )
})

test('scripts: ms_publish accepts MQTT 5 properties in its options', async (t) => {
  const broker = await scriptedBroker(t)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('s5/out', { qos: 1 })
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('s5/go', '', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 's5/out', 'the script publication')
  const p = m.packet.properties ?? {}
  assert.deepEqual({ ...p.userProperties }, { from: 'script', list: ['1', '2'] })
  assert.equal(p.contentType, 'application/json')
  assert.equal(p.responseTopic, 's5/reply')
  assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]))
  assert.equal(typeof p.messageExpiryInterval, 'number')
  assert.ok(
    defined(p.messageExpiryInterval, 'p.messageExpiryInterval') <= 60 &&
      defined(p.messageExpiryInterval, 'p.messageExpiryInterval') > 0,
  )
})
