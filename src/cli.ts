#!/usr/bin/env -S node --max-semi-space-size=8
import { dirname } from 'node:path'
import { Command } from 'commander'
import { updatePasswordFile } from './broker/access/password-file.ts'
import { readPassword } from './broker/access/password-prompt.ts'
import { startOptionsFromCommandLine } from './config.ts'
import { startBroker } from './index.ts'
import { createLogger } from './log.ts'
import { Reloader } from './ops/index.ts'
import { addSettingOptions, settingsFromCommand } from './settings/index.ts'
import { resetDataDir } from './store/reset.ts'
import { runScriptTests } from './test-command.ts'

const program = addSettingOptions(
  new Command().name('tinymqtt').description('A small, fast MQTT broker with sandboxed automation scripts'),
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
    const scripts = settingsFromCommand(program).scripts
    const fallback =
      scripts === undefined
        ? '.'
        : scripts.endsWith('.js') || scripts.endsWith('.mjs')
          ? dirname(scripts)
          : scripts
    process.exitCode = await runScriptTests(path ?? fallback)
  })

async function main(): Promise<void> {
  // The broker is the default command; `passwd`, `reset-data` and `test` are subcommands.
  program.action(runBroker)
  await program.parseAsync()
}

async function runBroker(): Promise<void> {
  const flags = settingsFromCommand(program)
  const options = await startOptionsFromCommandLine(flags)
  const logger = createLogger(options.logLevel ?? 'info')
  // Signals are handled from the start: one that arrives while the broker is still starting
  // (scripts loading, say) shuts it down cleanly once it is up.
  const starting = startBroker({ ...options, logger })
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
  // SIGHUP reloads the settings (README "Reload on SIGHUP"); one during start-up waits for it.
  const reloader = starting.then(
    (broker) => new Reloader(broker, options, () => startOptionsFromCommandLine(flags)),
    () => undefined, // a failed start is reported below
  )
  process.on('SIGHUP', () => {
    if (stopping) return
    logger.info({ signal: 'SIGHUP' }, 'reloading the settings')
    void reloader.then((r) => r?.reload())
  })
  await starting
}

main().catch((error: unknown) => {
  process.stderr.write(`tinymqtt: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
