/**
 * The measuring loop: every chosen scenario against every available broker, scenario
 * by scenario so the brokers of one comparison run minutes apart, not a whole run apart.
 */
import { type BrokerLauncher, type BrokerName, BrokerStartError } from './brokers.ts'
import { errorText } from './load/util.ts'
import type { Options } from './options.ts'
import { type Results, summary } from './report.ts'
import { SCENARIOS } from './scenarios/index.ts'

export interface RunOutcome {
  results: Results
  /** Brokers that failed to start, with the reason their later scenarios were skipped. */
  broken: Map<BrokerName, string>
}

export async function runScenarios(brokers: BrokerLauncher[], options: Options): Promise<RunOutcome> {
  const results: Results = {}
  const broken = new Map<BrokerName, string>()
  // On a terminal the line is rewritten when the figure arrives; in a log it is written once.
  const tty = process.stdout.isTTY === true
  for (const id of options.scenarios) {
    const scenario = SCENARIOS[id]
    for (const launcher of brokers) {
      if (launcher.only !== undefined && !launcher.only.includes(id)) continue
      const byBroker = results[launcher.name] ?? {}
      results[launcher.name] = byBroker
      const why = broken.get(launcher.name)
      if (why !== undefined) {
        byBroker[id] = { error: `skipped: ${why}` }
        continue
      }
      const label = `${id.padEnd(9)}${launcher.name.padEnd(10)}`
      if (tty) process.stdout.write(`${label}…`)
      const start = tty ? '\r' : ''
      try {
        const m = await scenario.run(launcher, options)
        byBroker[id] = m
        process.stdout.write(`${start}${label}${summary(m, scenario.metrics)}\n`)
      } catch (err) {
        byBroker[id] = { error: errorText(err) }
        // A broker that cannot start once will not start for the next scenario either.
        if (err instanceof BrokerStartError)
          broken.set(launcher.name, 'it failed to start earlier in this run')
        process.stdout.write(`${start}${label}FAILED: ${errorText(err).split('\n')[0]}\n`)
      }
    }
  }
  return { results, broken }
}
