/**
 * The few WebAssembly types the host needs. The project compiles without the DOM lib, which is
 * where TypeScript declares WebAssembly, so the global is reached through this typed view.
 */
export interface WasmModule {
  readonly __brand: 'WebAssembly.Module'
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer
  /** Adds pages; throws a RangeError past the maximum. Replaceable, for vm-limits.ts to watch. */
  grow(pages: number): number
}

interface WasmGlobal {
  compile(bytes: Uint8Array): Promise<WasmModule>
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly
