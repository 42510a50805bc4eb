/**
 * The command line of `npm run bench -- <suite> [options]`: one commander subcommand per
 * suite with its options and defaults, and the timings the broker suite's modes imply. It
 * names the suites' options but imports no suite, so choosing one loads only that one
 * (main.ts).
 */
import { Command, InvalidArgumentError, type OptionValues } from 'commander'
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
const BROKER_NAMES: readonly BrokerName[] = ['tinymqtt', 'mosquitto', 'aedes', 'node-floor']

export interface Timings {
  warmupMs: number
  measureMs: number
  latencyMs: number
  /** Time for RSS to settle after the idle clients connected. */
  settleMs: number
}

/** The broker suite's options (tinymqtt against Mosquitto and Aedes). */
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

export interface ModuleReloadOptions {
  reloads: number
}

export const SCRIPTING_SECTIONS = ['1a', '1b', '1c', '2'] as const
export type ScriptingSection = (typeof SCRIPTING_SECTIONS)[number]

export interface ScriptingOptions {
  messages: number
  reloads: number
  skip: ScriptingSection[]
  /** The broker's log level (silent unless asked). */
  log: string
}

export interface StoreOptions {
  messages: number
  publishers: number
  window: number
  rounds: number
  scaleRetained: number
  scaleSessions: number
  skipScale: boolean
}

export interface OpsOptions {
  /** MQTT clients connected (each with a persistent session and two subscriptions). */
  clients: number
  /** Retained messages held. */
  retained: number
  /** Scrapes and $SYS updates timed. */
  rounds: number
}

export interface WebOptions {
  rounds: number
  messages: number
  topics: number
  /** Indexes into the suite's list of modes; undefined runs all of them. */
  modes: number[] | undefined
  /** Publish every topic once before the measured run (steady state) rather than measure a fresh broker. */
  warm: boolean
  /** One MQTT client subscribed to every message during the run. */
  subscribe: boolean
}

export interface ClusterOptions {
  /** Publishing connections (the subscriber is one). */
  publishers: number
  /** Rounds of every configuration, alternating; each figure is the best round's. */
  rounds: number
  /** Clients of the connect storm onto a cluster node and onto the standalone node (0: none). */
  stormClients: number
  timings: Pick<Timings, 'warmupMs' | 'measureMs'>
}

export interface WebPageOptions {
  clients: number
  rate: number
  liveSeconds: number
}

/** Options of each suite, by the suite's name on the command line. */
export interface SuiteOptions {
  broker: Options
  cluster: ClusterOptions
  codec: Record<string, never>
  'last-values': Record<string, never>
  'module-reload': ModuleReloadOptions
  ops: OpsOptions
  scripting: ScriptingOptions
  store: StoreOptions
  web: WebOptions
  'web-page': WebPageOptions
}
export type SuiteName = keyof SuiteOptions
export type Choice = { [S in SuiteName]: { suite: S; options: SuiteOptions[S] } }[SuiteName]

function whole(min: number) {
  return (text: string): number => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`a whole number from ${min} expected`)
    return n
  }
}

function finite(text: string): number {
  const n = Number(text)
  if (!Number.isFinite(n)) throw new InvalidArgumentError('a number expected')
  return n
}

/** A comma-separated subset of `allowed`, returned in `allowed`'s order. */
function subset<T extends string>(allowed: readonly T[]) {
  return (text: string): T[] => {
    const picked = text.split(',').map((s) => s.trim())
    for (const p of picked) {
      if (!(allowed as readonly string[]).includes(p))
        throw new InvalidArgumentError(`"${p}" is not one of ${allowed.join(',')}`)
    }
    return allowed.filter((a) => picked.includes(a))
  }
}

// commander keeps parsed values untyped; these read them back with their runtime type checked.
function num(values: OptionValues, key: string): number {
  const value: unknown = values[key]
  if (typeof value !== 'number') throw new Error(`option ${key}: number expected, got ${String(value)}`)
  return value
}
function flag(values: OptionValues, key: string): boolean {
  return values[key] === true
}
function optionalNum(values: OptionValues, key: string): number | undefined {
  return values[key] === undefined ? undefined : num(values, key)
}
function list<T>(values: OptionValues, key: string, fallback: readonly T[]): T[] {
  const value: unknown = values[key]
  return Array.isArray(value) ? (value as T[]) : [...fallback]
}

