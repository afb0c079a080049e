// Error codes of the WebAssembly core wrapper.

export enum WasmErrorCode {
  /** build/core.wasm is missing or does not compile: run `npm run build`. */
  CORE_MISSING = "WASM_CORE_MISSING",
  /** A kernel trapped (out of wasm memory, or a bug): the call had no effect on the caller's data. */
  CORE_TRAP = "WASM_CORE_TRAP",
  /** An outpoint set would pass its largest size (50 million outpoints in the 4 GB of wasm32). */
  SET_FULL = "WASM_OUTPOINT_SET_FULL",
  /** A kernel rejected its arguments (the wrappers check first, so this means a wrapper bug). */
  BAD_ARGS = "WASM_BAD_ARGS",
}
