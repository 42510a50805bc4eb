// Unit tests for the parts of the scripting host that a black-box test cannot reach
// precisely: handle ownership inside one VM, error locations, topic rules, the throttle.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  filterError as topicFilterProblem,
  topicNameError as topicNameProblem,
} from '../src/broker/topic-rules.ts'
import { formatScriptError, locateError } from '../src/scripting/error-location.ts'
import { resolveOptions } from '../src/scripting/options.ts'
import type { FromWorker } from '../src/scripting/protocol.ts'
import { RateLimiter } from '../src/scripting/rate-limiter.ts'
import { ScriptVm, type VmHost } from '../src/scripting/script-vm.ts'
import { quickjsWasmModule } from '../src/scripting/vm-thread.ts'
import { defined } from './defined.ts'

class FakeHost implements VmHost {
  readonly sent: FromWorker[] = []
  crashes = 0
  onSend: ((msg: FromWorker) => void) | undefined
  send(msg: FromWorker): void {
    this.sent.push(msg)
    this.onSend?.(msg)
  }
  syncRequest() {
    return { ok: true as const }
  }
  enterCall(): void {}
  leaveCall(): void {}
  onCrash(): void {
    this.crashes++
  }
  logs(): string[] {
    return this.sent.flatMap((m) => (m.t === 'log' ? [m.msg] : []))
  }
  count(t: FromWorker['t']): number {
    return this.sent.filter((m) => m.t === t).length
  }
}

async function newVm(host: FakeHost, name = 'unit.js'): Promise<ScriptVm> {
  return ScriptVm.create(name, 1, resolveOptions({ path: '.' }), await quickjsWasmModule(), host)
}

