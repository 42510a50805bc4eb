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
