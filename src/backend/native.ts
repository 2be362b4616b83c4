/**
 * The kernel pack registered over tfjs-backend-cpu's own kernels: oneDNN convolutions from the
 * optional native addon, and faster JS element-wise kernels (always).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon } from './addon.js';
import { bufferPoolInfo, type BufferPoolInfo } from './alloc.js';
import { nativeConvKernels } from './conv-kernels.js';
import { fastKernels, reluGradient } from './fast-kernels.js';
import { SGD_STEP_KERNEL, sgdStepKernel } from './sgd-kernel.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
/** Who computes a kernel on the cpu backend. */
export type KernelSource = 'native' | 'fast-js' | 'js';

const BACKEND = 'cpu';
const NATIVE_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
/** Element-wise kernels whose large cases run in the addon's threaded loops when it is loaded. */
const THREADED_KERNELS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Relu', 'Step'];
const FAST_KERNELS = [...THREADED_KERNELS, 'Sum', 'Mean', SGD_STEP_KERNEL];
/** The stock kernels that were registered before ours, to fall back on and to restore. */
const originals = new Map<string, tf.KernelConfig | undefined>();
const active = new Map<string, { kernelFunc: KernelFunc; source: KernelSource }>();
/** tfjs's own gradient of Relu, replaced by ours while the pack is enabled. */
let stockReluGradient: tf.GradConfig | undefined;
let ourReluGradient: tf.GradConfig | undefined;

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** The active tfjs backend (`tf.getBackend()`), e.g. `'cpu'`, `'wasm'`, `'tensorflow'`. */
  backend: string;
  /** Whether the native addon is loaded, and if not why. */
  native:
    | {
        available: true;
        path: string;
        oneDNN: string;
        isa: string;
        /**
         * Whether glibc's malloc keeps freed memory for reuse (set when the addon loads; off with
         * `RMC_HEAP_REUSE=0` or where the C library is not glibc). It saves tfjs, which allocates every
         * tensor afresh, most of its page faults.
         */
        heapReuse: boolean;
      }
    | { available: false; reason: string };
  /**
   * For each kernel the pack provides, who computes it on the cpu backend now; `ReluGrad` is the
   * gradient of Relu, one kernel instead of tfjs's Step, Cast and Multiply.
   */
  kernels: Record<string, KernelSource>;
  /** The recycling of the kernels' output buffers on the cpu backend ({@link bufferPoolInfo}). */
  bufferPool: BufferPoolInfo;
}

function install(name: string, kernelFunc: KernelFunc, source: KernelSource): void {
  const current = tf.getKernel(name, BACKEND);
  if (current && current.kernelFunc !== active.get(name)?.kernelFunc) originals.set(name, current);
  if (current) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
  active.set(name, { kernelFunc, source });
}

/**
 * Registers the kernel pack over tfjs-backend-cpu's kernels: the native oneDNN convolutions (Conv2D,
 * FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter) when the addon is built and not disabled by
 * `RMC_NATIVE=0`, and the fast JS kernels (Add, Sub, Multiply, RealDiv, Relu, Step; Sum and Mean
 * over consecutive axes; the gradient of Relu in one pass). The package calls it on import; call it again if `@tensorflow/tfjs-backend-cpu` was imported after
 * `rmc-robust` (its registration replaces ours). Returns the names of the kernels now replaced.
 */
export function enableFastKernels(): string[] {
  const original = (name: string) => originals.get(name)?.kernelFunc;
  const status = loadAddon();
  if (status.addon) {
    for (const [name, kernelFunc] of Object.entries(nativeConvKernels(status.addon, original))) install(name, kernelFunc, 'native');
  }
  for (const [name, kernelFunc] of Object.entries(fastKernels(original, status.addon))) {
    install(name, kernelFunc, status.addon && THREADED_KERNELS.includes(name) ? 'native' : 'fast-js');
  }
  install(SGD_STEP_KERNEL, sgdStepKernel(status.addon), status.addon ? 'native' : 'fast-js');
  const current = tf.getGradient('Relu');
  if (current && current !== ourReluGradient) {
    stockReluGradient = current;
    ourReluGradient = reluGradient(current, status.addon);
    tf.registerGradient(ourReluGradient);
  }
  return [...active.keys()];
}

/** Restores tfjs-backend-cpu's own kernels (for comparisons and benchmarks). */
export function disableFastKernels(): void {
  for (const [name, { kernelFunc }] of active) {
    if (tf.getKernel(name, BACKEND)?.kernelFunc === kernelFunc) {
      tf.unregisterKernel(name, BACKEND);
      const original = originals.get(name);
      if (original) tf.registerKernel(original);
    }
  }
  active.clear();
  if (stockReluGradient && tf.getGradient('Relu') === ourReluGradient) tf.registerGradient(stockReluGradient);
  ourReluGradient = undefined;
}

/**
 * Which backend runs and who computes each kernel of the pack: honest reporting for benchmarks and
 * logs.
 *
 * @example backendInfo() // { backend: 'cpu', native: { available: true, oneDNN: '2.6.3', ... }, kernels: { Conv2D: 'native', Add: 'fast-js', ... } }
 */
export function backendInfo(): BackendInfo {
  const status = loadAddon();
  const kernels = Object.fromEntries(
    [...NATIVE_KERNELS, ...FAST_KERNELS].map((name) => {
      const mine = active.get(name);
      return [name, mine && tf.getKernel(name, BACKEND)?.kernelFunc === mine.kernelFunc ? mine.source : 'js'];
    }),
  ) as Record<string, KernelSource>;
  kernels['ReluGrad'] = ourReluGradient && tf.getGradient('Relu') === ourReluGradient ? (status.addon ? 'native' : 'fast-js') : 'js';
  let backend = 'none';
  try {
    backend = tf.getBackend() ?? 'none';
  } catch {
    // no backend registered yet
  }
  return {
    backend,
    native: status.addon ? { available: true, path: status.path, ...status.addon.info(), heapReuse: status.heapReuse } : { available: false, reason: status.reason },
    kernels,
    bufferPool: bufferPoolInfo(),
  };
}

enableFastKernels();
