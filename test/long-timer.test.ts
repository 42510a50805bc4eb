// Delays past Node's 2^31 − 1 ms timer limit (24.8 days): the long-timer helper fires at the
// deadline and not before, on a fake clock; script timers use it.
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { CertificateIdentities } from '../src/broker/access/certificate-identities.ts'
import { applyCertificateUsername } from '../src/listeners/certificate-username.ts'
import { resolveOptions } from '../src/scripting/options.ts'
import type { FromWorker } from '../src/scripting/protocol.ts'
import { ScriptVm, type VmHost } from '../src/scripting/script-vm.ts'
import { quickjsWasmModule } from '../src/scripting/vm-thread.ts'
import { maxTimerDelayMs, setLongInterval, setLongTimeout } from '../src/util/long-timer.ts'

const DAY = 86_400_000

/** A fake clock at 0 that also records every delay handed to setTimeout/setInterval. */
function fakeClock(t: TestContext): { delays: number[] } {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 })
  const delays: number[] = []
  const fakeTimeout = globalThis.setTimeout
  const fakeInterval = globalThis.setInterval
  t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms: number) => {
    delays.push(ms)
    return fakeTimeout(fn, ms)
  }) as typeof setTimeout)
  t.mock.method(globalThis, 'setInterval', ((fn: () => void, ms: number) => {
    delays.push(ms)
    return fakeInterval(fn, ms)
  }) as typeof setInterval)
  return { delays }
}

for (const [name, delay] of [
  ['40 days', 40 * DAY],
  ['2^32 s (MQTT 5 maximum interval)', 2 ** 32 * 1000],
  ['just past the limit', maxTimerDelayMs + 1],
] as const) {
  test(`setLongTimeout: ${name} fires at the deadline, not before`, (t) => {
    const { delays } = fakeClock(t)
    let fired = 0
    const timer = setLongTimeout(() => fired++, delay)
    assert.equal(timer.deadline, delay)
    t.mock.timers.tick(delay - 1)
    assert.equal(fired, 0, `not fired at ${Date.now()} ms`)
    t.mock.timers.tick(1)
    assert.equal(fired, 1)
    t.mock.timers.tick(100 * DAY)
    assert.equal(fired, 1, 'fired once')
    assert.ok(
      delays.every((d) => d <= maxTimerDelayMs),
      `no Node timer past the limit: ${delays}`,
    )
  })
}

test('setLongTimeout: a short delay is one plain timer', (t) => {
  const { delays } = fakeClock(t)
  let fired = 0
  setLongTimeout(() => fired++, 1500)
  assert.deepEqual(delays, [1500])
  t.mock.timers.tick(1499)
  assert.equal(fired, 0)
  t.mock.timers.tick(1)
  assert.equal(fired, 1)
})

test('setLongTimeout: cancelled between chunks, it never fires', (t) => {
  fakeClock(t)
  let fired = 0
  const timer = setLongTimeout(() => fired++, 100 * DAY)
  t.mock.timers.tick(60 * DAY)
  timer.cancel()
  timer.cancel()
  t.mock.timers.tick(100 * DAY)
  assert.equal(fired, 0)
})

test('setLongTimeout: Infinity never fires and arms nothing', (t) => {
  const { delays } = fakeClock(t)
  let fired = 0
  const timer = setLongTimeout(() => fired++, Number.POSITIVE_INFINITY)
  assert.equal(timer.deadline, Number.POSITIVE_INFINITY)
  t.mock.timers.tick(1000 * DAY)
  assert.equal(fired, 0)
  assert.deepEqual(delays, [])
})

test('setLongInterval: a 30-day period fires every 30 days, and stops when cancelled in its callback', (t) => {
  fakeClock(t)
  const at: number[] = []
  const timer = setLongInterval(() => {
    at.push(Date.now())
    if (at.length === 3) timer.cancel()
  }, 30 * DAY)
  t.mock.timers.tick(30 * DAY - 1)
  assert.deepEqual(at, [])
  t.mock.timers.tick(1)
  assert.deepEqual(at, [30 * DAY])
  assert.equal(timer.deadline, 60 * DAY)
  for (let day = 30; day < 300; day += 30) t.mock.timers.tick(30 * DAY)
  assert.deepEqual(at, [30 * DAY, 60 * DAY, 90 * DAY])
})

class FakeHost implements VmHost {
  readonly sent: FromWorker[] = []
  send(msg: FromWorker): void {
    this.sent.push(msg)
  }
  syncRequest() {
    return { ok: true as const }
  }
  enterCall(): void {}
  leaveCall(): void {}
  onCrash(): void {}
  logs(): string[] {
    return this.sent.flatMap((m) => (m.t === 'log' ? [m.msg] : []))
  }
}

test('a script setTimeout / setInterval of 30 days fires after 30 days, not before', async (t) => {
  const host = new FakeHost()
  const vm = await ScriptVm.create(
    'long.js',
    1,
    resolveOptions({ path: '.' }),
    await quickjsWasmModule(),
    host,
  )
  t.after(() => vm.dispose())
  fakeClock(t)
  const error = vm.evaluate(`
    const MONTH = 30 * 86400 * 1000
    setTimeout(() => print('timeout'), MONTH)
    setInterval(() => print('interval'), MONTH)
  `)
  assert.equal(error, undefined)
  t.mock.timers.tick(30 * DAY - 1)
  assert.deepEqual(host.logs(), [], 'nothing before 30 days')
  t.mock.timers.tick(1)
  assert.deepEqual(host.logs(), ['timeout', 'interval'])
  t.mock.timers.tick(30 * DAY)
  assert.deepEqual(host.logs(), ['timeout', 'interval', 'interval'])
})

test('a certificate-identity connection waits a configured connect timeout past 24.8 days in full', async (t) => {
  fakeClock(t)
  const stream = new PassThrough()
  const identities = new CertificateIdentities()
  let outcome: string | undefined
  applyCertificateUsername(stream, 'cn', identities, { maxPacketSize: 1024, timeoutMs: 30 * DAY }).then(
    () => {
      outcome = 'resolved'
    },
    (error: Error) => {
      outcome = error.message
    },
  )
  t.mock.timers.tick(30 * DAY - 1)
  await Promise.resolve()
  assert.equal(outcome, undefined, 'still waiting for CONNECT')
  t.mock.timers.tick(1)
  await Promise.resolve()
  assert.equal(outcome, 'no CONNECT in time')
})
