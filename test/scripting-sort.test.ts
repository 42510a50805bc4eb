// The prelude gives large default sorts a comparator written in JavaScript, so the CPU limit
// interrupts them like any other loop; these tests pin the order it must keep (the spec's) and
// the interrupt it must allow.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { resolveOptions } from '../src/scripting/options.ts'
import type { FromWorker } from '../src/scripting/protocol.ts'
import { ScriptVm, type VmHost } from '../src/scripting/script-vm.ts'
import { quickjsWasmModule } from '../src/scripting/vm-thread.ts'

class Host implements VmHost {
  readonly logs: string[] = []
  send(msg: FromWorker): void {
    if (msg.t === 'log') this.logs.push(msg.msg)
  }
  syncRequest() {
    return { ok: true as const }
  }
  enterCall(): void {}
  leaveCall(): void {}
  onCrash(): void {}
}

const MIB = 1024 * 1024

/** Out of reach unless a test sets it: the order tests must not depend on the machine's speed. */
const NO_CPU_LIMIT = 600_000

async function run(code: string, options: { cpuLimitMs?: number } = {}) {
  const host = new Host()
  const limits = resolveOptions({
    path: '.',
    memoryLimitBytes: 256 * MIB,
    cpuLimitMs: NO_CPU_LIMIT,
    ...options,
  })
  const vm = await ScriptVm.create('sort.js', 1, limits, await quickjsWasmModule(), host)
  const error = vm.evaluate(code)
  return { vm, host, error }
}

describe('default sort in scripts', () => {
  it('keeps the default order of small and large arrays (strings of the values, undefined last, holes last)', async () => {
    const { vm, host, error } = await run(`
      for (const n of [10, 10000]) {
        const a = []
        for (let i = 0; i < n; i++) a.push(i % 7 === 0 ? undefined : (i * 7919) % 1009)
        a.length = n + 3 // holes at the end
        a[n + 1] = 'b'
        const sorted = a.slice().sort()
        // The order by hand: defined values compared as strings, then undefined, then holes.
        const values = a.filter((v) => v !== undefined).map((v) => [String(v), v])
        values.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
        const undefCount = a.filter((v, i) => i in a && v === undefined).length
        let ok = sorted.length === a.length
        for (let i = 0; ok && i < values.length; i++) ok = sorted[i] === values[i][1]
        for (let i = values.length; ok && i < values.length + undefCount; i++) ok = i in sorted && sorted[i] === undefined
        for (let i = values.length + undefCount; ok && i < sorted.length; i++) ok = !(i in sorted)
        print(n + ' ' + ok)
      }
    `)
    assert.equal(error, undefined)
    assert.deepEqual(host.logs, ['10 true', '10000 true'])
    vm.dispose()
  })

  it('keeps the numeric order of typed arrays: -0 before +0, NaN last', async () => {
    const { vm, host, error } = await run(`
      const n = 20000
      const a = new Float64Array(n)
      for (let i = 0; i < n; i++) a[i] = i % 5 === 0 ? NaN : i % 5 === 1 ? -0 : i % 5 === 2 ? 0 : ((i * 7919) % 1009) - 500
      a.sort()
      let ok = true
      for (let i = 1; ok && i < n; i++) {
        const x = a[i - 1], y = a[i]
        if (y !== y) continue
        ok = x === x && (x < y || (x === y && !(Object.is(x, 0) && Object.is(y, -0))))
      }
      const nans = Array.from(a).filter((v) => v !== v).length
      print(String(ok && nans === n / 5 && Array.from(a.subarray(n - nans)).every((v) => v !== v)))
      const big = new BigInt64Array(10000)
      for (let i = 0; i < big.length; i++) big[i] = BigInt((i * 7919) % 1009) - 500n
      big.sort()
      let bigOk = true
      for (let i = 1; i < big.length; i++) if (big[i - 1] > big[i]) bigOk = false
      print(String(bigOk))
    `)
    assert.equal(error, undefined)
    assert.deepEqual(host.logs, ['true', 'true'])
    vm.dispose()
  })

  it('a default sort of a large array is interrupted by the CPU limit, not left to the hard stop', async () => {
    const host = new Host()
    const limits = resolveOptions({ path: '.', memoryLimitBytes: 256 * MIB, cpuLimitMs: NO_CPU_LIMIT })
    const vm = await ScriptVm.create('sort.js', 1, limits, await quickjsWasmModule(), host)
    // Built without a limit, so that only the sort can meet it.
    const error = vm.evaluate(`
      const a = Array.from({ length: 300000 }, (_, i) => String((i * 7919) % 1000003))
      export function init() { a.sort() }
    `)
    assert.equal(error, undefined)
    // Several million comparisons in JavaScript take seconds; 50 ms is far below that on any
    // machine, and a native sort would ignore the deadline and return.
    limits.cpuLimitMs = 50
    const interrupted = vm.callExport('init')
    assert.match(interrupted?.message ?? '', /interrupted: exceeded the CPU limit of 50 ms/)
    assert.match(interrupted?.stack ?? '', /at sort \(<tinymqtt>/)
    vm.dispose()
  })
})
