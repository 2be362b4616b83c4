export { backendInfo, enableFastKernels, disableFastKernels, bufferPoolInfo, setBufferPoolCapacity, type BackendInfo, type KernelSource } from './native.js';
export { type AddonAttempt, type AddonRoute } from './addon.js';
export { registerWasmKernels } from './wasm-kernels.js';
export { type BufferPoolInfo } from './alloc.js';
