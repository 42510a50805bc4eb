// The one home of each topic rule: topic names and filters (also as the guest prelude runs
// them), the level tree under subscriptions and retained messages, `$share` names, varints.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { LevelTree } from '../src/broker/level-tree.ts'
import {
  encodeVarint,
  MAX_VARINT,
  readVarint,
  VARINT_INCOMPLETE,
  VARINT_TOO_LONG,
  varintSize,
} from '../src/broker/protocol/varint.ts'
import { RetainedTree } from '../src/broker/retained.ts'
import { filterError, isValidFilter, parseSharedFilter, topicNameError } from '../src/broker/topic-rules.ts'
import { SubscriptionTree } from '../src/broker/topics.ts'
import { PRELUDE_SOURCE } from '../src/scripting/guest-prelude.ts'
import { loadScript } from '../src/testing.ts'

const names = ['a', 'a/b', '/', 'a//b', '$SYS/x', 'ü/ß', '', 'a/+', '#', 'a/#/b', 'a\u0000b', 'a b']
const filters = [
  'a',
  'a/+/b',
  '#',
  'a/#',
  '+',
  '$SYS/#',
  '/',
  '',
  'a/#/b',
  'a#',
  'a/b+',
  '#/a',
  'x\u0000',
  '+/+',
]

describe('topic names and filters', () => {
  it('a topic name is non-empty, without wildcards or U+0000', () => {
    for (const ok of ['a', 'a/b', '/', 'a//b', '$SYS/x', 'a b'])
      assert.equal(topicNameError(ok), undefined, ok)
    assert.match(topicNameError('') ?? '', /empty/)
    assert.match(topicNameError('a/+') ?? '', /wildcard/)
    assert.match(topicNameError('a/#') ?? '', /wildcard/)
    assert.match(topicNameError('a\u0000') ?? '', /U\+0000/)
  })

  it('a filter has + and # only as whole levels, # last', () => {
    for (const ok of ['a', 'a/+/b', '#', 'a/#', '+', '$SYS/#', '/', '+/+'])
      assert.equal(isValidFilter(ok), true, ok)
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/a', 'x\u0000'])
      assert.equal(isValidFilter(bad), false, bad)
    assert.equal(filterError('a/#/b'), "'#' must be a whole level and the last one: a/#/b")
  })

  it('the functions run on their own, as the guest prelude evaluates them', () => {
    // An empty context: any helper the build wrapped around the code (tsx's __name) would throw.
    const guestName = runInNewContext(`(${topicNameError.toString()})`, {}) as typeof topicNameError
    const guestFilter = runInNewContext(`(${filterError.toString()})`, {}) as typeof filterError
    for (const name of names) assert.equal(guestName(name), topicNameError(name), name)
    for (const filter of filters) assert.equal(guestFilter(filter), filterError(filter), filter)
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '/', '+', '#', '\u0000', '$') }), (s) => {
        assert.equal(guestName(s), topicNameError(s))
        assert.equal(guestFilter(s), filterError(s))
      }),
    )
  })

  it('the guest prelude holds the broker check itself, not a copy', () => {
    assert.ok(PRELUDE_SOURCE.includes(topicNameError.toString()))
    assert.doesNotMatch(PRELUDE_SOURCE, /indexOf\('[+#]'\)/)
  })

  it("a script's ms_publish refuses a topic with the broker's reason", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-topic-rules-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'bad-topics.js')
    await writeFile(
      file,
      // Topics are picked by index: quickjs-emscripten's newString ends a string handed to the guest at U+0000.
      `const topics = ['a/+/b', 'a/#', '', 'a\\u0000b', 'a/b']
      ms_subscribe('go', (t, i) => {
        try { ms_publish(topics[Number(i)], 'x'); ms_publish('out', 'sent') } catch (e) { ms_publish('out', e.name + ': ' + e.message) }
      })`,
    )
    const script = await loadScript(file)
    t.after(() => script.close())
    for (const [i, topic] of ['a/+/b', 'a/#', '', 'a\u0000b'].entries()) {
      await script.publish('go', String(i))
      const problem = topicNameError(topic)
      assert.deepEqual(
        script.take().map((m) => m.payload),
        [`TypeError: ms_publish: invalid topic ${JSON.stringify(topic)}: ${problem}`],
      )
    }
    await script.publish('go', '4')
    assert.deepEqual(
      script.take().map((m) => `${m.topic}=${m.payload}`),
      ['a/b=x', 'out=sent'],
    )
  })
})

