/**
 * Host half of the dashboard console: evaluates an expression in a running script (through the
 * prelude's consoleEval, see guest-console.ts), settles a promise it returns if its jobs can,
 * and formats the value or the error. The caller runs it inside ScriptVm.run(), so the CPU
 * deadline, the memory limit and the watchdog apply as to any other call into the script.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten'
import { formatScriptError, locateError, type ThrownParts } from './error-location.ts'
import type { ScriptError } from './protocol.ts'

export type ConsoleReply = { ok: true; result: string } | { ok: false; error: string }

/** The file name QuickJS gives eval code in stack frames; shown as `console`. */
const EVAL_FILE = '<input>'

export class GuestConsole {
  constructor(
    private readonly ctx: QuickJSContext,
    private readonly runtime: QuickJSRuntime,
    private readonly evalFn: QuickJSHandle,
    private readonly showFn: QuickJSHandle,
    private readonly name: string,
    private readonly readThrown: (handle: QuickJSHandle) => ThrownParts,
    private readonly isOwnFile: (file: string) => boolean,
  ) {}

  /** Only inside ScriptVm.run(). `error` is set when a limit or the expression threw. */
  evaluate(expression: string): { reply: ConsoleReply; error?: ScriptError } {
    const ctx = this.ctx
    const arg = ctx.newString(expression)
    let result: ReturnType<QuickJSContext['callFunction']>
    try {
      result = ctx.callFunction(this.evalFn, ctx.undefined, arg)
    } finally {
      arg.dispose()
    }
    if (result.error) return this.failed(result.error)
    let value = result.value
    if (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs(-1)
      if (jobs.error) {
        value.dispose()
        return this.failed(jobs.error)
      }
    }
    const state = ctx.getPromiseState(value)
    if (state.type === 'pending') {
      // Waiting for a timer or an ms_fetch would hold the console open; the promise runs on.
      value.dispose()
      return { reply: { ok: true, result: 'Promise { <pending> }' } }
    }
    if (state.type === 'rejected') {
      value.dispose()
      return this.failed(state.error)
    }
    if (!state.notAPromise) {
      value.dispose()
      value = state.value
    }
    try {
      const shown = ctx.callFunction(this.showFn, ctx.undefined, value)
      if (shown.error) return this.failed(shown.error)
      const text = ctx.getString(shown.value)
      shown.value.dispose()
      return { reply: { ok: true, result: text } }
    } finally {
      value.dispose()
    }
  }

  dispose(): void {
    this.evalFn.dispose()
    this.showFn.dispose()
  }

  /** Locates a thrown value (disposing its handle): a frame in the expression reads `console:line:column`. */
  private failed(handle: QuickJSHandle): { reply: ConsoleReply; error: ScriptError } {
    let error: ScriptError
    try {
      const located = locateError(
        this.name,
        this.readThrown(handle),
        (file) => file === EVAL_FILE || this.isOwnFile(file),
      )
      error = located.where.startsWith(EVAL_FILE)
        ? { ...located, where: `console${located.where.slice(EVAL_FILE.length)}` }
        : located
    } finally {
      handle.dispose()
    }
    return { reply: { ok: false, error: formatScriptError(error) }, error }
  }
}
