import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { aclAllows, parseAcl } from '../src/broker/access/acl.ts'
import { hashPassword } from '../src/broker/access/password-file.ts'
import { filterCovers, topicMatches } from '../src/broker/access/topic-match.ts'
import { type Broker, startBroker } from '../src/index.ts'
import { startScripting } from '../src/scripting/index.ts'
import {
  barrier,
  collect,
  connect,
  guard,
  MemoryLog,
  nextMessage,
  subackCodes,
  tempDir,
} from './tls-helpers.ts'

const aclText = `
# Lines before any user apply to anonymous clients.
topic read public/#

user alice
topic readwrite home/#
topic deny home/secret
topic write alerts/#

user bob
topic read home/+/temperature
topic readwrite bob's room/#

# Patterns apply to everyone, wherever they stand.
pattern readwrite devices/%u/#
pattern write clients/%c/status
pattern read $SYS/broker/%u
`

test('parseAcl: anonymous section, users, patterns, default readwrite, filters with spaces', () => {
  const rules = parseAcl(aclText)
  assert.deepEqual(
    rules.anonymous.map((e) => [e.access, e.filter]),
    [['read', 'public/#']],
  )
  assert.deepEqual(
    rules.users.get('bob')?.map((e) => [e.access, e.filter]),
    [
      ['read', 'home/+/temperature'],
      ['readwrite', "bob's room/#"],
    ],
  )
  assert.equal(rules.patterns.length, 3)
  assert.deepEqual(
    parseAcl('user x\ntopic a/b c\n')
      .users.get('x')
      ?.map((e) => [e.access, e.filter]),
    [['readwrite', 'a/b c']],
  )
})

test('parseAcl refuses unknown keywords and bad filters with the line number', () => {
  assert.throws(() => parseAcl('user a\ntopik read x\n'), /line 2: unknown keyword "topik"/)
  assert.throws(() => parseAcl('topic read a/#/b\n'), /line 1: invalid topic filter/)
  assert.throws(() => parseAcl('topic\n'), /line 1/)
})

test('aclAllows: read, write, readwrite, deny first, anonymous, unknown users, patterns with %u and %c', () => {
  const rules = parseAcl(aclText)
  const alice = { clientId: 'phone', username: 'alice' }
  const bob = { clientId: 'bob-pc', username: 'bob' }
  const anon = { clientId: 'anon-1' }
  const eve = { clientId: 'eve-1', username: 'eve' }
  // alice: readwrite home/#, deny home/secret, write-only alerts/#
  assert.equal(aclAllows(rules, alice, 'write', 'home/kitchen/light'), true)
  assert.equal(aclAllows(rules, alice, 'read', 'home/kitchen/light'), true)
  assert.equal(aclAllows(rules, alice, 'read', 'home/secret'), false)
  assert.equal(aclAllows(rules, alice, 'write', 'home/secret'), false)
  assert.equal(aclAllows(rules, alice, 'write', 'alerts/fire'), true)
  assert.equal(aclAllows(rules, alice, 'read', 'alerts/fire'), false)
  assert.equal(aclAllows(rules, alice, 'read', 'public/news'), false, 'anonymous lines are not for users')
  // bob: read-only single-level wildcard
  assert.equal(aclAllows(rules, bob, 'read', 'home/kitchen/temperature'), true)
  assert.equal(aclAllows(rules, bob, 'write', 'home/kitchen/temperature'), false)
  assert.equal(aclAllows(rules, bob, 'read', 'home/kitchen/humidity'), false)
  assert.equal(aclAllows(rules, bob, 'write', "bob's room/lamp"), true)
  // anonymous
  assert.equal(aclAllows(rules, anon, 'read', 'public/news'), true)
  assert.equal(aclAllows(rules, anon, 'write', 'public/news'), false)
  // a user without entries has only the patterns
  assert.equal(aclAllows(rules, eve, 'read', 'public/news'), false)
  assert.equal(aclAllows(rules, eve, 'write', 'devices/eve/x'), true)
  assert.equal(aclAllows(rules, eve, 'write', 'devices/alice/x'), false)
  assert.equal(aclAllows(rules, eve, 'write', 'clients/eve-1/status'), true)
  assert.equal(aclAllows(rules, eve, 'read', 'clients/eve-1/status'), false)
  assert.equal(aclAllows(rules, alice, 'write', 'clients/phone/status'), true)
  // %u without a user name does not apply; ids with wildcards do not widen a pattern
  assert.equal(aclAllows(rules, anon, 'write', 'devices//x'), false)
  assert.equal(aclAllows(rules, { clientId: '#', username: '+' }, 'write', 'devices/x/y'), false)
  assert.equal(aclAllows(rules, { clientId: 'a/b' }, 'write', 'clients/a/b/status'), false)
  // $ topics need an explicit $ entry
  assert.equal(aclAllows(rules, bob, 'read', '$SYS/broker/bob'), true)
  assert.equal(
    aclAllows(parseAcl('user root\ntopic #\n'), { clientId: 'r', username: 'root' }, 'read', '$SYS/x'),
    false,
  )
})

