// Issue 3, point 13: interop with Debian's mosquitto_pub / mosquitto_sub (package
// mosquitto-clients). Without the tools the tests are skipped with the reason, except under CI
// (CI=true), where a missing tool is a failure.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Message } from '../src/broker/types.ts'
import { defined } from './defined.ts'
import { Inbox, mqttConnect, startTestBroker, until, withTimeout } from './helpers.ts'
import { messagesAfterTimeout, requireMosquitto, runTool, type ToolResult } from './tools.ts'

/** Starts mosquitto_sub with -d and resolves once it has its SUBACK; `done` resolves on exit. */
async function startSub(args: string[]): Promise<{ done: Promise<ToolResult>; kill: () => void }> {
  // stdbuf -oL: mosquitto_sub's stdout is block-buffered into a pipe; the SUBACK line must come now.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  let subscribed: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    subscribed = resolve
  })
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (/received SUBACK/i.test(stdout)) subscribed()
  })
  const done = new Promise<ToolResult>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
  await withTimeout(
    Promise.race([
      ready,
      done.then((r) => Promise.reject(new Error(`mosquitto_sub exited: ${JSON.stringify(r)}`))),
    ]),
    'mosquitto_sub to subscribe',
  )
  return { done, kill: () => child.kill('SIGKILL') }
}

/** The message lines of mosquitto_sub -d output (debug lines start with "Client "). */
function messageLines(out: string): string[] {
  return out.split('\n').filter((l) => l !== '' && !l.startsWith('Client ') && !l.startsWith('Subscribed'))
}

test('mosquitto_pub -r stores a retained message that mosquitto_sub and MQTT.js receive', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const port = String(broker.port)
  const pub = await runTool('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'mq/ret',
    '-m',
    'hello',
    '-r',
    '-q',
    '1',
  ])
  assert.equal(pub.code, 0, pub.stderr)

  // %r = retain flag, %q = QoS, %t = topic, %p = payload.
  const sub = await runTool('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'mq/#',
    '-q',
    '1',
    '-C',
    '1',
    '-F',
    '%r %q %t %p',
  ])
  assert.equal(sub.code, 0, sub.stderr)
  assert.equal(sub.stdout.trim(), '1 1 mq/ret hello')

  const js = await mqttConnect(broker.port, { clientId: 'js-ret' }, t)
  const inbox = new Inbox(js)
  await js.subscribeAsync('mq/ret', { qos: 1 })
  const m = await inbox.waitFor((x) => x.topic === 'mq/ret')
  assert.deepEqual([m.payload, m.retain], ['hello', true])

  // An empty retained message (-n) deletes it: a new subscriber gets its SUBACK, then times out
  // with nothing (-W 3, long after a retained message would have come).
  assert.equal(
    (await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'mq/ret', '-n', '-r'])).code,
    0,
  )
  const none = await runTool('mosquitto_sub', [
    '-d',
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'mq/ret',
    '-C',
    '1',
    '-W',
    '3',
  ])
  assert.deepEqual(messagesAfterTimeout(none), [])
})

test('QoS 1 live: mosquitto_pub → broker → mosquitto_sub, and MQTT.js → mosquitto_sub', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const port = String(broker.port)
  const sub = await startSub([
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-i',
    'msub',
    '-t',
    'live/#',
    '-q',
    '1',
    '-C',
    '2',
    '-F',
    '%q %t %p',
  ])
  t.after(sub.kill)

  const pub = await runTool('mosquitto_pub', [
    '-d',
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-i',
    'mpub',
    '-t',
    'live/a',
    '-m',
    'one',
    '-q',
    '1',
  ])
  assert.equal(pub.code, 0, pub.stderr)
  assert.match(pub.stdout, /received PUBACK/i, 'the broker acknowledged the QoS 1 publish')

  const js = await mqttConnect(broker.port, { clientId: 'js-live' }, t)
  await js.publishAsync('live/b', 'two', { qos: 1 })

  const res = await withTimeout(sub.done, 'mosquitto_sub to get two messages')
  assert.equal(res.code, 0, res.stderr)
  assert.deepEqual(messageLines(res.stdout), ['1 live/a one', '1 live/b two'])
  assert.match(res.stdout, /Sending PUBACK/i, 'mosquitto_sub acknowledged QoS 1 deliveries')
})

test('QoS 2 from mosquitto_pub reaches an embedded subscriber exactly once', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('q2/#', (m) => got.push(m))
  const pub = await runTool('mosquitto_pub', [
    '-d',
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-i',
    'q2pub',
    '-t',
    'q2/x',
    '-m',
    'exactly',
    '-q',
    '2',
  ])
  assert.equal(pub.code, 0, pub.stderr)
  assert.match(pub.stdout, /received PUBCOMP/i)
  await until(() => got.length >= 1, 'the message')
  assert.equal(got.length, 1)
  const message = defined(got[0], 'the QoS 2 message')
  assert.deepEqual([message.payload.toString(), message.qos, message.clientId], ['exactly', 2, 'q2pub'])
})

