/**
 * The broker suite (`npm run bench`, `npm run bench -- broker`): tinymqtt, Mosquitto and
 * Aedes side by side on this machine.
 * Each scenario runs against each broker on a fresh broker process pinned to core 0,
 * with the load generator (scripts/bench/load) in separate processes on core 1. Prints a
 * table with ratios and writes everything to bench-results/<timestamp>.json.
 */
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { chooseBrokers, mosquittoVersion, REPO_ROOT } from '../brokers.ts'
import { errorText } from '../load/util.ts'
import { buildNative, syscallCost } from '../native.ts'
import type { Options } from '../options.ts'
import { canPin, installCleanup, pinSelf } from '../procs.ts'
import { format, notes, table, writeJson } from '../report.ts'
import { runScenarios } from '../run.ts'
import { SCENARIOS } from '../scenarios/index.ts'
import { fdLimit } from '../scenarios/memory.ts'
import { runScriptingBench, type ScriptingResult } from '../scripting-hook.ts'
import { describeSelfCheck, headroom, type SelfCheck, selfCheck } from '../selfcheck.ts'
import { generatorName, useNativeGenerator } from '../workers.ts'

export async function run(options: Options): Promise<number> {
  installCleanup()
  pinSelf()
  const startedAt = new Date()
  const mosquitto = mosquittoVersion()
  const cpuList = cpus()
  console.log(
    `tinymqtt bench ${options.quick ? '(quick)' : '(full)'}: ${cpuList.length} × ${cpuList[0]?.model ?? '?'}, node ${process.version}, ` +
      `mosquitto ${mosquitto ?? 'not installed'}, ulimit -n ${fdLimit()}, load average ${(loadavg()[0] ?? 0).toFixed(1)}`,
  )
  console.log(
    canPin
      ? 'pinning: brokers on core 0, load generator and this script on core 1'
      : 'pinning: unavailable (needs taskset and 2 cores); figures will be noisier',
  )
  const brokers = chooseBrokers(options.brokers)
  const native = buildNative()
  let syscallNs: number | undefined
  if ('path' in native) {
    if (!options.nodeGenerator) useNativeGenerator(native.path)
    syscallNs = syscallCost(native.path)
    if (syscallNs !== undefined) {
      const slow =
        syscallNs > 500
          ? '  ← slow: busy or heavily virtualised machine, syscall-bound brokers suffer most'
          : ''
      console.log(`machine: ${syscallNs.toFixed(0)} ns per getppid() on the broker core${slow}`)
    }
  } else console.log(`C load generator unavailable, using the Node one everywhere: ${native.error}`)
  console.log(
    generatorName() === 'c'
      ? 'load generator: C (load/gen.c) for fan-in, fan-out, QoS 1, latency and connects; Node for memory and soak'
      : 'load generator: Node for every scenario',
  )

  let check: SelfCheck | undefined
  if (options.selfCheck) {
    try {
      check = await selfCheck(options)
      console.log(describeSelfCheck(check).join('\n'))
    } catch (err) {
      console.log(`generator self-check failed: ${errorText(err)}`)
    }
  }

  const { results, broken } = await runScenarios(brokers, options)

  let scripting: ScriptingResult | { error: string } | undefined
  if (options.brokers.includes('tinymqtt') && !broken.has('tinymqtt')) {
    process.stdout.write('scripting  tinymqtt  (the scripting suite)…\n')
    scripting = await runScriptingBench(options).catch((err: unknown) => ({ error: errorText(err) }))
  }

  const rows = options.scenarios.flatMap((id) =>
    SCENARIOS[id].metrics.map((metric) => ({ metric, scenario: id })),
  )
  console.log(`\n${table(rows, results)}`)
  if (scripting !== undefined && 'error' in scripting)
    console.log(`script callbacks/s: FAILED: ${scripting.error}`)
  else if (scripting !== undefined) {
    for (const [label, rate] of Object.entries(scripting.rates))
      console.log(`scripting (tinymqtt) ${label}: ${format(rate, 'msg/s')}/s`)
  }
  const problems = notes(results)
  if (problems.length > 0) console.log(`\nnotes:\n${problems.map((p) => `  ${p}`).join('\n')}`)
  if (check !== undefined) console.log(`\n${headroom(check, results).join('\n')}`)

  const path = writeJson(join(REPO_ROOT, 'bench-results'), startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    machine: {
      cpus: cpuList.length,
      model: cpuList[0]?.model,
      node: process.version,
      mosquitto,
      pinned: canPin,
      syscallNs,
      loadavg: loadavg(),
    },
    generator: generatorName(),
    selfCheck: check,
    results,
    scripting,
  })
  console.log(`\nresults written to ${path}`)
  const failed = Object.values(results).some((byScenario) =>
    Object.values(byScenario ?? {}).some((o) => 'error' in o),
  )
  return failed ? 1 : 0
}