function brokerSuite(command: Command, choose: (choice: Choice) => void): void {
  command
    .option('--quick', 'short run (about 1/3 of the full durations)')
    .option(
      '--soak-seconds <n>',
      'soak duration (default 60, 15 with --quick; 1800 with --soak-hostile)',
      finite,
    )
    .option('--soak-minutes <n>', 'the same in minutes', finite)
    .option(
      '--soak-hostile',
      'soak with hostile scripts running in tinymqtt (an endless loop, a memory hog, a publish storm, ' +
        'a script rewritten every 3 s) and a healthy script answering requests',
    )
    .option(`--brokers <list>`, `comma-separated subset of ${BROKER_NAMES.join(',')}`, subset(BROKER_NAMES))
    .option(`--scenarios <list>`, `comma-separated subset of ${SCENARIO_IDS.join(',')}`, subset(SCENARIO_IDS))
    .option('--skip-self-check', 'do not measure the load generator against the sink')
    .option(
      '--node-generator',
      'use the Node load generator for every scenario (default: the C one for throughput and connects when gcc is available)',
    )
    // As the default command it also receives a misspelt suite name: say that, not "too many arguments".
    .allowExcessArguments()
    .action((values: OptionValues) => {
      const [unknown] = command.args
      if (unknown !== undefined)
        command.error(`error: unknown suite '${unknown}' (npm run bench -- --help lists them)`)
      const quick = flag(values, 'quick')
      const soakHostile = flag(values, 'soakHostile')
      const minutes = optionalNum(values, 'soakMinutes')
      const soakSeconds =
        minutes !== undefined
          ? minutes * 60
          : (optionalNum(values, 'soakSeconds') ?? (soakHostile ? 1800 : quick ? 15 : 60))
      if (soakSeconds < 5 || soakSeconds > 24 * 3600)
        command.error('error: --soak-seconds must be between 5 and 86400')
      choose({
        suite: 'broker',
        options: {
          quick,
          soakSeconds,
          soakHostile,
          brokers: list(values, 'brokers', BROKER_NAMES),
          scenarios: list(values, 'scenarios', SCENARIO_IDS),
          selfCheck: !flag(values, 'skipSelfCheck'),
          nodeGenerator: flag(values, 'nodeGenerator'),
          timings: quick
            ? { warmupMs: 1000, measureMs: 3000, latencyMs: 5000, settleMs: 1000 }
            : { warmupMs: 2000, measureMs: 10_000, latencyMs: 20_000, settleMs: 2000 },
        },
      })
    })
}

