/**
 * The scripting host: sandboxed QuickJS scripts (one VM each, in a worker thread) with the
 * ms_* API, CPU/memory/stack/publish limits, `persist`, the dashboard console and hot reload.
 *
 * Owns: the script files and their watching (script-files, script-watcher), the main-thread
 * host (scripting-host and the modules it delegates to), the worker and its VMs (vm-thread,
 * vm-worker, script-vm and its vm-* parts), the guest prelude (guest-*), and the packed
 * formats between them (wire-formats, thread-batches, guest-batches, protocol, with the
 * script errors of error-location).
 *
 * Must not import: the broker's internals (only its API modules: types.ts, topic-rules.ts,
 * last-values.ts; the broker is reached through ScriptBroker, never as a class), src/web,
 * src/listeners, src/bridge, src/cluster, src/store, src/testing, the entry points in src/.
 * Nothing in src/broker imports from here; src/testing may import these modules to run a VM
 * in-process (.dependency-cruiser.cjs).
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
