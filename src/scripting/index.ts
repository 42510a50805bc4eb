/**
 * The scripting host: sandboxed QuickJS scripts (one VM each, in a worker thread) with
 * the ms_* API, CPU/memory/stack/publish limits and hot reload. Built only on the
 * broker's embedding API; nothing in src/broker imports from here.
 */

import type { ScriptBroker, ScriptingHost } from './host-interfaces.ts'
import type { ScriptingOptions } from './options.ts'
import { resolveOptions } from './options.ts'
import { ScriptRunner } from './scripting-host.ts'

export type { ScriptBroker, ScriptingHost } from './host-interfaces.ts'
export type { ScriptingOptions } from './options.ts'
export type { ConsoleReply } from './script-console.ts'
export type { ScriptSource } from './script-files.ts'
export type {
  ScriptLimitHit,
  ScriptLimitKind,
  ScriptState,
  ScriptStatus,
  ScriptThrottle,
} from './script-status.ts'

/** Loads the scripts at `options.path`, watches them, and resolves once the initial load has settled. */
export async function startScripting(
  broker: ScriptBroker,
  options: ScriptingOptions,
): Promise<ScriptingHost> {
  const runner = new ScriptRunner(broker, resolveOptions(options))
  try {
    await runner.start()
  } catch (error) {
    await runner.close()
    throw error
  }
  return runner
}