function deliver(vm: ScriptVm, subId: number, topic: string, payload = ''): void {
  vm.enqueue({ subId, topic, payload: Buffer.from(payload), qos: 0, retain: false, clientId: undefined })
  vm.flushDeliveries()
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('ScriptVm handle discipline', () => {
  it('disposes a VM with live subscriptions, intervals and timeouts without leaking a handle', async () => {
    for (let round = 0; round < 5; round++) {
      const host = new FakeHost()
      const vm = await newVm(host)
      const error = vm.evaluate(`
        const keep = []
        for (let i = 0; i < 20; i++) keep.push(ms_subscribe('t/' + i, (t, p, m) => keep.push(m)))
        setInterval(() => {}, 1000)
        setTimeout(() => {}, 1000)
        export function deinit() { print('bye') }
      `)
      assert.equal(error, undefined)
      assert.equal(vm.callExport('deinit'), undefined)
      // QuickJS aborts at runtime dispose when a handle is still owned: this must not throw.
      vm.dispose()
      vm.dispose()
      assert.equal(host.count('disposed'), 1)
      assert.equal(host.crashes, 0)
    }
  })

  it('defers disposal requested while a callback runs until it returns', async () => {
    const host = new FakeHost()
    const vm = await newVm(host)
    vm.evaluate(`ms_subscribe('x', () => { print('before'); print('after'); ms_publish('out', 'done') })`)
    host.onSend = (msg) => {
      if (msg.t === 'log' && msg.msg === 'before') vm.dispose()
    }
    deliver(vm, 1, 'x')
    assert.deepEqual(host.logs(), ['before', 'after'])
    assert.equal(host.count('disposed'), 1)
    assert.equal(vm.alive, false)
    // The callback ran to its end: its publish was still handed over before the VM went away.
    assert.equal(host.count('pub'), 1)
  })

  it('lets a callback unsubscribe itself and an interval clear itself', async () => {
    const host = new FakeHost()
    const vm = await newVm(host)
    vm.evaluate(`
      let id = ms_subscribe('once', () => { print('once'); ms_unsubscribe(id) })
      let n = 0
      const iv = setInterval(() => { if (++n === 3) { clearInterval(iv); print('cleared') } }, 1)
    `)
    deliver(vm, 1, 'once')
    deliver(vm, 1, 'once')
    while (!host.logs().includes('cleared')) await sleep(5)
    assert.deepEqual(host.logs(), ['once', 'cleared'])
    assert.equal(host.count('unsub'), 1)
    const timers = host.sent.filter((m) => m.t === 'timers').at(-1)
    assert.deepEqual(timers, { t: 'timers', vmId: 1, count: 0 })
    vm.dispose()
    assert.equal(host.crashes, 0)
  })

  it('skips the rest of a batch for a subscription ended inside that batch', async () => {
    const host = new FakeHost()
    const vm = await newVm(host)
    vm.evaluate(`
      const id = ms_subscribe('a', (t, p) => print('a:' + p))
      ms_subscribe('stop', () => ms_unsubscribe(id))
    `)
    for (const [subId, topic, payload] of [
      [1, 'a', '1'],
      [2, 'stop', ''],
      [1, 'a', '2'],
    ] as const) {
      vm.enqueue({ subId, topic, payload: Buffer.from(payload), qos: 0, retain: false, clientId: undefined })
    }
    vm.flushDeliveries()
    assert.deepEqual(host.logs(), ['a:1'])
    vm.dispose()
  })

  it('resumes a batch after an interrupted callback', async () => {
    const host = new FakeHost()
    const vm = await ScriptVm.create(
      'spin.js',
      1,
      // Wall-clock: wide enough that the calls that must finish do, on a busy machine.
      resolveOptions({ path: '.', cpuLimitMs: 1000 }),
      await quickjsWasmModule(),
      host,
    )
    vm.evaluate(`ms_subscribe('m', (t, p) => { if (p === 'spin') for (;;) {} ; print(p) })`)
    for (const p of ['1', 'spin', '2']) {
      vm.enqueue({
        subId: 1,
        topic: 'm',
        payload: Buffer.from(p),
        qos: 0,
        retain: false,
        clientId: undefined,
      })
    }
    vm.flushDeliveries()
    const logs = host.logs()
    assert.equal(logs[0], '1')
    assert.match(defined(logs[1], 'logs[1]'), /^spin\.js:1:\d+ InternalError: interrupted/)
    assert.equal(logs[2], '2')
    vm.dispose()
  })
})

describe('ScriptVm memory cap', () => {
  it('keeps a script that allocates without bound inside its own WebAssembly memory', async () => {
    const host = new FakeHost()
    const limit = 24 * 1024 * 1024
    const vm = await ScriptVm.create(
      'hog.js',
      1,
      // The CPU limit (wall-clock) out of reach: on a busy machine it must not end the fill first.
      resolveOptions({ path: '.', memoryLimitBytes: limit, cpuLimitMs: 600_000 }),
      await quickjsWasmModule(),
      host,
    )
    vm.evaluate(`
      globalThis.keep = []
      ms_subscribe('grow', () => { for (;;) keep.push(new Uint8Array(64 * 1024)) })
      ms_subscribe('alive', () => print('alive ' + keep.length))
    `)
    deliver(vm, 1, 'grow')
    deliver(vm, 1, 'grow') // the memory is still full: it fails again, still within the cap
    assert.ok(vm.memoryBytes <= limit, `${vm.memoryBytes} > ${limit}`)
    assert.equal(host.logs().filter((l) => /out of memory/.test(l)).length, 2)
    deliver(vm, 2, 'alive')
    assert.match(host.logs().at(-1) ?? '', /^alive \d+$/)
    vm.dispose()
    assert.equal(host.crashes, 0)
  })
})

describe('error locations', () => {
  it('takes the first frame in the script file', () => {
    const e = locateError('a.js', {
      name: 'TypeError',
      message: 'boom',
      stack: '    at dispatch (<tinymqtt>:10:3)\n    at f (a.js:3:19)\n    at g (a.js:4:22)\n',
    })
    assert.equal(formatScriptError(e), 'a.js:3:19 TypeError: boom')
  })

  it('cuts long stacks', () => {
    const stack = Array.from({ length: 40 }, (_, i) => `    at f (a.js:${i + 1}:1)`).join('\n')
    const e = locateError('a.js', { name: 'RangeError', message: 'deep', stack })
    assert.ok((e.stack ?? '').split('\n').length <= 7)
    assert.match(e.stack ?? '', /34 more frames/)
  })

  it('falls back to the file name when there is no frame', () => {
    assert.equal(formatScriptError(locateError('a.js', { message: 'x' })), 'a.js x')
  })
})

describe('topic rules', () => {
  it('accepts MQTT filters and rejects misplaced wildcards', () => {
    for (const ok of ['a', 'a/+/b', '#', 'a/#', '+', '$SYS/#', '/'])
      assert.equal(topicFilterProblem(ok), undefined)
    for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/a']) assert.notEqual(topicFilterProblem(bad), undefined)
  })
  it('rejects wildcards in topic names', () => {
    assert.equal(topicNameProblem('a/b'), undefined)
    for (const bad of ['', 'a/+', 'a/#']) assert.notEqual(topicNameProblem(bad), undefined)
  })
})

describe('RateLimiter', () => {
  it('allows the burst, then the sustained rate, and counts what it refused', () => {
    let now = 0
    const limiter = new RateLimiter(10, 5, () => now)
    let allowed = 0
    for (let i = 0; i < 20; i++) if (limiter.take()) allowed++
    assert.equal(allowed, 5)
    assert.equal(limiter.takeDropped(), 15)
    now += 1000
    allowed = 0
    for (let i = 0; i < 20; i++) if (limiter.take()) allowed++
    assert.equal(allowed, 5) // refilled at 10/s but capped at the burst
    assert.equal(limiter.takeDropped(), 15)
  })
})