test('subscribe: a filter is allowed only inside a readable entry, and not inside a deny', () => {
  const rules = parseAcl(aclText)
  const alice = { clientId: 'phone', username: 'alice' }
  const bob = { clientId: 'bob-pc', username: 'bob' }
  assert.equal(aclAllows(rules, alice, 'subscribe', 'home/#'), true)
  assert.equal(aclAllows(rules, alice, 'subscribe', 'home/+/light'), true)
  assert.equal(aclAllows(rules, alice, 'subscribe', '#'), false)
  assert.equal(aclAllows(rules, alice, 'subscribe', 'home/secret'), false)
  assert.equal(aclAllows(rules, alice, 'subscribe', 'alerts/#'), false, 'write-only')
  assert.equal(aclAllows(rules, bob, 'subscribe', 'home/+/temperature'), true)
  assert.equal(aclAllows(rules, bob, 'subscribe', 'home/kitchen/temperature'), true)
  assert.equal(aclAllows(rules, bob, 'subscribe', 'home/#'), false)
  assert.equal(filterCovers('a/#', 'a'), true)
  assert.equal(filterCovers('a/+', 'a/#'), false)
  assert.equal(filterCovers('+/b', '+/b'), true)
  assert.equal(topicMatches('#', '$SYS/x'), false)
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true)
})

interface Setup {
  broker: Broker
  log: MemoryLog
  url: string
  aclFile: string
}

async function brokerWithAcl(t: { after(fn: () => unknown): void }, acl: string): Promise<Setup> {
  const dir = await tempDir(t)
  const aclFile = join(dir, 'acl')
  const passwordFile = join(dir, 'passwd')
  await writeFile(aclFile, acl)
  await writeFile(
    passwordFile,
    ['alice', 'bob', 'admin'].map((user) => `${user}:${hashPassword(`${user}-pw`)}`).join('\n'),
  )
  const log = new MemoryLog()
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logger: log.logger, aclFile, passwordFile })
  t.after(() => broker.close())
  return { broker, log, url: `mqtt://127.0.0.1:${broker.port}`, aclFile }
}

const socketAcl = `${aclText}
user admin
topic readwrite #
`

const as = (user: string, clientId = `${user}-client`) => ({
  username: user,
  password: `${user}-pw`,
  clientId,
})

test('MQTT 3.1.1: a denied PUBLISH is acknowledged and dropped, and logged', async (t) => {
  const { url, log } = await brokerWithAcl(t, socketAcl)
  const admin = await connect(t, url, as('admin'))
  await admin.subscribeAsync('#', { qos: 1 })
  const seen = collect(admin)
  const bob = await connect(t, url, as('bob'))
  // bob may only read home/+/temperature and use "bob's room/#"; the QoS 1 PUBACK still comes.
  await guard(
    bob.publishAsync('home/kitchen/temperature', 'forged', { qos: 1 }),
    'PUBACK for a denied publish',
  )
  await bob.publishAsync('home/kitchen/temperature', 'forged', { qos: 0 })
  await barrier(bob, admin, "bob's room/barrier")
  assert.deepEqual(
    seen.map((m) => m.topic),
    ["bob's room/barrier"],
  )
  await log.waitFor('publish denied', (r) => r.clientId === 'bob-client')
})

