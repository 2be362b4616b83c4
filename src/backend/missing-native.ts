/**
 * The one loud message when the native kernels are missing in Node: at the first large convolution
 * on the cpu backend (a real network at work, not a unit test's toy), once per process, with why the
 * kernels are missing, what it costs and the command that fixes it. `RMC_NATIVE=0` (a deliberate
 * choice) and runtimes without native kernels (browsers) never see it.
 */
import * as tf from '@tensorflow/tfjs-core';

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** A convolution with at least this many multiply-adds is "heavy": ResNet18's 3x3 64-channel convolution on one 32x32 image has 37.7 million. */
const HEAVY_MACS = 1e7;

/**
 * The slowdown the message quotes: ResNet18 (1-2-2-2, CIFAR 32x32) PGD step at batch 32 on 2 cores,
 * the stock JS kernels against the native ones (docs/performance.md, "Kernel routes, the JS route and a shared machine").
 */
export const JS_SLOWDOWN = 'about 250 times slower (ResNet18 PGD step, batch 32, 2 cores: 0.39-0.45 against 110-114 images/s)';
/** The same for the package's WebAssembly SIMD convolutions (one thread), measured the same way (2026-12-02). */
export const WASM_SIMD_SLOWDOWN = 'about 11 times slower (ResNet18 PGD step, batch 32, 2 cores: 9.9 against 110 images/s)';

/** The message, for `reason` (why the native kernels did not load) and what runs instead. */
export function missingNativeMessage(reason: string, onWasmSimd = false): string {
  return [
    onWasmSimd
      ? 'rmc-robust: the native kernels are not loaded, so convolutions run on the package\'s WebAssembly SIMD kernels (one thread),'
      : 'rmc-robust: the native kernels are not loaded, so convolutions run on tfjs-backend-cpu\'s JS kernels,',
    `  ${onWasmSimd ? WASM_SIMD_SLOWDOWN : JS_SLOWDOWN}.`,
    `  Why: ${reason}.`,
    '  Fix: install oneDNN\'s headers (Debian/Ubuntu: sudo apt-get install libdnnl-dev), then run: npm rebuild rmc-robust',
    '  (rmc-robust info shows the routes tried; RMC_NATIVE=0 silences this on purpose.)',
  ].join('\n');
}

let warned = false;

/**
 * `Conv2D` as `original()` computes it, warning once per process at the first heavy call; `onWasmSimd`
 * says whether that is the package's WebAssembly SIMD kernel or tfjs-backend-cpu's own.
 */
export function warnOnceConv2D(original: () => KernelFunc | undefined, reason: string, onWasmSimd = false, warn: (message: string) => void = console.warn): KernelFunc {
  return (args) => {
    if (!warned) {
      const x = args.inputs['x'] as tf.TensorInfo | undefined;
      const filter = args.inputs['filter'] as tf.TensorInfo | undefined;
      const attrs = args.attrs as unknown as { strides: number | [number, number] };
      if (x && filter && x.shape.length === 4 && filter.shape.length === 4) {
        const [n, h, w] = x.shape as [number, number, number, number];
        const [kh, kw, inC, outC] = filter.shape as [number, number, number, number];
        const [sh, sw] = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
        const macs = n * Math.ceil(h / sh) * Math.ceil(w / sw) * kh * kw * inC * outC;
        if (macs >= HEAVY_MACS) {
          warned = true;
          warn(missingNativeMessage(reason, onWasmSimd));
        }
      }
    }
    const stock = original();
    if (!stock) throw new Error('rmc-robust: no Conv2D kernel of tfjs-backend-cpu to run');
    return stock(args);
  };
}
