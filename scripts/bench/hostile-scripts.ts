/**
 * The scripts of the hostile soak, written into a fresh folder that tinymqtt loads: each one
 * breaks a different limit over and over, one is rewritten every few seconds to force reloads,
 * and one is well-behaved and answers requests, to show the others don't take it down.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const HEALTHY_REQUEST = 'healthy/ping'
export const HEALTHY_REPLY = 'healthy/pong'

const SCRIPTS: Record<string, string> = {
  // An endless loop in a timer callback: interrupted by the CPU limit every time.
  'spin.js': 'setInterval(() => { for (;;) {} }, 3000)\n',
  // Allocates until the memory cap refuses; the array is local, so each call starts over.
  'hog.js': `setInterval(() => {
  const keep = []
  for (;;) keep.push(new Uint8Array(64 * 1024))
}, 5000)
`,
  // Far above the publish rate limit, all the time: throttled, never delivered in bulk.
  'storm.js': `setInterval(() => {
  for (let i = 0; i < 5000; i++) ms_publish('hostile/storm', String(i))
}, 100)
`,
  'healthy.js': `ms_subscribe('${HEALTHY_REQUEST}', (topic, payload) => ms_publish('${HEALTHY_REPLY}', payload))\n`,
}

const churn = (version: number): string =>
  `const VERSION = ${version}\nms_subscribe('hostile/churn', () => ms_publish('hostile/churn/version', String(VERSION)))\n`

export interface HostileScripts {
  dir: string
  /** How many times the churn script was rewritten. */
  rewrites(): number
  /** Stops the rewrites and deletes the folder. */
  stop(): void
}

export function writeHostileScripts(rewriteEveryMs: number): HostileScripts {
  const dir = mkdtempSync(join(tmpdir(), 'tinymqtt-bench-hostile-'))
  for (const [name, code] of Object.entries(SCRIPTS)) writeFileSync(join(dir, name), code)
  let version = 0
  writeFileSync(join(dir, 'churn.js'), churn(version))
  const timer = setInterval(() => writeFileSync(join(dir, 'churn.js'), churn(++version)), rewriteEveryMs)
  return {
    dir,
    rewrites: () => version,
    stop() {
      clearInterval(timer)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
