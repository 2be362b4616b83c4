/**
 * The kernel pack registered over tfjs-backend-cpu's own kernels: oneDNN convolutions from the
 * optional native addon, else WebAssembly SIMD convolutions, and faster JS element-wise kernels
 * (always).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nodePlatformOrNull } from '../io/platform.js';
import { loadAddon, type AddonAttempt, type AddonRoute } from './addon.js';
import { warnOnceConv2D } from './missing-native.js';
import { sharedPerProcess } from '../io/once.js';
import { bufferPoolInfo as localBufferPoolInfo, setBufferPoolCapacity as localSetBufferPoolCapacity, type BufferPoolInfo } from './alloc.js';
import { convKernels } from './conv-kernels.js';
import { loadWasmSimdConv, type WasmSimdConvStatus } from './wasm-simd-conv.js';
import { fastKernels, reluGradient } from './fast-kernels.js';
import { copyKernels } from './copy-kernels.js';
import { SGD_STEP_KERNEL, sgdStepKernel } from './sgd-kernel.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
/**
 * Who computes a kernel on the cpu backend: `'native'` the addon (oneDNN or its threaded loops),
 * `'wasm-simd'` the package's WebAssembly SIMD matrix product, `'fast-js'` the package's JS loops,
 * `'js'` tfjs-backend-cpu's own kernel.
 */
export type KernelSource = 'native' | 'wasm-simd' | 'fast-js' | 'js';

const BACKEND = 'cpu';
const NATIVE_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
/** Element-wise kernels whose large cases run in the addon's threaded loops when it is loaded. */
const THREADED_KERNELS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Relu', 'Step'];
/** Kernels of the pack that always run in JS: clamps, reductions, element copies. */
const JS_KERNELS = ['Maximum', 'Minimum', 'ClipByValue', 'Sum', 'Mean', 'Tile', 'Select', 'GatherV2'];
const FAST_KERNELS = [...THREADED_KERNELS, ...JS_KERNELS, SGD_STEP_KERNEL];
/** The stock kernels that were registered before ours, to fall back on and to restore. */
const originals = new Map<string, tf.KernelConfig | undefined>();
const active = new Map<string, { kernelFunc: KernelFunc; source: KernelSource }>();
/** tfjs's own gradient of Relu, replaced by ours while the pack is enabled. */
let stockReluGradient: tf.GradConfig | undefined;
let ourReluGradient: tf.GradConfig | undefined;
/** Whether the pack is enabled, and whether the native addon was part of it then. */
let enabled: { withAddon: boolean } | null = null;
/** The WebAssembly SIMD convolutions, instantiated at the first enabling without the addon. */
let wasmSimd: WasmSimdConvStatus | undefined;

/** `RMC_WASM_SIMD=0` (Node) keeps tfjs-backend-cpu's own convolutions where the addon is missing. */
function wasmSimdDisabled(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.['RMC_WASM_SIMD'] === '0';
}

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** The active tfjs backend (`tf.getBackend()`), e.g. `'cpu'`, `'wasm'`, `'tensorflow'`. */
  backend: string;
  /** Whether the native addon is loaded, and if not why. */
  native:
    | {
        /** The addon is loaded: the pack's convolutions run in oneDNN (see `kernels`). */
        available: true;
        /** File the addon was loaded from (in the package: `prebuilds/linux-x64/` or `native/build/Release/`). */
        path: string;
        /** The route it came by: `'prebuilt'` (shipped in the package) or `'source'` (built at install time). */
        route: AddonRoute;
        /** The other route, and why it was not used. */
        others: AddonAttempt[];
        /** oneDNN version the addon runs, `major.minor.patch` (e.g. `'2.6.3'`). */
        oneDNN: string;
        /** The instruction set oneDNN dispatches to on this CPU, e.g. `'avx2'`, `'avx512_core'`, or `'other'`. */
        isa: string;
        /**
         * Whether glibc's malloc keeps freed memory for reuse (set when the addon loads; off with
         * `RMC_HEAP_REUSE=0` or where the C library is not glibc). It saves tfjs, which allocates every
         * tensor afresh, most of its page faults.
         */
        heapReuse: boolean;
      }
    | {
        /** No addon loaded: the convolutions stay tfjs's and the other kernels of the pack run in JS. */
        available: false;
        /** Why, e.g. `'disabled by RMC_NATIVE=0'`, not built, failed to load, or not running in Node. */
        reason: string;
        /** Each route tried, and why it did not load. */
        others: AddonAttempt[];
      };
  /**
   * For each kernel the pack provides, who computes it on the cpu backend now; `ReluGrad` is the
   * gradient of Relu, one kernel instead of tfjs's Step, Cast and Multiply.
   */
  kernels: Record<string, KernelSource>;
  /** The recycling of the kernels' output buffers on the cpu backend ({@link bufferPoolInfo}). */
  bufferPool: BufferPoolInfo;
  /**
   * The WebAssembly SIMD convolutions, which run where the native addon does not: loaded, or why not
   * (no SIMD in this runtime, a Content Security Policy without 'wasm-unsafe-eval', `RMC_WASM_SIMD=0`);
   * null when they were not needed (the addon is loaded) or the pack is not enabled.
   */
  wasmSimd:
    | {
        /** The convolutions run on the WebAssembly SIMD matrix product. */
        available: true;
      }
    | {
        /** tfjs-backend-cpu's own convolutions run. */
        available: false;
        /** Why, e.g. `'disabled by RMC_WASM_SIMD=0'` or `'this runtime has no WebAssembly SIMD'`. */
        reason: string;
      }
    | null;
}

