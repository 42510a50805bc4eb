// Debian's mosquitto-clients, shared by the interop tests: without the tools a test is skipped
// with the reason, except under CI (CI=true), where a missing tool is a failure.
import { execFileSync, spawn } from 'node:child_process'
import type { TestContext } from 'node:test'

const TIMEOUT = 30_000

let mosquittoChecked: boolean | undefined

export function hasMosquitto(): boolean {
  if (mosquittoChecked === undefined) {
    try {
      execFileSync('mosquitto_pub', ['--help'], { stdio: 'ignore' })
      mosquittoChecked = true
    } catch (error) {
      // --help exits with status 1 when the tool is there; ENOENT means it is missing.
      mosquittoChecked = (error as NodeJS.ErrnoException).code !== 'ENOENT'
    }
  }
  return mosquittoChecked
}

/** Skips (or fails under CI=true) when mosquitto-clients is missing; returns false when skipped. */
export function requireMosquitto(t: TestContext): boolean {
  if (hasMosquitto()) return true
  if (process.env.CI === 'true') throw new Error('mosquitto-clients not installed (required under CI=true)')
  t.skip('mosquitto-clients not installed: apt-get install mosquitto-clients')
  return false
}

export interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a tool to completion (guarded by a timeout that kills it). */
export function runTool(cmd: string, args: string[], timeoutMs = TIMEOUT): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${cmd} ${args.join(' ')} did not finish; stdout=${stdout} stderr=${stderr}`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** mosquitto_sub's exit status when -W ran out (it connected, subscribed, and waited). */
export const MOSQUITTO_SUB_TIMED_OUT = 27

/**
 * Asserts that a `mosquitto_sub -d ... -W n` run really subscribed and then waited its time out,
 * so its empty output means "nothing came" rather than "never connected": the exit status is the
 * time out's, and its debug output (-d) shows the SUBACK. Returns the message lines.
 */
export function messagesAfterTimeout(r: ToolResult): string[] {
  if (r.code !== MOSQUITTO_SUB_TIMED_OUT)
    throw new Error(
      `mosquitto_sub exited ${r.code}, not by its -W time out; stderr=${r.stderr} stdout=${r.stdout}`,
    )
  if (!/received SUBACK/i.test(r.stdout))
    throw new Error(`mosquitto_sub never got its SUBACK; stdout=${r.stdout}`)
  // -d adds "Client ..." debug lines and a "Subscribed (mid: n): qos" line; the rest are messages.
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('Client ') && !/^Subscribed \(mid: \d+\)/.test(l))
}
