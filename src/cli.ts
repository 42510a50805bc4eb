#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import { type FileConfig, readConfigFile } from './config.ts'
import { startBroker } from './index.ts'
import { createLogger } from './log.ts'

function integer(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer')
  return n
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
  .option('--config <file>', 'read settings from a JSON file (command-line options win)')
  .option('--max-packet-size <bytes>', 'largest accepted packet (default 2000000)', integer)
  .option('--max-inflight <n>', 'outgoing QoS 1/2 messages in flight per client (default 20)', integer)
  .option('--max-queued-messages <n>', 'queued messages per client (default 1000)', integer)
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')

interface CliOptions extends FileConfig {
  config?: string
}

async function main(): Promise<void> {
  program.parse()
  const cli = program.opts<CliOptions>()
  const { config: configPath, ...flags } = cli
  const fromFile = configPath ? await readConfigFile(configPath) : {}
  const settings: FileConfig = { ...fromFile, ...stripUndefined(flags) }
  if (settings.scripts === undefined && existsSync('autoexec.js')) settings.scripts = 'autoexec.js'
  const logger = createLogger(settings.logLevel ?? 'info')
  const broker = await startBroker({ ...settings, logger })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    broker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

main().catch((error: unknown) => {
  process.stderr.write(`tinymqtt: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
