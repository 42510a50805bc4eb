/**
 * Script callbacks/s is measured by the scripting suite (suites/scripting.ts). The broker
 * suite runs it as a child (`main.ts scripting`, with `--messages` and `--reloads` only)
 * and keeps every `label: 12,345/s` line it prints; the "MQTT client -> script callbacks"
 * line is the headline figure. If that suite ever prints a JSON object as its last line,
 * that is kept as well.
 */
import { join } from 'node:path'
import { REPO_ROOT } from './brokers.ts'
import type { Options } from './options.ts'
import { captureOutput, spawnPinned, stopChild, waitExit } from './procs.ts'

const ENTRY = join(REPO_ROOT, 'scripts/bench/main.ts')
const HEADLINE = /MQTT client -> script callbacks/

export interface ScriptingResult {
  /** MQTT client → script callbacks per second. */
  callbacksPerSec?: number
  /** Every rate line, by its label. */
  rates: Record<string, number>
  output: string
  json?: unknown
}

function parseRates(text: string): Record<string, number> {
  const rates: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [, label, rate] = /^(.+?):\s+([\d,.]+)\/s/.exec(line.trim()) ?? []
    if (label !== undefined && rate !== undefined) rates[label.trim()] = Number(rate.replaceAll(',', ''))
  }
  return rates
}

export async function runScriptingBench(options: Options): Promise<ScriptingResult> {
  const args = [
    '--import',
    'tsx',
    ENTRY,
    'scripting',
    ...(options.quick ? ['--messages', '50000', '--reloads', '5'] : []),
  ]
  // Not pinned: it runs its broker and its clients in one process, as its author designed it.
  const child = spawnPinned(undefined, process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stderr = captureOutput(child)
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    if (out.length < 100_000) out += chunk.toString('utf8')
  })
  // Bounded like every other load: a hung script benchmark must not hold the whole run.
  const timeoutMs = options.quick ? 120_000 : 300_000
  if (!(await waitExit(child, timeoutMs))) {
    await stopChild(child)
    throw new Error(
      `the scripting suite timed out after ${timeoutMs} ms: ${out.trim().split('\n').join(' | ')}`,
    )
  }
  if (child.exitCode !== 0) throw new Error(`the scripting suite exited with ${child.exitCode}: ${stderr()}`)
  const rates = parseRates(out)
  const headline = Object.entries(rates).find(([label]) => HEADLINE.test(label))?.[1]
  const result: ScriptingResult = { rates, output: out.trim() }
  if (headline !== undefined) result.callbacksPerSec = headline
  const last = out.trim().split('\n').pop() ?? ''
  if (last.startsWith('{')) {
    try {
      result.json = JSON.parse(last)
    } catch {
      // Not JSON after all: the text output above is what we have.
    }
  }
  return result
}
