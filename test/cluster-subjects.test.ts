// The MQTT topic ⇄ NATS subject mapping: round trips, token validity, and that a topic matches
// an MQTT filter exactly when its subject matches one of the filter's subjects — checked with
// fast-check against a small NATS matcher, and for a fixed matrix against a live nats-server.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect } from '@nats-io/transport-node'
import fc from 'fast-check'
import { levelToToken, SubjectMapper, tokenToLevel } from '../src/cluster/subjects.ts'
import { MATRIX_FILTERS, MATRIX_TOPICS, topicMatches } from './helpers.ts'
import { natsServerMissing, startNatsServer } from './nats-helpers.ts'

const mapper = new SubjectMapper('tmq.msg')

/** NATS subject-filter semantics: `*` is one token, `>` one or more trailing tokens. */
function natsMatches(filter: string, subject: string): boolean {
  const f = filter.split('.')
  const s = subject.split('.')
  for (let i = 0; i < f.length; i++) {
    const tok = f[i]
    if (tok === '>') return s.length > i
    if (i >= s.length) return false
    if (tok !== '*' && tok !== s[i]) return false
  }
  return f.length === s.length
}

// Levels chosen to collide with one another and with the escape scheme itself.
const trickyLevel = fc.constantFrom(
  'a',
  'b',
  'A',
  '',
  '$SYS',
  '$',
  'a$',
  'a.b',
  '.',
  '*',
  '>',
  ' ',
  'a b',
  '=',
  '=2E',
  '=3D',
  '_',
  '-',
  'é',
  '日本',
  '😀',
  '\t',
)
const anyLevel = fc
  .string({ unit: 'binary', maxLength: 12 })
  .map((s) => s.replace(/[/+#]/g, 'x').replaceAll(String.fromCharCode(0), 'x'))
const level = fc.oneof(trickyLevel, anyLevel)
// An MQTT topic name is never empty [MQTT-4.7.3-1].
const topicArb = fc
  .array(level, { minLength: 1, maxLength: 5 })
  .map((ls) => ls.join('/'))
  .filter((t) => t.length > 0)

/** A filter built from levels of the same alphabet, with `+` and an optional trailing `#`. */
const filterArb = fc
  .tuple(fc.array(fc.oneof(trickyLevel, fc.constant('+')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'))
  .filter((f) => f.length > 0)

test('topic → subject → topic is the identity; every token is a valid NATS and KV token', () => {
  fc.assert(
    fc.property(topicArb, (topic) => {
      const subject = mapper.topicToSubject(topic)
      assert.equal(mapper.subjectToTopic(subject), topic)
      assert.match(subject, /^tmq\.msg\.[ts](\.[A-Za-z0-9_=-]+)+$/)
      assert.equal(subject.split('.').length, 3 + topic.split('/').length)
    }),
    { numRuns: 2000 },
  )
})

test('subject → topic → subject is the identity wherever a subject decodes at all', () => {
  const tokenArb = fc.string({
    unit: fc.constantFrom('a', 'Z', '0', '_', '-', '=', '2', 'E', 'C', '3', 'f'),
    minLength: 1,
    maxLength: 8,
  })
  fc.assert(
    fc.property(
      fc.constantFrom('t', 's', 'x'),
      fc.array(tokenArb, { minLength: 1, maxLength: 4 }),
      (cls, toks) => {
        const subject = `tmq.msg.${cls}.${toks.join('.')}`
        const topic = mapper.subjectToTopic(subject)
        if (topic !== undefined) assert.equal(mapper.topicToSubject(topic), subject)
      },
    ),
    { numRuns: 3000 },
  )
})

test('the escape scheme on the awkward levels, and refusal of non-canonical tokens', () => {
  assert.equal(levelToToken(''), '=')
  assert.equal(levelToToken('living-room_1'), 'living-room_1')
  assert.equal(levelToToken('a.b'), 'a=2Eb')
  assert.equal(levelToToken('$SYS'), '=24SYS')
  assert.equal(levelToToken('a b'), 'a=20b')
  assert.equal(levelToToken('*'), '=2A')
  assert.equal(levelToToken('>'), '=3E')
  assert.equal(levelToToken('='), '=3D')
  assert.equal(levelToToken('é'), '=C3=A9')
  assert.equal(levelToToken('😀'), '=F0=9F=98=80')
  assert.throws(() => levelToToken('a\ud800'), TypeError)
  assert.equal(mapper.topicToSubject('/'), 'tmq.msg.t.=.=')
  assert.equal(mapper.topicToSubject('$SYS/x'), 'tmq.msg.s.=24SYS.x')
  for (const bad of ['=41', '=c3=a9', '=C3', '=2', '=', 'a.b', 'a*', '=ZZ', '=C0=80']) {
    if (bad === '=') continue
    assert.equal(tokenToLevel(bad), undefined, bad)
  }
  assert.equal(mapper.subjectToTopic('tmq.msg.s.a'), undefined, "class 's' without a leading '$'")
  assert.equal(mapper.subjectToTopic('tmq.msg.t.=24SYS'), undefined, "class 't' with a leading '$'")
  assert.equal(mapper.subjectToTopic('other.t.a'), undefined)
  assert.equal(mapper.subjectToTopic('tmq.msg.t'), undefined)
  assert.equal(new SubjectMapper('').topicToSubject('a/b'), 't.a.b')
  assert.throws(() => new SubjectMapper('a..b'), RangeError)
  assert.throws(() => new SubjectMapper('a.*'), RangeError)
})

test('filters: + → *, a/# → a and a.>, # alone, $ topics kept from leading wildcards', () => {
  assert.deepEqual(mapper.filterToSubjects('a/#'), ['tmq.msg.t.a', 'tmq.msg.t.a.>'])
  assert.deepEqual(mapper.filterToSubjects('#'), ['tmq.msg.t.>'])
  assert.deepEqual(mapper.filterToSubjects('+/b'), ['tmq.msg.t.*.b'])
  assert.deepEqual(mapper.filterToSubjects('$SYS/#'), ['tmq.msg.s.=24SYS', 'tmq.msg.s.=24SYS.>'])
  assert.deepEqual(mapper.filterToSubjects('a//+'), ['tmq.msg.t.a.=.*'])
  for (const bad of ['', 'a/#/b', 'a#', 'a+/b', '#/a'])
    assert.throws(() => mapper.filterToSubjects(bad), RangeError, bad)
})

test('a topic matches an MQTT filter iff its subject matches one of the mapped subject filters', () => {
  fc.assert(
    fc.property(topicArb, filterArb, (topic, filter) => {
      const subject = mapper.topicToSubject(topic)
      const subjects = mapper.filterToSubjects(filter)
      const nats = subjects.some((f) => natsMatches(f, subject))
      assert.equal(
        nats,
        topicMatches(filter, topic),
        `${filter} vs ${topic}: ${subjects.join(' ')} vs ${subject}`,
      )
      // The two subjects of `a/#` never both match, so nothing is delivered twice.
      assert.ok(subjects.filter((f) => natsMatches(f, subject)).length <= 1)
    }),
    { numRuns: 5000 },
  )
})

test('a live nats-server agrees with MQTT matching on the topic/filter matrix', async (t) => {
  const missing = await natsServerMissing()
  if (missing) return t.skip(missing)
  const server = await startNatsServer(t)
  const nc = await connect({ servers: server.url })
  t.after(() => nc.close())
  const got = new Map<string, Set<string>>()
  for (const filter of MATRIX_FILTERS) {
    const seen = new Set<string>()
    got.set(filter, seen)
    for (const subject of mapper.filterToSubjects(filter)) {
      nc.subscribe(subject, {
        callback: (_err, msg) => {
          const topic = mapper.subjectToTopic(msg.subject)
          assert.ok(topic !== undefined)
          assert.ok(!seen.has(topic), `${filter} got ${topic} twice`)
          seen.add(topic)
        },
      })
    }
  }
  await nc.flush()
  for (const topic of MATRIX_TOPICS) nc.publish(mapper.topicToSubject(topic), topic)
  // A round trip after the publishes: the server has delivered them all by the time it answers.
  await nc.flush()
  for (const filter of MATRIX_FILTERS) {
    const expected = MATRIX_TOPICS.filter((topic) => topicMatches(filter, topic)).sort()
    assert.deepEqual([...(got.get(filter) ?? [])].sort(), expected, filter)
  }
})