function install(name: string, kernelFunc: KernelFunc, source: KernelSource): void {
  const current = tf.getKernel(name, BACKEND);
  if (current && current.kernelFunc !== active.get(name)?.kernelFunc) originals.set(name, current);
  if (current) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
  active.set(name, { kernelFunc, source });
}

/** {@link enableFastKernels} of this copy of the package. */
function enableLocal(): string[] {
  const original = (name: string) => originals.get(name)?.kernelFunc;
  const status = loadAddon();
  if (status.addon) {
    for (const [name, kernelFunc] of Object.entries(convKernels(status.addon, 'native', original))) install(name, kernelFunc, 'native');
  } else {
    wasmSimd ??= wasmSimdDisabled() ? { engine: null, reason: 'disabled by RMC_WASM_SIMD=0' } : loadWasmSimdConv();
    const kernels = wasmSimd.engine ? convKernels(wasmSimd.engine, 'wasm-simd', original) : {};
    // In Node without the native kernels (and not by choice): one loud message at the first heavy convolution.
    if (nodePlatformOrNull() && !status.reason.startsWith('disabled by RMC_NATIVE=0')) {
      const conv2D = kernels['Conv2D'];
      kernels['Conv2D'] = warnOnceConv2D(() => conv2D ?? original('Conv2D'), status.reason, wasmSimd.engine !== null);
    }
    for (const [name, kernelFunc] of Object.entries(kernels)) install(name, kernelFunc, wasmSimd.engine ? 'wasm-simd' : 'js');
  }
  for (const [name, kernelFunc] of Object.entries({ ...fastKernels(original, status.addon), ...copyKernels(original) })) {
    install(name, kernelFunc, status.addon && THREADED_KERNELS.includes(name) ? 'native' : 'fast-js');
  }
  install(SGD_STEP_KERNEL, sgdStepKernel(status.addon), status.addon ? 'native' : 'fast-js');
  const current = tf.getGradient('Relu');
  if (current && current !== ourReluGradient) {
    stockReluGradient = current;
    ourReluGradient = reluGradient(current, status.addon);
    tf.registerGradient(ourReluGradient);
  }
  enabled = { withAddon: status.addon !== null };
  return [...active.keys()];
}

/** {@link disableFastKernels} of this copy. */
function disableLocal(): void {
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
  enabled = null;
}

/** {@link backendInfo} of this copy. */
function backendInfoLocal(): BackendInfo {
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
    native: status.addon
      ? { available: true, path: status.path, route: status.route, others: status.others, ...status.addon.info(), heapReuse: status.heapReuse }
      : { available: false, reason: status.reason, others: status.others },
    kernels,
    bufferPool: localBufferPoolInfo(),
    wasmSimd: !wasmSimd || status.addon ? null : wasmSimd.engine ? { available: true } : { available: false, reason: wasmSimd.reason },
  };
}

/**
 * The kernel pack of the first copy of the package loaded in this process. The ESM and the CommonJS
 * build can both be loaded (a dependency may `require` what the application `import`s); tfjs has one
 * kernel registry, so one copy owns the pack and every copy's functions below act on it.
 */
const pack = sharedPerProcess('kernel-pack', () => ({
  enable: enableLocal,
  disable: disableLocal,
  info: backendInfoLocal,
  enabled: () => enabled,
  bufferPoolInfo: localBufferPoolInfo,
  setBufferPoolCapacity: localSetBufferPoolCapacity,
}));

/**
 * Registers the kernel pack over tfjs-backend-cpu's kernels: the native oneDNN convolutions (Conv2D,
 * FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter) when the addon is built and not disabled by
 * `RMC_NATIVE=0` (Node only), and the fast JS kernels (Add, Sub, Multiply, RealDiv, Maximum, Minimum,
 * ClipByValue, Relu, Step; Sum and Mean over consecutive axes; Tile, Select and GatherV2; the gradient
 * of Relu in one pass). The package calls it when its models, attacks or trainer are first imported;
 * call it again if `@tensorflow/tfjs-backend-cpu` was imported after `rmc-robust` (its registration
 * replaces ours). Returns the names of the kernels now replaced.
 */
export function enableFastKernels(): string[] {
  return pack.enable();
}

/** Restores tfjs-backend-cpu's own kernels (for comparisons and benchmarks). */
export function disableFastKernels(): void {
  pack.disable();
}

/** Enables the pack again when it was enabled without the native addon and the addon can load now. @internal */
export function upgradeToNativeKernels(): void {
  const state = pack.enabled();
  if (state && !state.withAddon) pack.enable();
}

/**
 * Which backend runs and who computes each kernel of the pack: honest reporting for benchmarks and
 * logs.
 *
 * @example backendInfo() // { backend: 'cpu', native: { available: true, oneDNN: '2.6.3', ... }, kernels: { Conv2D: 'native', Add: 'fast-js', ... } }
 */
export function backendInfo(): BackendInfo {
  return pack.info();
}

/** The recycling of the kernels' output buffers on the cpu backend: sizes and counts (see src/backend/alloc.ts). */
export function bufferPoolInfo(): BufferPoolInfo {
  return pack.bufferPoolInfo();
}

/**
 * Sets how many bytes of freed kernel output buffers the cpu backend keeps for reuse (0 turns recycling
 * off and empties the pool; default 1 GiB or `RMC_BUFFER_POOL_MB`); returns the previous capacity.
 */
export function setBufferPoolCapacity(bytes: number): number {
  return pack.setBufferPoolCapacity(bytes);
}
