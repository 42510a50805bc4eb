import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten'
import type { ScriptLimits } from './options.ts'
import { type WasmMemory, type WasmModule, wasm } from './wasm.ts'

const PAGE = 65536
const INITIAL_PAGES = 256 // the QuickJS build's own INITIAL_MEMORY (16 MiB)
/**
 * Headroom between QuickJS's malloc limit and the WebAssembly cap: one allocation too large for
 * what is left fails in QuickJS, cleanly (its running count is too low to matter, see MemoryCeiling).
 */
const WASM_HEADROOM = 2 * 1024 * 1024

export interface LimitedRuntime {
  runtime: QuickJSRuntime
  ctx: QuickJSContext
  memory: WasmMemory
  ceiling: MemoryCeiling
}

/**
 * Whether the VM's WebAssembly memory is at its maximum. QuickJS's own malloc limit cannot be
 * relied on: this build has no malloc_usable_size, so QuickJS counts about 8 bytes per block
 * and a script that keeps many strings passes its limit unnoticed. What stops it is the
 * WebAssembly maximum: malloc fails, QuickJS throws "out of memory" (or an InternalError with no
 * message, or null), and when the error path itself runs out of memory QuickJS can be left with
 * a corrupt heap (a use-after-free in build_backtrace) that faults on some later call. Watching
 * `grow` is how the host tells such a fault, and such an error, from any other.
 */
export class MemoryCeiling {
  private refused = false

  constructor(memory: WasmMemory) {
    const grow = memory.grow.bind(memory)
    // Emscripten asks for extra room first and then for less: only the last answer counts.
    memory.grow = (pages: number): number => {
      try {
        const previous = grow(pages)
        this.refused = false
        return previous
      } catch (e) {
        this.refused = true
        throw e
      }
    }
  }

  /** The last attempt to grow the memory was refused: the VM's heap is full. */
  get reached(): boolean {
    return this.refused
  }
}

/**
 * A QuickJS runtime in its own WebAssembly instance, its memory capped twice: QuickJS's own
 * malloc limit, which fails cleanly with an exception in the guest but under-counts (see
 * MemoryCeiling), and the WebAssembly memory maximum, the real ceiling. The stack limit is
 * QuickJS's.
 */
export async function createLimitedRuntime(
  limits: ScriptLimits,
  wasmModule: WasmModule,
): Promise<LimitedRuntime> {
  const maximum = Math.max(INITIAL_PAGES + 1, Math.floor(limits.memoryLimitBytes / PAGE))
  const memory = new wasm.Memory({ initial: INITIAL_PAGES, maximum })
  const ceiling = new MemoryCeiling(memory)
  const module = await newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, { wasmModule, wasmMemory: memory }),
  )
  const runtime = module.newRuntime()
  runtime.setMemoryLimit(Math.max(1024 * 1024, maximum * PAGE - INITIAL_PAGES * PAGE - WASM_HEADROOM))
  runtime.setMaxStackSize(limits.maxStackSizeBytes)
  return { runtime, ctx: runtime.newContext(), memory, ceiling }
}

/**
 * The CPU deadline of one call into a VM, on the monotonic clock: a wall clock set back (or the
 * test harness's fake Date) must not stretch a call's time. 0 while no call runs.
 */
export class CpuDeadline {
  private at = 0

  constructor(
    runtime: QuickJSRuntime,
    /** Read at every call: a test may lower the limit of a VM it built without one. */
    private readonly limits: Pick<ScriptLimits, 'cpuLimitMs'>,
  ) {
    runtime.setInterruptHandler(() => performance.now() > this.at)
  }

  /** Starts (or, as the guest's clock moves, restarts) the budget of one call. */
  arm(): void {
    this.at = performance.now() + this.limits.cpuLimitMs
  }

  /** No limit: for our own prelude, which runs before any script code. */
  lift(): void {
    this.at = Number.POSITIVE_INFINITY
  }

  clear(): void {
    this.at = 0
  }
}