test('MQTT 3.1.1: a denied SUBSCRIBE gets 0x80; an allowed one in the same packet is granted', async (t) => {
  const { url, log } = await brokerWithAcl(t, socketAcl)
  const alice = await connect(t, url, as('alice'))
  assert.deepEqual(await subackCodes(alice, ['home/#', '#', 'alerts/#'], 1), [1, 128, 128])
  await log.waitFor('subscription denied', (r) => r.filter === '#')
})

test('a shared subscription is judged by the filter after its share name', async (t) => {
  const { url } = await brokerWithAcl(t, socketAcl)
  const alice = await connect(t, url, as('alice'))
  // alice reads home/# but not home/secret, and may only write alerts/#.
  assert.deepEqual(
    await subackCodes(
      alice,
      ['$share/g/home/#', '$share/g/home/+/x', '$share/g/alerts/#', '$share/home/x'],
      1,
    ),
    [1, 1, 128, 128],
  )
})

test('delivery is checked per message: a wildcard subscription does not read a denied topic', async (t) => {
  const { url } = await brokerWithAcl(t, socketAcl)
  const alice = await connect(t, url, as('alice'))
  await alice.subscribeAsync('home/#', { qos: 1 })
  const seen = collect(alice)
  const admin = await connect(t, url, as('admin'))
  await admin.publishAsync('home/secret', 'pin 1234', { qos: 1 })
  await admin.publishAsync('home/hall/light', 'on', { qos: 1 })
  await barrier(admin, alice, 'home/barrier')
  assert.deepEqual(
    seen.map((m) => m.topic),
    ['home/hall/light', 'home/barrier'],
  )
})

test('retained messages on a denied topic are not sent on subscribe', async (t) => {
  const { url } = await brokerWithAcl(t, socketAcl)
  const admin = await connect(t, url, as('admin'))
  await admin.publishAsync('home/secret', 'kept', { qos: 1, retain: true })
  await admin.publishAsync('home/open', 'kept', { qos: 1, retain: true })
  const alice = await connect(t, url, as('alice'))
  const seen = collect(alice)
  await alice.subscribeAsync('home/#', { qos: 1 })
  await barrier(admin, alice, 'home/barrier')
  assert.deepEqual(
    seen.map((m) => m.topic),
    ['home/open', 'home/barrier'],
  )
})

test('patterns: %u and %c give each client its own subtree', async (t) => {
  const { url } = await brokerWithAcl(t, socketAcl)
  const admin = await connect(t, url, as('admin'))
  await admin.subscribeAsync(['devices/#', 'clients/#'], { qos: 1 })
  const seen = collect(admin)
  const bob = await connect(t, url, as('bob', 'bob-pc'))
  await bob.publishAsync('devices/bob/state', 'mine', { qos: 1 })
  await bob.publishAsync('devices/alice/state', 'not mine', { qos: 1 })
  await bob.publishAsync('clients/bob-pc/status', 'online', { qos: 1 })
  await bob.publishAsync('clients/other/status', 'spoofed', { qos: 1 })
  await barrier(bob, admin, 'devices/bob/barrier')
  assert.deepEqual(
    seen.map((m) => `${m.topic}=${m.payload}`),
    ['devices/bob/state=mine', 'clients/bob-pc/status=online', 'devices/bob/barrier=barrier'],
  )
  const sub = await subackCodes(bob, ['devices/bob/#', 'devices/alice/#', 'clients/bob-pc/status'])
  assert.deepEqual(sub, [0, 128, 128])
})

