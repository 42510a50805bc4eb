import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { collect, nextMessage, type ScriptEnv, startEnv, until } from './scripting-helpers.ts'

// U+0000 is a valid character in an MQTT payload (and a common byte in binary ones). Strings
// cross into and out of the QuickJS VM as C strings, where a NUL would end them.
const NUL = '\u0000'

const scripts: Record<string, string> = {
  'nul.js': `
ms_subscribe('nul/in', (topic, payload, msg) => {
  ms_publish('nul/out', JSON.stringify({
    payload, length: payload.length, bytes: Array.from(msg.bytes), clientId: msg.clientId ?? null,
  }))
})
ms_subscribe('nul/echo', (topic, payload) => ms_publish('nul/echo/out', payload))
ms_subscribe('nul/get', () => {
  const v = ms_get('nul/in')
  ms_publish('nul/get/out', JSON.stringify({ payload: v === undefined ? null : v.payload }))
})
ms_subscribe('nul/log', (topic, payload) => print('logged:' + payload))
ms_subscribe('nul/fetch', async (topic, url) => {
  const r = await ms_fetch(url, { method: 'POST', body: 'req' + String.fromCharCode(0) + 'body' })
  ms_publish('nul/fetch/out', JSON.stringify({ text: r.text, length: r.text.length }))
})
`,
}

describe('scripts and U+0000', () => {
  let env: ScriptEnv
  before(async () => {
    env = await startEnv(scripts)
    await env.log.waitFor((l) => l.msg === 'script loaded' && l.script === 'nul.js')
  })
  after(() => env.close())

  it('delivers a payload with NUL whole, as text and as bytes', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'nul/out')
    await c.publishAsync('nul/in', `a${NUL}b`)
    const out = JSON.parse((await got).payload.toString())
    assert.equal(out.payload, `a${NUL}b`)
    assert.equal(out.length, 3)
    assert.deepEqual(out.bytes, [97, 0, 98])
  })

  it('keeps every message of a batch intact around payloads with NUL, with each one its own client id', async () => {
    const a = await env.client({ clientId: 'nul-a' })
    const b = await env.client({ clientId: 'nul-b' })
    const watcher = await env.client()
    const got = await collect(watcher, 'nul/out')
    const sent: string[] = []
    // Both clients publish without waiting, so the script gets the messages in batches that
    // mix the two client ids and NUL-carrying payloads with plain ones.
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 40; i++) {
      const fromA = `A${i}${i % 3 === 0 ? `${NUL}tail` : ''}`
      const fromB = `B${i}`
      sent.push(fromA, fromB)
      pending.push(a.publishAsync('nul/in', fromA), b.publishAsync('nul/in', fromB))
    }
    await Promise.all(pending)
    await until(() => got.length >= sent.length, 'every message echoed')
    const outs = got.map((m) => JSON.parse(m.payload) as { payload: string; clientId: string | null })
    assert.deepEqual(outs.map((o) => o.payload).sort(), [...sent].sort())
    for (const o of outs) assert.equal(o.clientId, o.payload.startsWith('A') ? 'nul-a' : 'nul-b', o.payload)
  })

  it('publishes a string with NUL from a script byte-exact', async () => {
    const c = await env.client()
    const got = nextMessage(c, 'nul/echo/out')
    await c.publishAsync('nul/echo', `x${NUL}y${NUL}`)
    assert.deepEqual([...(await got).payload], [120, 0, 121, 0])
  })

  it('gives ms_get the last value with its NUL', async () => {
    const c = await env.client()
    await c.publishAsync('nul/in', `last${NUL}value`, { qos: 1 })
    const got = nextMessage(c, 'nul/get/out')
    await c.publishAsync('nul/get', '', { qos: 1 })
    assert.equal(JSON.parse((await got).payload.toString()).payload, `last${NUL}value`)
  })

  it('sends an ms_fetch body with NUL whole and reads a response text with NUL whole', async () => {
    const received: Buffer[] = []
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push(Buffer.concat(chunks))
        res.end(`res${NUL}text${NUL}`)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const c = await env.client()
      const got = nextMessage(c, 'nul/fetch/out')
      await c.publishAsync('nul/fetch', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      const out = JSON.parse((await got).payload.toString())
      assert.deepEqual(out, { text: `res${NUL}text${NUL}`, length: 9 })
      assert.deepEqual(
        received.map((b) => b.toString()),
        [`req${NUL}body`],
      )
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('logs a printed NUL in place', async () => {
    const c = await env.client()
    const from = env.log.lines.length
    await c.publishAsync('nul/log', `p${NUL}q`)
    const line = await env.log.waitFor(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('logged:'),
      undefined,
      from,
    )
    assert.equal(line.msg, `logged:p${NUL}q`)
  })
})
