/**
 * rmc-robust: adversarially robust convolutional networks for TensorFlow.js, after Xu & Yang,
 * "Understanding Adversarial Robustness from Feature Maps of Convolutional Layers".
 *
 * The library needs `@tensorflow/tfjs-core` and `@tensorflow/tfjs-layers` (peers) and any tfjs backend
 * registered by the application (`@tensorflow/tfjs-backend-cpu`, `-wasm`, `-webgl`, `@tensorflow/tfjs-node`, ...).
 *
 * This is the universal entry: it imports no Node built-in and runs in browsers and any JS runtime.
 * In Node the package's `exports` pick src/index.node.ts instead, the same API with files, downloads
 * and the native kernels plugged in (see docs/packaging.md).
 *
 * @packageDocumentation
 * @module rmc-robust
 */
export * from './models/index.js';
export { fileSystem, writeAtomic } from './io/file-system.js';
export { readTorchCheckpoint, STATE_DICT_WRAPPERS, type TorchCheckpoint } from './io/torch-checkpoint.js';
export { readSafetensors, writeSafetensors, type SafetensorsContents } from './io/safetensors.js';
export { halfToFloat, type TensorDtype } from './io/tensor-data.js';
export * from './attacks/index.js';
export * from './analysis/index.js';
export * from './backend/index.js';
export * from './defenses/index.js';
export * from './train/index.js';
export * from './data/index.js';
