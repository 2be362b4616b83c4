import { nodeBuiltins, packageFile } from '../io/package-path.js';

/**
 * Loading of the optional native kernel pack (native/, built by node-gyp against oneDNN).
 */
/** The functions the addon exports (see native/rmc_native.cc). */
export interface NativeAddon {
  conv2dForward(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array): void;
  conv2dBackwardData(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackwardFilter(geometry: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /**
   * `out[i] = a[i % aPeriod] op b[i % bPeriod]`, op 0 add, 1 sub, 2 mul, 3 div, 4 `a * step(b)` (the
   * gradient of Relu; full operands only); threads over rows.
   */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, aPeriod: number, bPeriod: number): void;
  /** op 0 relu, 1 step (`x > 0 ? 1 : alpha`); NaN stays NaN. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** Per-channel mean and biased variance into `meanVar` (`[mean..., variance...]`). */
  bnMoments(x: Float32Array, channels: number, meanVar: Float64Array): void;
  /** `out = [relu](a * scale + b * bScale + shift)` per channel. */
  bnAffine(a: Float32Array, scale: Float64Array, shift: Float64Array, relu: number, out: Float32Array, b: Float32Array | null, bScale: Float64Array | null): void;
  /** Batch-norm backward: sums (when `dx` is null) or `dx = dyM * scale + x * xCoef + offset`. */
  bnBackward(
    dy: Float32Array, x: Float32Array, scale: Float64Array, shift: Float64Array, mean: Float64Array, relu: number,
    sums: Float64Array, dx: Float32Array | null, xCoef: Float64Array | null, offset: Float64Array | null,
  ): void;
  /** PyTorch's SGD step in one pass (see native/rmc_native.cc); `outBuf` null without momentum. */
  sgdStep(
    w: Float32Array, g: Float32Array, buf: Float32Array | null, outW: Float32Array, outBuf: Float32Array | null,
    lr: number, momentum: number, weightDecay: number, nesterov: number,
  ): void;
  info(): { oneDNN: string; isa: string };
  /** Makes glibc malloc keep freed memory for reuse (see native/rmc_native.cc); false where not glibc. */
  keepFreedMemory(): boolean;
}

/** The addon, or why it is not there. */
export type AddonStatus = { addon: NativeAddon; path: string; heapReuse: boolean } | { addon: null; reason: string };

const ADDON = 'native/build/Release/rmc_native.node';

let status: AddonStatus | undefined;

/**
 * Finds and loads the addon once; `RMC_NATIVE=0` in the environment disables it. Loading it also
 * makes glibc's malloc keep freed memory for reuse, unless `RMC_HEAP_REUSE=0`.
 */
export function loadAddon(): AddonStatus {
  if (status) return status;
  if (typeof process === 'undefined' || !process.versions?.node) {
    return (status = { addon: null, reason: 'not running in Node.js' });
  }
  if (process.env['RMC_NATIVE'] === '0') return (status = { addon: null, reason: 'disabled by RMC_NATIVE=0' });
  const node = nodeBuiltins();
  if (!node) return (status = { addon: null, reason: 'needs Node.js >= 20.16 (process.getBuiltinModule)' });
  const candidate = packageFile(ADDON);
  if (candidate) {
    try {
      const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
      const addon = createRequire(import.meta.url)(candidate) as NativeAddon;
      // Recycle freed tensor memory instead of paging it in afresh for every tensor (RMC_HEAP_REUSE=0 keeps malloc's defaults).
      const heapReuse = process.env['RMC_HEAP_REUSE'] === '0' ? false : addon.keepFreedMemory();
      return (status = { addon, path: candidate, heapReuse });
    } catch (e) {
      return (status = { addon: null, reason: `${candidate} failed to load: ${(e as Error).message}` });
    }
  }
  return (status = { addon: null, reason: 'not built (needs libdnnl-dev; run npm run build:native)' });
}
