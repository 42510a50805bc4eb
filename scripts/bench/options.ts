/** Command line of `npm run bench` and the timings each mode implies. */
import { parseArgs } from 'node:util'
import type { BrokerName } from './brokers.ts'

export const SCENARIO_IDS = [
  'fan-in',
  'fan-out',
  'qos1',
  'qos1-flood',
  'latency',
  'connects',
  'storm',
  'memory',
  'soak',
] as const
export type ScenarioId = (typeof SCENARIO_IDS)[number]
const BROKER_NAMES: readonly BrokerName[] = ['tinymqtt', 'mosquitto', 'aedes']

export interface Timings {
  warmupMs: number
  measureMs: number
  latencyMs: number
  /** Time for RSS to settle after the idle clients connected. */
  settleMs: number
}

export interface Options {
  quick: boolean
  soakSeconds: number
  /** Soak tinymqtt with misbehaving scripts running beside it (see scenarios/soak.ts). */
  soakHostile: boolean
  brokers: BrokerName[]
  scenarios: ScenarioId[]
  selfCheck: boolean
  /** Use the Node generator even when the C one can be built (to compare the two). */
  nodeGenerator: boolean
  timings: Timings
}

const USAGE = `usage: npm run bench -- [options]
  --quick               short run (about 1/3 of the full durations)
  --soak-seconds <n>    soak duration (default 60, 15 with --quick; 1800 with --soak-hostile)
  --soak-minutes <n>    the same in minutes
  --soak-hostile        soak with hostile scripts running in tinymqtt (an endless loop, a
                        memory hog, a publish storm, a script rewritten every 3 s) and a
                        healthy script answering requests
  --brokers <list>      comma-separated subset of ${BROKER_NAMES.join(',')}
  --scenarios <list>    comma-separated subset of ${SCENARIO_IDS.join(',')}
  --skip-self-check     do not measure the load generator against the sink
  --node-generator      use the Node load generator for every scenario (default: the C one
                        for throughput and connects when gcc is available)
  -h, --help`

function pick<T extends string>(list: string | undefined, allowed: readonly T[], what: string): T[] {
  if (list === undefined) return [...allowed]
  const picked = list.split(',').map((s) => s.trim())
  for (const p of picked) {
    if (!(allowed as readonly string[]).includes(p)) throw new Error(`unknown ${what} "${p}"\n${USAGE}`)
  }
  return allowed.filter((a) => picked.includes(a))
}

export function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'soak-seconds': { type: 'string' },
      'soak-minutes': { type: 'string' },
      'soak-hostile': { type: 'boolean', default: false },
      brokers: { type: 'string' },
      scenarios: { type: 'string' },
      'skip-self-check': { type: 'boolean', default: false },
      'node-generator': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return undefined
  }
  const quick = values.quick
  const soakHostile = values['soak-hostile']
  const minutes = values['soak-minutes']
  const soakSeconds =
    minutes !== undefined
      ? Number(minutes) * 60
      : Number(values['soak-seconds'] ?? (soakHostile ? 1800 : quick ? 15 : 60))
  if (!Number.isFinite(soakSeconds) || soakSeconds < 5 || soakSeconds > 24 * 3600) {
    throw new Error('--soak-seconds must be between 5 and 86400')
  }
  return {
    quick,
    soakSeconds,
    soakHostile,
    brokers: pick(values.brokers, BROKER_NAMES, 'broker'),
    scenarios: pick(values.scenarios, SCENARIO_IDS, 'scenario'),
    selfCheck: !values['skip-self-check'],
    nodeGenerator: values['node-generator'],
    timings: quick
      ? { warmupMs: 1000, measureMs: 3000, latencyMs: 5000, settleMs: 1000 }
      : { warmupMs: 2000, measureMs: 10_000, latencyMs: 20_000, settleMs: 2000 },
  }
}
