/**
 * The package's kernels, registered when its models, attacks or trainer are first imported, once per
 * process however many copies of the package load (its ESM and CommonJS builds): the kernel pack over
 * tfjs-backend-cpu (src/backend/native.ts), the one-pass Relu gradient kernel, and the wasm backend's
 * missing Conv2DBackpropFilter. This module is the package's side effect: a bundle that imports only
 * the analysis functions leaves it out (see `sideEffects` in package.json).
 */
import { oncePerProcess } from '../io/once.js';
import { registerReluGradKernel } from './fast-kernels.js';
import { enableFastKernels } from './native.js';
import { registerWasmKernels } from './wasm-kernels.js';

oncePerProcess('kernels', () => {
  registerReluGradKernel();
  registerWasmKernels();
  enableFastKernels();
});
