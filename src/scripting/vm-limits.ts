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
/** Headroom between QuickJS's malloc limit and the WebAssembly cap so QuickJS fails first, cleanly. */
const WASM_HEADROOM = 2 * 1024 * 1024

export interface LimitedRuntime {
  runtime: QuickJSRuntime
  ctx: QuickJSContext
  memory: WasmMemory
}

/**
 * A QuickJS runtime in its own WebAssembly instance, its memory capped twice: QuickJS's own
 * malloc limit, which fails cleanly with an exception in the guest, and below the WebAssembly
 * memory maximum, the hard ceiling should QuickJS ever overshoot. The stack limit is QuickJS's.
 */
export async function createLimitedRuntime(
  limits: ScriptLimits,
  wasmModule: WasmModule,
): Promise<LimitedRuntime> {
  const maximum = Math.max(INITIAL_PAGES + 1, Math.floor(limits.memoryLimitBytes / PAGE))
  const memory = new wasm.Memory({ initial: INITIAL_PAGES, maximum })
  const module = await newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, { wasmModule, wasmMemory: memory }),
  )
  const runtime = module.newRuntime()
  runtime.setMemoryLimit(Math.max(1024 * 1024, maximum * PAGE - INITIAL_PAGES * PAGE - WASM_HEADROOM))
  runtime.setMaxStackSize(limits.maxStackSizeBytes)
  return { runtime, ctx: runtime.newContext(), memory }
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