describe('$share names', () => {
  it('splits group and filter, refuses malformed share names', () => {
    assert.deepEqual(parseSharedFilter('$share/g/a/+'), { group: 'g', filter: 'a/+' })
    assert.equal(parseSharedFilter('a/b'), undefined)
    for (const bad of ['$share/g', '$share//a', '$share/g+/a', '$share/g#/a', '$share/g/']) {
      assert.equal(parseSharedFilter(bad), 'invalid', bad)
    }
  })
})

describe('level tree', () => {
  it('prunes the branch a removed entry leaves empty, and keeps branches still in use', () => {
    const tree = new SubscriptionTree<string, number>()
    tree.add('a/b/c', 's1', 0)
    tree.add('a/x', 's2', 0)
    assert.equal(tree.remove('a/b/c', 's1'), true)
    assert.equal(tree.remove('a/b/c', 's1'), false)
    const seen: string[] = []
    tree.match('a/x', (s) => seen.push(s))
    assert.deepEqual(seen, ['s2'])
    assert.equal(tree.size, 1)

    const levels = new LevelTree<number>()
    const deep = levels.open('p/q/r')
    deep.value = 1
    levels.open('p').value = 2
    deep.value = undefined
    levels.prune(deep)
    assert.equal(levels.find('p/q'), undefined, 'empty levels below p are gone')
    assert.equal(levels.find('p')?.value, 2, 'p holds a value and stays')
  })

  it('subscription filters and retained topics agree on what matches', () => {
    const topics = ['a', 'a/b', 'a/b/c', '$SYS/x', '$SYS', 'b/a', '/a', 'a/']
    const filterList = ['#', '+', 'a/#', 'a/+', '+/+', '+/b/#', '$SYS/#', '/+', 'a/+/c', '+/a']
    for (const filter of filterList) {
      const subs = new SubscriptionTree<string, number>()
      subs.add(filter, 'sub', 0)
      const retained = new RetainedTree()
      for (const topic of topics) retained.set({ topic, payload: Buffer.from('x'), qos: 0, retain: true })
      const bySubscription = topics.filter((topic) => {
        let hit = false
        subs.match(topic, () => {
          hit = true
        })
        return hit
      })
      const byRetained = retained.match(filter).map((m) => m.topic)
      assert.deepEqual([...byRetained].sort(), [...bySubscription].sort(), filter)
    }
  })

  it('a leading wildcard never matches a $ topic', () => {
    const retained = new RetainedTree()
    retained.set({ topic: '$SYS/x', payload: Buffer.from('x'), qos: 0, retain: true })
    assert.deepEqual(retained.match('#'), [])
    assert.deepEqual(retained.match('+/x'), [])
    assert.equal(retained.match('$SYS/+').length, 1)
  })
})

describe('varint', () => {
  it('round-trips every size boundary and refuses a 5th byte', () => {
    const out = { value: -1 }
    for (const n of [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_VARINT]) {
      const bytes = encodeVarint(n)
      assert.equal(bytes.length, varintSize(n))
      assert.equal(readVarint(bytes, 0, bytes.length, out), bytes.length)
      assert.equal(out.value, n)
      assert.equal(readVarint(bytes, 0, bytes.length - 1, out), VARINT_INCOMPLETE)
    }
    assert.deepEqual([...encodeVarint(321)], [0xc1, 0x02])
    assert.equal(readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), 0, 5, out), VARINT_TOO_LONG)
  })
})
