#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { updatePasswordFile } from './broker/access/password-file.ts'
import { readPassword } from './broker/access/password-prompt.ts'
import { type FileConfig, readConfigFile } from './config.ts'
import { startBroker } from './index.ts'
import { listenersFromShorthands } from './listeners/config.ts'
import { createLogger } from './log.ts'
import { locationOf } from './scripting/location.ts'
import { resetDataDir } from './store/reset.ts'
import { runScriptTests } from './test-command.ts'

function integer(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer')
  return n
}

function hostList(value: string): string[] {
  return value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '')
}

function degrees(limit: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || Math.abs(n) > limit) {
      throw new InvalidArgumentError(`not a number of degrees from -${limit} to ${limit}`)
    }
    return n
  }
}

const program = new Command()
  .name('tinymqtt')
  .description('A small, fast MQTT broker with sandboxed automation scripts')
  .option('-p, --port <n>', 'MQTT TCP port (default 1883)', integer)
  .option('-H, --host <addr>', 'bind address (default 0.0.0.0)')
  .option('--user <name>', 'the single user; when unset, anonymous clients are allowed')
  .option('--pass <password>', "the single user's password")
  .option(
    '-s, --scripts <path>',
    'script file or folder to load and watch (default ./autoexec.js if it exists)',
  )
  .option('-d, --data <dir>', 'where persistent state lives (default ./tinymqtt-data)')
  .option('--memory', 'keep everything in memory (no data directory)')
  .option('--config <file>', 'read settings from a JSON file (command-line options win)')
  .option('--max-packet-size <bytes>', 'largest accepted packet (default 2000000)', integer)
  .option('--max-inflight <n>', 'outgoing QoS 1/2 messages in flight per client (default 20)', integer)
  .option('--max-queued-messages <n>', 'queued messages per client (default 1000)', integer)
  .option(
    '--stall-timeout <s>',
    'seconds a congested subscriber may go without acknowledging before publishers stop waiting for it (default 10, 0 = never wait)',
    integer,
  )
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
  .option('--tls-port <n>', 'MQTT over TLS listener (needs --cert and --key)', integer)
  .option('--ws-port <n>', 'MQTT over WebSocket listener (path /mqtt)', integer)
  .option('--wss-port <n>', 'MQTT over WebSocket with TLS listener (needs --cert and --key)', integer)
  .option('--cert <file>', 'PEM certificate (chain) for the TLS listeners')
  .option('--key <file>', 'PEM private key for the TLS listeners')
  .option('--ca <file>', 'PEM CA bundle: TLS clients must present a certificate it signed')
  .option('--use-identity-as-username', "with --ca: the client certificate's CN is the user name")
  .option('--password-file <file>', 'Mosquitto password file (re-read when it changes)')
  .option('--acl-file <file>', 'Mosquitto ACL file (re-read when it changes)')
  .option('--http <port>', 'serve the web dashboard on this port (same bind address as MQTT)', integer)
  .option('--http-user <name>', "the dashboard's own user; with --http-pass, scripts can be edited from it")
  .option('--http-pass <password>', "the dashboard's own password")
  .option(
    '--http-allowed-hosts <list>',
    'comma-separated host names a loopback dashboard without a password answers to besides localhost',
    hostList,
  )
  .option('--last-values <n>', "topics in scripts' ms_get cache (default 10000; 0: off)", integer)
  .option(
    '--latitude <deg>',
    "the broker's latitude, for sun-event schedules (with --longitude)",
    degrees(90),
  )
  .option(
    '--longitude <deg>',
    "the broker's longitude, for sun-event schedules (with --latitude)",
    degrees(180),
  )

program
  .command('passwd')
  .description('add or change a user in a Mosquitto-format password file (created if missing)')
  .argument('<file>', 'password file')
  .argument('<user>', 'user name')
  .option('--password <password>', 'the password (default: prompted, or read from standard input)')
  .option('-D, --delete', 'remove the user instead')
  .action(async (file: string, user: string, options: { password?: string; delete?: boolean }) => {
    const password = options.delete ? undefined : (options.password ?? (await readPassword()))
    const existed = await updatePasswordFile(file, user, password)
    if (options.delete && !existed) throw new Error(`user "${user}" is not in ${file}`)
  })

program
  .command('reset-data')
  .description(
    "delete the stored state (retained messages, sessions, scripts' persist) in a broker's data directory",
  )
  .argument('<dir>', 'data directory')
  .action(async (dir: string) => {
    for (const file of await resetDataDir(dir)) process.stdout.write(`removed ${file}\n`)
  })

program
  .command('test')
  .description("run the scripts' tests (*.test.js, *.test.mjs) with Node's test runner and tinymqtt/testing")
  .argument(
    '[path]',
    'folder to search (recursively) or one test file (default: the --scripts folder, else .)',
  )
  .action(async (path: string | undefined) => {
    const scripts = program.opts<CliOptions>().scripts
    const fallback =
      scripts === undefined
        ? '.'
        : scripts.endsWith('.js') || scripts.endsWith('.mjs')
          ? dirname(scripts)
          : scripts
    process.exitCode = await runScriptTests(path ?? fallback)
  })

interface CliOptions extends FileConfig {
  config?: string
}

async function main(): Promise<void> {
  // The broker is the default command; `passwd`, `reset-data` and `test` are subcommands.
  program.action(runBroker)
  await program.parseAsync()
}

async function runBroker(): Promise<void> {
  const cli = program.opts<CliOptions>()
  const { config: configPath, ...flags } = cli
  const fromFile = configPath ? await readConfigFile(configPath) : {}
  const settings: FileConfig = { ...fromFile, ...stripUndefined(flags) }
  if (settings.scripts === undefined && existsSync('autoexec.js')) settings.scripts = 'autoexec.js'
  // The default data directory is the CLI's: embedders (and tests) stay in memory unless they say.
  if (!settings.memory) settings.data ??= './tinymqtt-data'
  const { tlsPort, wsPort, wssPort, cert, key, ca, useIdentityAsUsername, listeners, ...withLocation } =
    settings
  // The location is the scripting host's (sun-event schedules); checked even without scripts.
  const { latitude, longitude, ...brokerSettings } = withLocation
  const location = locationOf(latitude, longitude)
  const scripts =
    location && brokerSettings.scripts !== undefined
      ? { path: brokerSettings.scripts, ...location }
      : brokerSettings.scripts
  const shorthands = { tlsPort, wsPort, wssPort, cert, key, ca, useIdentityAsUsername }
  const allListeners = [...(listeners ?? []), ...listenersFromShorthands(shorthands)]
  const logger = createLogger(settings.logLevel ?? 'info')
  // Signals are handled from the start: one that arrives while the broker is still starting
  // (scripts loading, say) shuts it down cleanly once it is up.
  const starting = startBroker({ ...brokerSettings, scripts, listeners: allListeners, logger })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    starting
      .then((broker) => broker.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error during shutdown')
          process.exit(1)
        },
      )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  await starting
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

main().catch((error: unknown) => {
  process.stderr.write(`tinymqtt: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
