export { backendInfo, enableFastKernels, disableFastKernels, type BackendInfo, type KernelSource } from './native.js';
export { registerWasmKernels } from './wasm-kernels.js';
export { bufferPoolInfo, setBufferPoolCapacity, type BufferPoolInfo } from './alloc.js';
