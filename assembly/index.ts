// The CAS WebAssembly core: hot kernels only, no I/O. Inputs and outputs pass
// through memory the host reserves with `alloc`; src/wasm/ is the only caller.

export { sha256, sha256d } from "./sha256";
export { hashBlocks64 } from "./batch";
export { merkleRoot, merkleFold, merkleProof, merkleVerify } from "./merkle";
export { powSearch } from "./pow";
export {
  opsetNew, opsetFree, opsetClear, opsetSize, opsetCapacity,
  opsetHas, opsetInsertBatch, opsetDeleteBatch, opsetCheckBatch, opsetTouched,
} from "./outpointSet";

/** Reserves `size` bytes of wasm memory (16-byte aligned) for the host. */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Releases memory obtained from `alloc`. */
export function free(ptr: usize): void {
  heap.free(ptr);
}
