import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { ChangeFilter } from '../src/scripting/change-filter.ts'
import { collect, type ScriptEnv, startEnv, until } from './scripting-helpers.ts'

const scripts: Record<string, string> = {
  'mirror.js': `
// Two devices whose states are mirrored onto each other: without { changes: true } every
// echo would be mirrored again, forever.
ms_subscribe('mirror/a', (t, p) => ms_publish('mirror/b', p), { changes: true })
ms_subscribe('mirror/b', (t, p) => ms_publish('mirror/a', p), { changes: true })
ms_subscribe('mirror/ping', (t, p) => ms_publish('mirror/pong', p))
`,
  'changes.js': `
ms_subscribe('chg/#', (t, p, m) => ms_publish('chg-out/changes', t + '=' + p + ':' + m.bytes.length), { changes: true })
ms_subscribe('chg/#', (t, p) => ms_publish('chg-out/plain', t + '=' + p))
ms_subscribe('chg/off/#', (t, p) => ms_publish('chg-out/off', t + '=' + p), { changes: false })
`,
}

describe('ms_subscribe with { changes: true }', () => {
  let env: ScriptEnv
  let client: MqttClient

  before(async () => {
    env = await startEnv(scripts)
    client = await env.client()
  })
  after(async () => {
    await env.close()
  })

  /** One round trip through the mirror script: everything it was sent before has been handled. */
  async function roundTrip(got: Array<{ topic: string; payload: string }>, tag: string): Promise<void> {
    await client.publishAsync('mirror/ping', tag)
    await until(() => got.some((m) => m.topic === 'mirror/pong' && m.payload === tag), `pong ${tag}`)
  }

  it('a state mirrored back and forth stops after one round', async () => {
    const got = await collect(client, 'mirror/#')
    const count = (topic: string) => got.filter((m) => m.topic === topic).length
    await client.publishAsync('mirror/a', 'on')
    // a=on (client) → b=on (script) → a=on (script, a repeat: not mirrored again).
    await until(() => count('mirror/a') >= 2 && count('mirror/b') >= 1, 'the mirrored state')
    for (let i = 0; i < 3; i++) await roundTrip(got, `p${i}`)
    assert.equal(count('mirror/a'), 2)
    assert.equal(count('mirror/b'), 1)

    await client.publishAsync('mirror/b', 'off')
    await until(() => count('mirror/a') >= 3 && count('mirror/b') >= 3, 'the second state')
    for (let i = 3; i < 6; i++) await roundTrip(got, `p${i}`)
    assert.deepEqual(
      got
        .filter((m) => m.topic !== 'mirror/ping' && m.topic !== 'mirror/pong')
        .map((m) => `${m.topic}=${m.payload}`),
      ['mirror/a=on', 'mirror/b=on', 'mirror/a=on', 'mirror/b=off', 'mirror/a=off', 'mirror/b=off'],
    )
  })

  it('delivers the first message of a topic and every change, skips repeats', async () => {
    const changes = await collect(client, 'chg-out/changes')
    const plain = await collect(client, 'chg-out/plain')
    const off = await collect(client, 'chg-out/off')
    const big1 = 'x'.repeat(100)
    const big2 = `${'x'.repeat(99)}y`
    const sent: Array<[string, string]> = [
      ['chg/x', '1'],
      ['chg/x', '1'],
      ['chg/y', '1'],
      ['chg/x', '2'],
      ['chg/x', '2'],
      ['chg/x', '1'],
      ['chg/x', ''],
      ['chg/x', ''],
      ['chg/big', big1],
      ['chg/big', big1],
      ['chg/big', big2],
      ['chg/off/z', 'same'],
      ['chg/off/z', 'same'],
      ['chg/end', 'end'],
    ]
    for (const [topic, payload] of sent) await client.publishAsync(topic, payload)
    await until(() => changes.some((m) => m.payload.startsWith('chg/end=')), 'the last change')
    await until(() => plain.some((m) => m.payload.startsWith('chg/end=')), 'the last plain message')
    assert.deepEqual(
      changes.map((m) => m.payload),
      [
        'chg/x=1:1',
        'chg/y=1:1',
        'chg/x=2:1',
        'chg/x=1:1',
        'chg/x=:0',
        `chg/big=${big1}:100`,
        `chg/big=${big2}:100`,
        'chg/off/z=same:4',
        'chg/end=end:3',
      ],
    )
    // The plain subscription on the same filter still gets every message.
    assert.equal(plain.length, sent.length)
    assert.deepEqual(
      off.map((m) => m.payload),
      ['chg/off/z=same', 'chg/off/z=same'],
    )
  })
})

describe('ChangeFilter', () => {
  it('forgets the topic that changed longest ago beyond its cap, so that topic counts as changed again', () => {
    const filter = new ChangeFilter(2)
    const p = (s: string) => new TextEncoder().encode(s)
    assert.equal(filter.repeats('a', p('1')), false)
    assert.equal(filter.repeats('b', p('1')), false)
    assert.equal(filter.repeats('a', p('1')), true)
    assert.equal(filter.repeats('a', p('2')), false) // a is now the most recent change
    assert.equal(filter.repeats('c', p('1')), false) // evicts b
    assert.equal(filter.size, 2)
    assert.equal(filter.repeats('a', p('2')), true)
    assert.equal(filter.repeats('b', p('1')), false)
  })

  it('compares payloads kept as digests (large ones, or past the verbatim budget) as exactly', () => {
    const filter = new ChangeFilter()
    const payload = (topic: number, last: number) => {
      const bytes = new Uint8Array(3000).fill(topic & 0xff)
      bytes[2999] = last
      return bytes
    }
    // 40 topics × 3000 bytes is past the verbatim budget, so the later ones are digests.
    for (let t = 0; t < 40; t++) assert.equal(filter.repeats(`t${t}`, payload(t, 0)), false)
    for (let t = 0; t < 40; t++) assert.equal(filter.repeats(`t${t}`, payload(t, 0)), true, `t${t} repeat`)
    for (let t = 0; t < 40; t++) assert.equal(filter.repeats(`t${t}`, payload(t, 1)), false, `t${t} change`)
    const huge = new Uint8Array(100_000).fill(7)
    assert.equal(filter.repeats('huge', huge), false)
    assert.equal(filter.repeats('huge', huge.slice()), true)
    huge[50_000] = 8
    assert.equal(filter.repeats('huge', huge), false)
  })

  it('does not keep a view into the delivery buffer', () => {
    const filter = new ChangeFilter()
    const buffer = new Uint8Array([1, 2, 3])
    assert.equal(filter.repeats('t', buffer), false)
    buffer[0] = 9
    assert.equal(filter.repeats('t', new Uint8Array([1, 2, 3])), true)
  })
})