test('-u / -P: the configured user works, a wrong password and no credentials are refused', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t, { user: 'ha', pass: 'pw' })
  const port = String(broker.port)
  const sub = await startSub([
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-u',
    'ha',
    '-P',
    'pw',
    '-t',
    'auth/t',
    '-C',
    '1',
    '-q',
    '1',
  ])
  t.after(sub.kill)
  const ok = await runTool('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-u',
    'ha',
    '-P',
    'pw',
    '-t',
    'auth/t',
    '-m',
    'in',
    '-q',
    '1',
  ])
  assert.equal(ok.code, 0, ok.stderr)
  const res = await withTimeout(sub.done, 'the authenticated subscriber')
  assert.deepEqual(messageLines(res.stdout), ['in'])

  const wrong = await runTool('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-u',
    'ha',
    '-P',
    'bad',
    '-t',
    'auth/t',
    '-m',
    'x',
  ])
  assert.notEqual(wrong.code, 0)
  assert.match(wrong.stderr + wrong.stdout, /bad user name or password|not authori[sz]ed|refused/i)

  const anon = await runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'auth/t', '-m', 'x'])
  assert.notEqual(anon.code, 0)
  assert.match(anon.stderr + anon.stdout, /not authori[sz]ed|refused/i)
})

test('mosquitto_sub -V mqttv31 (MQIsdp) receives from mosquitto_pub -V mqttv311', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const port = String(broker.port)
  const sub = await startSub(['-V', 'mqttv31', '-h', '127.0.0.1', '-p', port, '-t', 'v31/t', '-C', '1'])
  t.after(sub.kill)
  const pub = await runTool('mosquitto_pub', [
    '-V',
    'mqttv311',
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'v31/t',
    '-m',
    'old',
  ])
  assert.equal(pub.code, 0, pub.stderr)
  const res = await withTimeout(sub.done, 'the 3.1 subscriber')
  assert.deepEqual(messageLines(res.stdout), ['old'])
})

test('persistent session with mosquitto_sub -c: QoS 1 messages published while it is away are delivered', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const port = String(broker.port)
  const common = ['-h', '127.0.0.1', '-p', port, '-c', '-i', 'mq-persist', '-q', '1', '-t', 'away/#']
  // -E: subscribe, then disconnect at once (the session stays).
  const first = await runTool('mosquitto_sub', [...common, '-E'])
  assert.equal(first.code, 0, first.stderr)
  for (const m of ['one', 'two', 'three']) {
    const pub = await runTool('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      'away/x',
      '-m',
      m,
      '-q',
      '1',
    ])
    assert.equal(pub.code, 0, pub.stderr)
  }
  const back = await runTool('mosquitto_sub', [...common, '-C', '3'])
  assert.equal(back.code, 0, back.stderr)
  assert.deepEqual(back.stdout.trim().split('\n'), ['one', 'two', 'three'])
})

test('a will set by mosquitto_sub --will-topic is published when the tool is killed', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('mqwill/#', (m) => got.push(m))
  const sub = await startSub([
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-i',
    'mq-will',
    '-t',
    'nothing/here',
    '--will-topic',
    'mqwill/status',
    '--will-payload',
    'offline',
    '--will-qos',
    '1',
    '--will-retain',
  ])
  sub.kill() // SIGKILL: no DISCONNECT
  await until(() => got.length === 1, 'the will')
  const will = defined(got[0], 'the will')
  assert.deepEqual([will.topic, will.payload.toString(), will.qos], ['mqwill/status', 'offline', 1])
  // --will-retain: stored as retained.
  const late = await runTool('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-t',
    'mqwill/status',
    '-C',
    '1',
    '-F',
    '%r %p',
  ])
  assert.equal(late.stdout.trim(), '1 offline')
})

test('a 1 MB payload from mosquitto_pub -f arrives intact', async (t) => {
  if (!requireMosquitto(t)) return
  const dir = await mkdtemp(join(tmpdir(), 'tinymqtt-interop-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const payload = Buffer.alloc(1_000_000)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 256
  const file = join(dir, 'big.bin')
  await writeFile(file, payload)
  const broker = await startTestBroker(t)
  const got: Message[] = []
  broker.subscribe('big/file', (m) => got.push(m))
  const pub = await runTool('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-t',
    'big/file',
    '-f',
    file,
    '-q',
    '1',
  ])
  assert.equal(pub.code, 0, pub.stderr)
  await until(() => got.length === 1, 'the big message')
  assert.ok(defined(got[0], 'got[0]').payload.equals(payload), 'payload intact')
})
