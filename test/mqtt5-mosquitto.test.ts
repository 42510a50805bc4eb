// Issue 5 with Debian's mosquitto_pub / mosquitto_sub -V mqttv5 (a representative subset):
// properties forwarded both ways (user property, content type, response topic, correlation
// data, payload format), Session Expiry Interval, retained messages with Message Expiry.
// Skipped with a reason when mosquitto-clients is missing; under CI=true that is a failure.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { defined } from './defined.ts'
import {
  Inbox5,
  mqtt5,
  requireMosquitto,
  runTool,
  sleep,
  startTestBroker,
  TIMEOUT,
  uid,
} from './mqtt5-helpers.ts'
import { messagesAfterTimeout } from './tools.ts'

const base = (port: number): string[] => ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5']

/** The fields a mosquitto_sub -F line prints, separated by '|'. */
const FORMAT = '%t|%p|%C|%R|%D|%P|%E|%F|%r'

interface SubLine {
  topic: string
  payload: string
  contentType: string
  responseTopic: string
  correlation: string
  userProperty: string
  expiry: string
  format: string
  retain: string
}

function parseLine(line: string): SubLine {
  const [topic, payload, contentType, responseTopic, correlation, userProperty, expiry, format, retain] =
    line.split('|')
  return {
    topic: topic ?? '',
    payload: payload ?? '',
    contentType: contentType ?? '',
    responseTopic: responseTopic ?? '',
    correlation: correlation ?? '',
    userProperty: userProperty ?? '',
    expiry: expiry ?? '',
    format: format ?? '',
    retain: retain ?? '',
  }
}

function lines(out: string): string[] {
  return out.split('\n').filter((l) => l.length > 0)
}

test('mosquitto_pub -V mqttv5 → MQTT.js 5: user property, content type, response topic, correlation data, payload format, expiry forwarded', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const sub = await mqtt5(broker.port, {}, t)
  const inbox = new Inbox5(sub)
  await sub.subscribeAsync('mosq/props', { qos: 1 })
  const r = await runTool('mosquitto_pub', [
    ...base(broker.port),
    '-t',
    'mosq/props',
    '-q',
    '1',
    '-m',
    'hello from mosquitto',
    '-D',
    'publish',
    'user-property',
    'room',
    'kitchen',
    '-D',
    'publish',
    'content-type',
    'text/plain',
    '-D',
    'publish',
    'response-topic',
    'mosq/reply',
    '-D',
    'publish',
    'correlation-data',
    'corr-42',
    '-D',
    'publish',
    'payload-format-indicator',
    '1',
    '-D',
    'publish',
    'message-expiry-interval',
    '120',
  ])
  assert.equal(r.code, 0, r.stderr)
  const m = await inbox.waitFor((x) => x.topic === 'mosq/props', 'the message from mosquitto_pub')
  const p = m.packet.properties ?? {}
  assert.equal(m.payload.toString(), 'hello from mosquitto')
  assert.deepEqual({ ...p.userProperties }, { room: 'kitchen' })
  assert.equal(p.contentType, 'text/plain')
  assert.equal(p.responseTopic, 'mosq/reply')
  assert.deepEqual(p.correlationData, Buffer.from('corr-42'))
  assert.equal(p.payloadFormatIndicator, true)
  assert.ok(typeof p.messageExpiryInterval === 'number' && p.messageExpiryInterval <= 120)
})

