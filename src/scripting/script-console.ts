/**
 * Host half of the dashboard console: evaluates an expression in a running script (through the
 * prelude's consoleEval, see guest-console.ts), settles a promise it returns if its jobs can,
 * and formats the value or the error. The caller runs it inside ScriptVm.run(), so the CPU
 * deadline, the memory limit and the watchdog apply as to any other call into the script.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten'
import { formatScriptError, locateError, type ScriptError, type ThrownParts } from './error-location.ts'

export type ConsoleReply = { ok: true; result: string } | { ok: false; error: string }

/** An evaluation's outcome inside run(): done, or a promise still waiting (a timer, an ms_fetch). */
export type ConsoleOutcome =
  | { reply: ConsoleReply; error?: ScriptError | undefined }
  | { pending: QuickJSHandle }

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

  /** Promises the console waits for; disposed with the console, before the context goes. */
  private readonly waiting = new Set<QuickJSHandle>()

  /** Only inside ScriptVm.run(). `error` is set when a limit or the expression threw. */
  evaluate(expression: string): ConsoleOutcome {
    const ctx = this.ctx
    const arg = ctx.newString(expression)
    let result: ReturnType<QuickJSContext['callFunction']>
    try {
      result = ctx.callFunction(this.evalFn, ctx.undefined, arg)
    } finally {
      arg.dispose()
    }
    if (result.error) return this.failed(result.error)
    const value = result.value
    if (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs(-1)
      if (jobs.error) {
        value.dispose()
        return this.failed(jobs.error)
      }
    }
    if (this.isPending(value)) {
      this.waiting.add(value)
      return { pending: value }
    }
    return this.finish(value)
  }

  /** Whether a promise from evaluate() still waits; no guest code runs, so no run() is needed. */
  isPending(promise: QuickJSHandle): boolean {
    const state = this.ctx.getPromiseState(promise)
    if (state.type === 'pending') return true
    if (state.type === 'fulfilled' && !state.notAPromise) state.value.dispose()
    if (state.type === 'rejected') state.error.dispose()
    return false
  }

  /** Gives up on a promise (it runs on in the script). */
  forget(promise: QuickJSHandle): void {
    if (this.waiting.delete(promise)) promise.dispose()
  }

  /** Only inside ScriptVm.run(): formats a settled value (disposing it), or the reason it was rejected. */
  finish(handle: QuickJSHandle): { reply: ConsoleReply; error?: ScriptError } {
    const ctx = this.ctx
    this.waiting.delete(handle)
    let value = handle
    const state = ctx.getPromiseState(value)
    if (state.type === 'pending') {
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
    for (const promise of this.waiting) promise.dispose()
    this.waiting.clear()
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

/** How long the console waits for a promise (a timer, an ms_fetch) before showing it pending. */
export const CONSOLE_WAIT_MS = 30_000
const POLL_MS = 20

/** What waitForConsole needs of the VM. */
interface ConsoleVm {
  readonly name: string
  readonly alive: boolean
  finishConsole(guestConsole: GuestConsole, promise: QuickJSHandle): ConsoleReply
}

/**
 * Waits for a promise the expression returned, checking its state between the script's calls
 * (it settles inside one of them: a timer, an ms_fetch). The VM's other work goes on meanwhile.
 */
export function waitForConsole(
  vm: ConsoleVm,
  guestConsole: GuestConsole,
  promise: QuickJSHandle,
): Promise<ConsoleReply> {
  const started = Date.now()
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      // A disposed VM disposed the handle too: it must not be touched.
      if (!vm.alive) {
        clearInterval(timer)
        resolve({ ok: false, error: `${vm.name} stopped before the promise settled` })
        return
      }
      if (guestConsole.isPending(promise)) {
        if (Date.now() - started < CONSOLE_WAIT_MS) return
        clearInterval(timer)
        guestConsole.forget(promise)
        resolve({
          ok: true,
          result: `Promise { <pending> } (not settled after ${CONSOLE_WAIT_MS / 1000} s; it runs on in the script)`,
        })
        return
      }
      clearInterval(timer)
      resolve(vm.finishConsole(guestConsole, promise))
    }, POLL_MS)
    timer.unref()
  })
}
