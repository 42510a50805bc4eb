/**
 * `tinymqtt/testing`: runs one automation script in the broker's own sandbox, with the broker,
 * the clock and the network replaced by fakes a test drives (see README, "Testing scripts").
 *
 *   const s = await loadScript('scripts/autoexec.js', { now: '2026-06-21T18:00:00+02:00' })
 *   s.publish('stat/plug/POWER', 'ON')
 *   assert.deepEqual(s.take().map((m) => m.payload), ['ON'])
 */
import type { LoadedScript, LoadScriptOptions } from './testing/harness-types.ts'
import { ScriptHarness } from './testing/script-harness.ts'

export { parseDuration } from './testing/duration.ts'
export type { FetchAnswer, FetchCall, FetchHandler, FetchState } from './testing/fake-fetch.ts'
export type {
  LastValueInfo,
  LoadedScript,
  LoadScriptOptions,
  LogLine,
  PublishedMessage,
  ScriptErrorEntry,
  ScriptLimitOptions,
  TestPayload,
  TestPublishOptions,
} from './testing/harness-types.ts'
export { ScriptLoadError } from './testing/harness-types.ts'

/**
 * Loads a script file (its imports from its folder, as the broker does) and runs its top level
 * and init(). Rejects with a ScriptLoadError when they fail.
 */
export async function loadScript(file: string, options: LoadScriptOptions = {}): Promise<LoadedScript> {
  const harness = new ScriptHarness(file, options)
  await harness.load()
  return harness
}
