// The real command line as a child process, for the ops tests: its JSON log lines collected,
// waited for by content (never by time).
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IClientOptions, MqttClient } from 'mqtt'
import { type Cleanup, mqttConnect, TIMEOUT } from './helpers.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'src', 'cli.ts')
/** Starting node with tsx takes a while on a busy 2-core machine. */
export const START_TIMEOUT = 30_000

export type LogLine = Record<string, unknown>

export interface Cli {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** The JSON log lines so far. */
  lines: () => LogLine[]
  /** Resolves with the first log line (from `from` on) passing `pred`. */
  waitForLog: (pred: (line: LogLine) => boolean, what: string, from?: number) => Promise<LogLine>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `tinymqtt --memory <args>` (without --memory when `memory` is false: the args then
 * name a data directory); killed after the test if still running.
 */
export function runCli(args: string[], t: Cleanup, { memory = true } = {}): Cli {
  const flags = memory ? ['--memory', ...args] : args
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...flags], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  let out = ''
  let err = ''
  const parsed: LogLine[] = []
  let partial = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    partial += d.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      try {
        parsed.push(JSON.parse(line) as LogLine)
      } catch {
        parsed.push({ msg: line, notJson: true })
      }
    }
    for (const wake of waiters) wake()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code, signal })
      for (const wake of waiters) wake()
    })
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const waitForLog = (pred: (line: LogLine) => boolean, what: string, from = 0): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = parsed.slice(from).find(pred)
        if (found) {
          done()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`the CLI exited before logging ${what}: ${err} ${out}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for the log line: ${what}; log so far:\n${out}`))
      }, TIMEOUT)
      const done = (): void => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { child, stdout: () => out, stderr: () => err, lines: () => parsed, waitForLog, exited }
}

/** The port a started CLI logged for a message (`MQTT listener started`, `dashboard listening`). */
export async function loggedPort(cli: Cli, msg: string): Promise<number> {
  const line = await cli.waitForLog((l) => l.msg === msg, msg)
  return Number(line.port)
}

/** Sends SIGHUP and resolves with the reload's outcome line (`configuration reloaded` or `reload failed …`). */
export async function sighup(cli: Cli): Promise<LogLine> {
  const from = cli.lines().length
  cli.child.kill('SIGHUP')
  return cli.waitForLog(
    (l) => l.msg === 'configuration reloaded' || String(l.msg).startsWith('reload failed'),
    'the outcome of the reload',
    from,
  )
}

/** Connects with MQTT.js (the CLI is up once it logged its listener). */
export function connectTo(port: number, t: Cleanup, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqttConnect(port, { connectTimeout: 5000, ...opts }, t)
}
