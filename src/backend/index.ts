export { backendInfo, enableFastKernels, disableFastKernels, type BackendInfo, type KernelSource } from './native.js';
