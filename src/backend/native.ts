/**
 * The optional native kernel pack: oneDNN kernels registered over tfjs-backend-cpu's own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon } from './addon.js';
import { nativeConvKernels } from './conv-kernels.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];

const BACKEND = 'cpu';
/** The JS kernels that were registered before ours, to fall back on and to restore. */
const originals = new Map<string, tf.KernelConfig | undefined>();
const active = new Map<string, KernelFunc>();

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** The active tfjs backend (`tf.getBackend()`), e.g. `'cpu'`, `'wasm'`, `'tensorflow'`. */
  backend: string;
  /** Whether the native addon is loaded, and if not why. */
  native: { available: true; path: string; oneDNN: string; isa: string } | { available: false; reason: string };
  /** For each kernel the pack provides: whether the cpu backend currently runs the native one. */
  kernels: Record<string, 'native' | 'js'>;
}

/**
 * Registers the native kernels over tfjs-backend-cpu's (Conv2D, FusedConv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter) when the addon is available. The package calls it on import; call it again if
 * `@tensorflow/tfjs-backend-cpu` was imported after `rmc-robust` (its registration replaces ours).
 * Returns the names of the kernels now native (empty when the addon is not built or disabled).
 */
export function enableNativeKernels(): string[] {
  const status = loadAddon();
  if (!status.addon) return [];
  const kernels = nativeConvKernels(status.addon, (name) => originals.get(name)?.kernelFunc);
  for (const [name, kernelFunc] of Object.entries(kernels)) {
    const current = tf.getKernel(name, BACKEND);
    if (current?.kernelFunc !== kernelFunc && current?.kernelFunc !== active.get(name)) originals.set(name, current);
    if (current) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
    active.set(name, kernelFunc);
  }
  return Object.keys(kernels);
}

/** Restores tfjs-backend-cpu's own kernels (for comparisons and benchmarks). */
export function disableNativeKernels(): void {
  for (const [name, kernelFunc] of active) {
    if (tf.getKernel(name, BACKEND)?.kernelFunc === kernelFunc) {
      tf.unregisterKernel(name, BACKEND);
      const original = originals.get(name);
      if (original) tf.registerKernel(original);
    }
  }
  active.clear();
}

/**
 * Which backend runs and which kernels are native: honest reporting for benchmarks and logs.
 *
 * @example backendInfo() // { backend: 'cpu', native: { available: true, oneDNN: '2.6.3', ... }, kernels: { Conv2D: 'native', ... } }
 */
export function backendInfo(): BackendInfo {
  const status = loadAddon();
  const names = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const kernels = Object.fromEntries(
    names.map((name) => [name, active.has(name) && tf.getKernel(name, BACKEND)?.kernelFunc === active.get(name) ? 'native' : 'js']),
  ) as Record<string, 'native' | 'js'>;
  let backend = 'none';
  try {
    backend = tf.getBackend() ?? 'none';
  } catch {
    // no backend registered yet
  }
  return {
    backend,
    native: status.addon ? { available: true, path: status.path, ...status.addon.info() } : { available: false, reason: status.reason },
    kernels,
  };
}

/** @internal The original (JS) kernel of `name` on the cpu backend, for parity tests. */
export function originalKernel(name: string): tf.KernelConfig | undefined {
  return originals.get(name) ?? (active.has(name) ? undefined : tf.getKernel(name, BACKEND));
}

enableNativeKernels();
