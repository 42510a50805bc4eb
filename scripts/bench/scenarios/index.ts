/** All scenarios in the order they run and appear in the table. */
import type { ScenarioId } from '../options.ts'
import { connects } from './connects.ts'
import { latency } from './latency.ts'
import { memory } from './memory.ts'
import { qos1Flood } from './qos1-flood.ts'
import { soak } from './soak.ts'
import { stormScenario } from './storm.ts'
import { fanIn, fanOut, qos1 } from './stream.ts'
import type { Scenario } from './types.ts'

export const SCENARIOS: Record<ScenarioId, Scenario> = {
  'fan-in': fanIn,
  'fan-out': fanOut,
  qos1,
  'qos1-flood': qos1Flood,
  latency,
  connects,
  storm: stormScenario,
  memory,
  soak,
}
