import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'
import type { ScriptError } from './error-location.ts'

/** What the parts of a ScriptVm need from it: its context, the call bracket and error reading. */
export interface VmCalls {
  readonly ctx: QuickJSContext
  /** Neither disposed nor crashed, nor about to be disposed. */
  readonly alive: boolean
  /** Not even a crash or a dispose in progress lets the guest be touched any more. */
  readonly dead: boolean
  /** True while a call into the guest is in progress (handles must then wait to be disposed). */
  readonly inCall: boolean
  /**
   * One call into the guest: arms the CPU deadline, tells the watchdog, runs promise jobs and
   * drains publishes at the end, and disposes what was deferred. Returns the call's error.
   */
  run(what: string, body: () => ScriptError | undefined): ScriptError | undefined
  /** Calls a guest function and disposes its result; the error it threw, if any. */
  callGuest(fn: QuickJSHandle, args: QuickJSHandle[]): ScriptError | undefined
  /** Reads a thrown value, located in the script's files, and disposes its handle. */
  takeError(handle: QuickJSHandle): ScriptError
}
