export { backendInfo, enableNativeKernels, disableNativeKernels, type BackendInfo } from './native.js';
