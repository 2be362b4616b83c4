import { nodePlatformOrNull } from '../io/platform.js';

/**
 * The optional native kernel pack (native/, built by node-gyp against oneDNN): its interface, and the
 * way to it, which only the Node build provides (`src/node/addon.ts`).
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

/**
 * Where the native kernels come from: `'prebuilt'`, the binary shipped in the package
 * (`prebuilds/<platform>-<arch>/`, with the oneDNN runtime beside it), or `'source'`, the addon built
 * at install time from the system's oneDNN headers (`native/build/Release/`).
 */
export type AddonRoute = 'prebuilt' | 'source';

/** A route that was not taken, and why. */
export interface AddonAttempt {
  /** The route. */
  route: AddonRoute;
  /** Why it was not used: not built, not for this system, failed to load (the loader's message), or another route won. */
  reason: string;
}

/** The addon and the route it came by, or why there is none; each other route with why it was not used. */
export type AddonStatus =
  | { addon: NativeAddon; path: string; route: AddonRoute; heapReuse: boolean; others: AddonAttempt[] }
  | { addon: null; reason: string; others: AddonAttempt[] };

/**
 * The addon as the Node build loaded it (once per process; `RMC_NATIVE=0` disables it), or why there
 * is none: not Node, or the browser build of the package.
 */
export function loadAddon(): AddonStatus {
  const node = nodePlatformOrNull();
  if (node) return node.loadAddon();
  const inNode = typeof process !== 'undefined' && process.versions?.node != null;
  return {
    addon: null,
    reason: inNode ? "the browser build of rmc-robust is loaded (no \"node\" export condition); import 'rmc-robust' in Node unbundled" : 'not running in Node.js',
    others: [],
  };
}