test('MQTT.js 5 → mosquitto_sub -V mqttv5: the same properties arrive', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const child = spawn(
    'mosquitto_sub',
    [...base(broker.port), '-t', 'mosq/out', '-q', '1', '-F', `MSG ${FORMAT}`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  t.after(() => child.kill('SIGKILL'))
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  // mosquitto_sub flushes each message it prints: probe until one arrives, then it is subscribed.
  const pub = await mqtt5(broker.port, {}, t)
  const deadline = Date.now() + TIMEOUT
  while (!stdout.includes('|probe|')) {
    if (Date.now() > deadline) throw new Error(`mosquitto_sub never subscribed; stdout=${stdout}`)
    await pub.publishAsync('mosq/out', 'probe', { qos: 0 })
    await sleep(50)
  }
  await pub.publishAsync('mosq/out', 'to mosquitto', {
    qos: 1,
    properties: {
      contentType: 'application/x-test',
      responseTopic: 'mosq/answer',
      correlationData: Buffer.from('corr-7'),
      userProperties: { source: 'mqttjs' },
      payloadFormatIndicator: true,
      messageExpiryInterval: 90,
    },
  })
  const until = Date.now() + TIMEOUT
  while (!stdout.includes('|to mosquitto|')) {
    if (Date.now() > until) throw new Error(`no message at mosquitto_sub; stdout=${stdout}`)
    await sleep(20)
  }
  const line = lines(stdout).find((l) => l.includes('|to mosquitto|'))
  assert.ok(line, `a message line in ${stdout}`)
  const f = parseLine(line.slice(4))
  assert.equal(f.topic, 'mosq/out')
  assert.equal(f.payload, 'to mosquitto')
  assert.equal(f.contentType, 'application/x-test')
  assert.equal(f.responseTopic, 'mosq/answer')
  assert.equal(f.userProperty, 'source:mqttjs')
  assert.equal(f.format, '1')
  assert.ok(Number(f.expiry) > 0 && Number(f.expiry) <= 90, `expiry ${f.expiry}`)
  assert.equal(f.correlation, 'corr-7')
})

test('mosquitto_sub -V mqttv5 -c -x: the session keeps queued messages within its Session Expiry Interval', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const id = `mosq-sess-${uid()}`
  const args = [...base(broker.port), '-i', id, '-c', '-x', '60', '-q', '1', '-t', 'mosq/session']
  const first = await runTool('mosquitto_sub', [...args, '-E'])
  assert.equal(first.code, 0, first.stderr)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('mosq/session', 'queued while away', { qos: 1 })
  const second = await runTool('mosquitto_sub', [...args, '-C', '1', '-W', '20'], TIMEOUT)
  assert.equal(second.code, 0, second.stderr)
  assert.deepEqual(lines(second.stdout), ['queued while away'])
})

test('mosquitto_sub -V mqttv5 -x 1: after the Session Expiry Interval the session and its queue are gone', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  const id = `mosq-exp-${uid()}`
  const args = [...base(broker.port), '-i', id, '-c', '-q', '1', '-t', 'mosq/expire']
  const first = await runTool('mosquitto_sub', [...args, '-x', '1', '-E'])
  assert.equal(first.code, 0, first.stderr)
  const pub = await mqtt5(broker.port, {}, t)
  await pub.publishAsync('mosq/expire', 'should be freed', { qos: 1 })
  await sleep(2200)
  assert.equal(broker.sessionInfo(id), undefined, 'the expired session is still held')
  // -W 3: wait for anything queued, then exit by the time out (status 27) having subscribed.
  const second = await runTool('mosquitto_sub', [...args, '-d', '-x', '60', '-W', '3'], TIMEOUT)
  assert.deepEqual(messagesAfterTimeout(second), [], 'nothing queued survives')
})

test('mosquitto_pub -r with message-expiry-interval: an expired retained message is not delivered; a live one carries the remaining interval', async (t) => {
  if (!requireMosquitto(t)) return
  const broker = await startTestBroker(t)
  for (const [topic, expiry] of [
    ['mosq/ret/short', '1'],
    ['mosq/ret/long', '60'],
  ] as const) {
    const r = await runTool('mosquitto_pub', [
      ...base(broker.port),
      '-t',
      topic,
      '-q',
      '1',
      '-r',
      '-m',
      topic,
      '-D',
      'publish',
      'message-expiry-interval',
      expiry,
    ])
    assert.equal(r.code, 0, r.stderr)
  }
  await sleep(2200)
  const sub = await runTool(
    'mosquitto_sub',
    [...base(broker.port), '-d', '-t', 'mosq/ret/#', '-q', '1', '-W', '3', '-F', FORMAT],
    TIMEOUT,
  )
  const got = messagesAfterTimeout(sub).map(parseLine)
  assert.deepEqual(
    got.map((f) => f.topic),
    ['mosq/ret/long'],
  )
  assert.equal(defined(got[0], 'got[0]').retain, '1')
  // Held at least 2.2 s of its 60: the interval forwarded is what is left, so at most 58.
  const e = Number(defined(got[0], 'got[0]').expiry)
  assert.ok(e > 0 && e <= 58, `remaining interval ${defined(got[0], 'got[0]').expiry}`)
})
