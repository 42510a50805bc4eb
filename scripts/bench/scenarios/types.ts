/** What a scenario is to the orchestrator: metrics it reports and how to measure one broker. */
import type { BrokerLauncher, RunningBroker, StartOptions } from '../brokers.ts'
import type { Options, ScenarioId } from '../options.ts'

export interface Metric {
  id: string
  label: string
  unit: 'msg/s' | 'conn/s' | 'us' | 'bytes' | 'count'
  better: 'higher' | 'lower'
}

export interface Measurement {
  values: Record<string, number>
  /** Everything else worth keeping in the JSON: raw counts, CPU use, series. */
  details: Record<string, unknown>
  /** Shown under the table: losses, errors, anything that makes a figure suspect. */
  notes: string[]
}

export interface Scenario {
  id: ScenarioId
  metrics: Metric[]
  run(launcher: BrokerLauncher, options: Options): Promise<Measurement>
}

/** Starts a fresh broker for one measurement and always stops it. */
export async function withBroker<T>(
  launcher: BrokerLauncher,
  fn: (broker: RunningBroker) => Promise<T>,
  startOptions?: StartOptions,
): Promise<T> {
  const broker = await launcher.start(startOptions)
  try {
    return await fn(broker)
  } finally {
    await broker.stop()
  }
}

export function errorNotes(errors: string[]): string[] {
  return errors.map((e) => `error: ${e}`)
}
