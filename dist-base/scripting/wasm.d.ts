/**
 * The few WebAssembly types the host needs. The project compiles without the DOM lib, which is
 * where TypeScript declares WebAssembly, so the global is reached through this typed view.
 */
export interface WasmModule {
    readonly __brand: 'WebAssembly.Module';
}
export interface WasmMemory {
    readonly buffer: ArrayBuffer;
}
interface WasmGlobal {
    compile(bytes: Uint8Array): Promise<WasmModule>;
    Memory: new (descriptor: {
        initial: number;
        maximum: number;
    }) => WasmMemory;
}
export declare const wasm: WasmGlobal;
export {};
