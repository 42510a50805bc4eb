import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten'
import type { ScriptError } from './error-location.ts'
import { withConsoleHook } from './guest-console.ts'
import { ScriptImports } from './module-loader.ts'
import type { VmCalls } from './vm-calls.ts'

/**
 * The script itself inside its VM: evaluated as an ES module with its imports, its namespace
 * kept for the optional `init` / `deinit` exports.
 */
export class VmModule {
  private namespace: QuickJSHandle | undefined
  /** Which files are this script's own in stack traces: itself and the modules it imports. */
  isOwnFile = (file: string): boolean => file === this.name

  constructor(
    private readonly vm: VmCalls,
    private readonly name: string,
    private readonly runtime: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
  ) {}

  /**
   * Evaluates the script as an ES module, its imports served from `modules` (folder-relative
   * name → source); returns the error if the top level failed.
   */
  evaluate(code: string, modules: ReadonlyMap<string, string>): ScriptError | undefined {
    const imports = new ScriptImports(this.name, code, modules)
    this.isOwnFile = imports.isOwnFile
    this.runtime.setModuleLoader(imports.load, imports.normalize)
    return this.vm.run('load', () => {
      const result = this.ctx.evalCode(withConsoleHook(code), this.name, { type: 'module', strict: true })
      if (result.error) return imports.locate(this.vm.takeError(result.error))
      const settled = this.settle(result.value)
      if ('error' in settled) return imports.locate(settled.error)
      this.namespace = settled.value
      return undefined
    })
  }

  /** Calls an optional export (`init` / `deinit`); missing exports are fine. */
  callExport(exportName: 'init' | 'deinit'): ScriptError | undefined {
    const ns = this.namespace
    if (!ns || !this.vm.alive) return undefined
    const ctx = this.ctx
    return this.vm.run(exportName, () => {
      const fn = ctx.getProp(ns, exportName)
      try {
        if (ctx.typeof(fn) !== 'function') return undefined
        const result = ctx.callFunction(fn, ctx.undefined)
        if (result.error) return this.vm.takeError(result.error)
        const settled = this.settle(result.value)
        if ('error' in settled) return settled.error
        settled.value.dispose()
        return undefined
      } finally {
        fn.dispose()
      }
    })
  }

  dispose(): void {
    this.namespace?.dispose()
  }

  /** Resolves a value that may be a promise (module evaluation with top-level await, async init). */
  private settle(handle: QuickJSHandle): { value: QuickJSHandle } | { error: ScriptError } {
    if (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs(-1)
      if (jobs.error) {
        handle.dispose()
        return { error: this.vm.takeError(jobs.error) }
      }
    }
    const state = this.ctx.getPromiseState(handle)
    if (state.type === 'fulfilled') {
      if (state.notAPromise) return { value: handle }
      handle.dispose()
      return { value: state.value }
    }
    handle.dispose()
    if (state.type === 'rejected') return { error: this.vm.takeError(state.error) }
    return { error: { where: this.name, message: 'top-level await or async init() did not settle' } }
  }
}
