export const wasm = globalThis.WebAssembly;
//# sourceMappingURL=wasm.js.map