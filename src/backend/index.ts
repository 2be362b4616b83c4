export { backendInfo, enableFastKernels, disableFastKernels, bufferPoolInfo, setBufferPoolCapacity, type BackendInfo, type KernelSource } from './native.js';
export { registerWasmKernels } from './wasm-kernels.js';
export { type BufferPoolInfo } from './alloc.js';
