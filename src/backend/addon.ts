/**
 * Loading of the optional native kernel pack (native/, built by node-gyp against oneDNN).
 */
// Node built-ins come through process.getBuiltinModule (Node >= 20.16), not static imports, so bundling
// the library for a browser pulls none of them in.
type Builtins = {
  module: typeof import('node:module');
  fs: typeof import('node:fs');
  path: typeof import('node:path');
  url: typeof import('node:url');
};

function builtins(): Builtins | null {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== 'function') return null;
  return {
    module: get('node:module') as Builtins['module'],
    fs: get('node:fs') as Builtins['fs'],
    path: get('node:path') as Builtins['path'],
    url: get('node:url') as Builtins['url'],
  };
}

/** The functions the addon exports (see native/rmc_native.cc). */
export interface NativeAddon {
  conv2dForward(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array): void;
  conv2dBackwardData(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackwardFilter(geometry: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** `out[i] = a[i % aPeriod] op b[i % bPeriod]`, op 0 add, 1 sub, 2 mul, 3 div (threads over rows). */
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
  info(): { oneDNN: string; isa: string };
}

/** The addon, or why it is not there. */
export type AddonStatus = { addon: NativeAddon; path: string } | { addon: null; reason: string };

const ADDON = ['native', 'build', 'Release', 'rmc_native.node'];

let status: AddonStatus | undefined;

/** Finds and loads the addon once; `RMC_NATIVE=0` in the environment disables it. */
export function loadAddon(): AddonStatus {
  if (status) return status;
  if (typeof process === 'undefined' || !process.versions?.node) {
    return (status = { addon: null, reason: 'not running in Node.js' });
  }
  if (process.env['RMC_NATIVE'] === '0') return (status = { addon: null, reason: 'disabled by RMC_NATIVE=0' });
  const node = builtins();
  if (!node) return (status = { addon: null, reason: 'needs Node.js >= 20.16 (process.getBuiltinModule)' });
  const { dirname, join } = node.path;
  let dir = dirname(node.url.fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ...ADDON);
    if (node.fs.existsSync(candidate)) {
      try {
        const addon = node.module.createRequire(import.meta.url)(candidate) as NativeAddon;
        return (status = { addon, path: candidate });
      } catch (e) {
        return (status = { addon: null, reason: `${candidate} failed to load: ${(e as Error).message}` });
      }
    }
    dir = dirname(dir);
  }
  return (status = { addon: null, reason: 'not built (needs libdnnl-dev; run npm run build:native)' });
}