test('anonymous clients get the lines before the first user (no password file)', async (t) => {
  const dir = await tempDir(t)
  const aclFile = join(dir, 'acl')
  await writeFile(aclFile, 'topic read public/#\nuser admin\ntopic #\n')
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', aclFile })
  t.after(() => broker.close())
  const url = `mqtt://127.0.0.1:${broker.port}`
  const anon = await connect(t, url)
  assert.deepEqual(await subackCodes(anon, ['public/#', 'private/#']), [0, 128])
  const arrived = nextMessage(anon, 'public/news')
  await broker.publish({ topic: 'public/news', payload: 'hello' })
  assert.equal((await arrived).payload, 'hello')
})

test('MQTT 5: a denied SUBSCRIBE gets 0x87 and a denied QoS 1 PUBLISH a PUBACK 0x87', async (t) => {
  const { url } = await brokerWithAcl(t, socketAcl)
  const bob = await connect(t, url, { ...as('bob'), protocolVersion: 5 })
  assert.deepEqual(await subackCodes(bob, ['home/+/temperature', 'home/#']), [0, 0x87])
  const puback = await guard(
    new Promise<number | undefined>((resolve) => {
      bob.publish('home/kitchen/temperature', 'forged', { qos: 1 }, (error, packet) => {
        const code = (error as (Error & { code?: number }) | undefined)?.code
        resolve(code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode)
      })
    }),
    'the PUBACK',
  )
  assert.equal(puback, 0x87)
})

test('the ACL file is re-read when it changes; a broken edit keeps the last good rules', async (t) => {
  const { url, log, aclFile } = await brokerWithAcl(t, socketAcl)
  const alice = await connect(t, url, as('alice'))
  assert.deepEqual(await subackCodes(alice, ['garden/#']), [128])
  await writeFile(aclFile, `${socketAcl}\nuser alice\ntopic read garden/#\n`)
  await log.waitFor('ACL file reloaded')
  assert.deepEqual(await subackCodes(alice, ['garden/#']), [0])
  await writeFile(aclFile, 'this is not an acl\n')
  await log.waitFor('cannot reload ACL file')
  assert.deepEqual(await subackCodes(alice, ['garden/#']), [0])
})

test('scripts and in-process subscribers bypass the ACL', async (t) => {
  const { broker, url } = await brokerWithAcl(t, socketAcl)
  // The script reads and writes forbidden/#, which no socket client but admin may touch; alice
  // (readwrite home/#) only starts it.
  const dir = await tempDir(t)
  await writeFile(
    join(dir, 'relay.js'),
    `ms_subscribe('home/hall', (t, p) => ms_publish('forbidden/in', p))
ms_subscribe('forbidden/in', (t, p) => ms_publish('forbidden/out', 'script read ' + p))
`,
  )
  const host = await startScripting(broker, { path: dir, watch: false })
  t.after(() => host.close())
  assert.equal(host.scripts().find((s) => s.name === 'relay.js')?.status, 'running')
  const received: string[] = []
  broker.subscribe('#', (msg) => received.push(`${msg.topic}=${msg.payload.toString()}`))
  const admin = await connect(t, url, as('admin'))
  await admin.subscribeAsync('forbidden/#', { qos: 1 })
  const seen = collect(admin)
  const alice = await connect(t, url, as('alice'))
  // The same topics are closed to alice over MQTT: her own write is dropped, her read refused.
  assert.deepEqual(await subackCodes(alice, ['forbidden/#'], 1), [128])
  await alice.publishAsync('forbidden/in', 'from alice', { qos: 1 })
  const out = new Promise<void>((resolve) =>
    admin.on('message', (topic) => {
      if (topic === 'forbidden/out') resolve()
    }),
  )
  await alice.publishAsync('home/hall', 'x', { qos: 1 })
  await guard(out, 'the script answering on forbidden/out')
  assert.deepEqual(
    seen.map((m) => `${m.topic}=${m.payload}`),
    ['forbidden/in=x', 'forbidden/out=script read x'],
    "the script wrote and read forbidden/#; alice's own publish there was dropped",
  )
  await broker.publish({ topic: 'anything/at/all', payload: 'y' })
  assert.deepEqual(received, [
    'home/hall=x',
    'forbidden/in=x',
    'forbidden/out=script read x',
    'anything/at/all=y',
  ])
})
