/**
 * Debian's Chromium driven by playwright-core, for the dashboard's browser tests and the
 * web-page benchmark (scripts/bench/suites/web-page.ts). A missing browser is a visible skip,
 * except under CI=true where .ci/run installs it and its absence is a failure.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
/** Why the browser tests cannot run here, or undefined when they can. */
export const chromiumMissing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found (apt-get install -y chromium)`
/** The `skip` option for a browser test: only outside CI is a missing browser a skip. */
export const chromiumSkip: string | false =
  chromiumMissing !== undefined && process.env.CI !== 'true' ? chromiumMissing : false

// Headless, no GPU, and nothing that reaches the network on its own.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface BrowserPage {
  context: BrowserContext
  page: Page
  /** Uncaught errors on the page, to assert empty at the end. */
  errors: string[]
  close(): Promise<void>
}

/** Starts Chromium with a throwaway profile; `close` ends it and removes the profile. */
export async function launchChromium(
  options: { httpCredentials?: { username: string; password: string }; timeout?: number } = {},
): Promise<BrowserPage> {
  const profile = await mkdtemp(join(tmpdir(), 'tinymqtt-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    ...(options.httpCredentials === undefined ? {} : { httpCredentials: options.httpCredentials }),
    viewport: { width: 1280, height: 800 },
  })
  if (options.timeout !== undefined) context.setDefaultTimeout(options.timeout)
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  return {
    context,
    page,
    errors,
    async close() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}