/** The whole command line; `choose` receives the suite picked and its options. */
function program(choose: (choice: Choice) => void): Command {
  const bench = new Command('npm run bench --')
    .usage('[suite] [options]')
    .description('Benchmarks of tinymqtt. Without a suite, runs the broker suite.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npm run bench                                  broker suite, full run (about 13 minutes)\n' +
        '  npm run bench -- --quick --scenarios fan-in    broker suite, short, one scenario\n' +
        '  npm run bench -- scripting --messages 20000    script callbacks/s and reload latency\n' +
        '  npm run bench -- <suite> --help                a suite and its options',
    )

  brokerSuite(
    bench
      .command('broker', { isDefault: true })
      .description(
        'tinymqtt, Mosquitto and Aedes side by side, scenario by scenario (scripts/bench/README.md)',
      ),
    choose,
  )

  bench
    .command('cluster')
    .description(
      'two nodes on NATS JetStream: publishers on one, the subscriber on the other, against one node (skips without nats-server)',
    )
    .option('--quick', 'short run (1 s warm-up and 3 s measured per run, one round)')
    .option('--publishers <n>', 'publishing connections, into one subscriber', whole(1), 4)
    .option('--rounds <n>', 'rounds over all runs (default 2, 1 with --quick)', whole(1))
    .option(
      '--storm-clients <n>',
      'clients of the connect storm onto node B and onto the standalone node (default 4000, 500 with --quick; 0: no storm)',
      whole(0),
    )
    .action((values: OptionValues) => {
      const quick = flag(values, 'quick')
      choose({
        suite: 'cluster',
        options: {
          publishers: num(values, 'publishers'),
          rounds: optionalNum(values, 'rounds') ?? (quick ? 1 : 2),
          stormClients: optionalNum(values, 'storm-clients') ?? (quick ? 500 : 4000),
          timings: quick ? { warmupMs: 1000, measureMs: 3000 } : { warmupMs: 2000, measureMs: 5000 },
        },
      })
    })

  bench
    .command('codec')
    .description('PUBLISH and CONNECT decoding and framing: mqtt-packet against the hand-written decoders')
    .action(() => choose({ suite: 'codec', options: {} }))

  bench
    .command('last-values')
    .description("the last-value cache's CPU cost per routed message")
    .action(() => choose({ suite: 'last-values', options: {} }))

  bench
    .command('module-reload')
    .description('save-to-live latency when a module imported by two scripts changes')
    .option('--reloads <n>', 'saves to time', whole(1), 15)
    .action((values: OptionValues) =>
      choose({ suite: 'module-reload', options: { reloads: num(values, 'reloads') } }),
    )

  bench
    .command('ops')
    .description('CPU of one Prometheus scrape and of one $SYS update, related to a broker at 100k msg/s')
    .option('--clients <n>', 'connected clients, each with a session and two subscriptions', whole(0), 200)
    .option('--retained <n>', 'retained messages held', whole(0), 10_000)
    .option('--rounds <n>', 'scrapes and $SYS updates timed', whole(1), 200)
    .action((values: OptionValues) =>
      choose({
        suite: 'ops',
        options: {
          clients: num(values, 'clients'),
          retained: num(values, 'retained'),
          rounds: num(values, 'rounds'),
        },
      }),
    )

  bench
    .command('scripting')
    .description('MQTT-to-script callbacks/s, script publishes/s and script reload latency')
    .option('--messages <n>', 'messages per section', whole(1), 200_000)
    .option('--reloads <n>', 'script saves to time', whole(1), 15)
    .option(
      '--skip <list>',
      'sections to skip: 1a in-process, 1b over MQTT from MQTT.js, 1c over MQTT from a raw socket ' +
        'writing pre-encoded packets, 2 script publishes',
      subset(SCRIPTING_SECTIONS),
    )
    .option('--log <level>', "the broker's log level", 'silent')
    .action((values: OptionValues) => {
      const log: unknown = values.log
      choose({
        suite: 'scripting',
        options: {
          messages: num(values, 'messages'),
          reloads: num(values, 'reloads'),
          skip: list(values, 'skip', []),
          log: typeof log === 'string' ? log : 'silent',
        },
      })
    })

  bench
    .command('store')
    .description('durable (LMDB) against in-memory QoS 1 throughput, and start-up time at scale')
    .option('--messages <n>', 'QoS 1 messages per throughput run', whole(1), 60_000)
    .option('--publishers <n>', 'publishing connections', whole(1), 4)
    .option('--window <n>', 'QoS 1 messages each publisher keeps in flight', whole(1), 100)
    .option('--rounds <n>', 'rounds of memory then durable', whole(1), 2)
    .option('--scale-retained <n>', 'retained messages in the start-up test', whole(0), 100_000)
    .option('--scale-sessions <n>', 'persistent sessions in the start-up test', whole(0), 10_000)
    .option('--skip-scale', 'skip the start-up test')
    .action((values: OptionValues) =>
      choose({
        suite: 'store',
        options: {
          messages: num(values, 'messages'),
          publishers: num(values, 'publishers'),
          window: num(values, 'window'),
          rounds: num(values, 'rounds'),
          scaleRetained: num(values, 'scaleRetained'),
          scaleSessions: num(values, 'scaleSessions'),
          skipScale: flag(values, 'skipScale'),
        },
      }),
    )

  bench
    .command('web')
    .description("the dashboard's cost to a busy broker: broker CPU with and without it and its pages")
    .option('--rounds <n>', 'rounds over all modes (the median is reported)', whole(1), 3)
    .option('--messages <n>', 'QoS 0 messages per measured run', whole(1), 1_000_000)
    .option('--topics <n>', 'topics the messages are spread over', whole(1), 10_000)
    .option(
      '--modes <list>',
      'comma-separated mode numbers to run (0 no dashboard, 1 no page open, 2 two pages, 3 Broker view), for profiling',
      (text: string) => text.split(',').map(whole(0)),
    )
    .option('--no-warm', 'measure a fresh broker: every topic seen for the first time')
    .option('--subscribe', 'one MQTT.js client subscribed to every message, as a logger would be')
    .action((values: OptionValues) => {
      const modes: unknown = values.modes
      choose({
        suite: 'web',
        options: {
          rounds: num(values, 'rounds'),
          messages: num(values, 'messages'),
          topics: num(values, 'topics'),
          modes: Array.isArray(modes) ? modes.filter((m): m is number => typeof m === 'number') : undefined,
          warm: values.warm !== false,
          subscribe: flag(values, 'subscribe'),
        },
      })
    })

  bench
    .command('web-page')
    .description(
      'the dashboard page in Chromium with many clients and topics under load (skips without Chromium)',
    )
    .option(
      '--clients <n>',
      'connected MQTT clients, 10 topics each (at least 501: the Clients view is paged forward 5 times, 100 a page)',
      whole(501),
      1000,
    )
    .option('--rate <n>', 'messages/s of steady load', whole(1), 2000)
    .option('--live-seconds <n>', 'seconds of live updates watched on each view', whole(1), 10)
    .action((values: OptionValues) =>
      choose({
        suite: 'web-page',
        options: {
          clients: num(values, 'clients'),
          rate: num(values, 'rate'),
          liveSeconds: num(values, 'liveSeconds'),
        },
      }),
    )
  return bench
}

/**
 * Parses argv (without node and the script). `--help` and bad options print and exit, as
 * commander does; otherwise returns the suite to run.
 */
export function parseCommandLine(argv: readonly string[]): Choice {
  let chosen: Choice | undefined
  program((choice) => {
    chosen = choice
  }).parse([...argv], { from: 'user' })
  if (chosen === undefined) throw new Error('no suite chosen')
  return chosen
}
