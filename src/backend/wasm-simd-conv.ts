/**
 * 2-D convolutions for tfjs-backend-cpu where the native addon is missing (macOS, Windows, other CPUs,
 * the browser's cpu backend): each is lowered to matrix products run by a small WebAssembly SIMD
 * module (wasm/gemm.wat, 4 x 8 blocks of four-lane float32 accumulators), with the patch gathering
 * (im2col) and scattering (col2im) in JS. tfjs-backend-cpu's own convolution is nested scalar loops.
 *
 * NHWC, float32, any stride, padding and (forward) dilation. With `g` the convolution's geometry and
 * `K = filterHeight * filterWidth * inChannels`:
 * - forward: `out[P x O] = patches[P x K] * W[K x O]` (+ bias, ReLU), P output pixels in blocks;
 * - input gradient: `cols[P x K] = dy[P x O] * W^T[O x K]`, then each patch row added back to the
 *   input pixels it came from;
 * - filter gradient: `dW[K x O] = sum over blocks of patches^T[K x P] * dy[P x O]`.
 * Blocks are sized so that the block's matrices stay within about 1 MiB. Sums run in float32, in a
 * different order than the stock kernels; the tests check the results against them within 1e-4
 * relative.
 */
import { GEMM_WASM_BASE64 } from './gemm-wasm.js';
import type { ConvEngine } from './conv-kernels.js';

/** The part of the WebAssembly API used here (typed locally: the universal build has no DOM types). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

interface GemmExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  gemm(M: number, N: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, accumulate: number): void;
}

/** Bytes a block's matrices aim to stay within (a typical L2 cache share). */
const BLOCK_BYTES = 1 << 20;
const PAGE_BYTES = 65536;

const roundUp8 = (n: number) => (n + 7) & ~7;

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The geometry array's fields (see `geometry()` in conv-kernels.ts). */
interface Geometry {
  batch: number; inHeight: number; inWidth: number; inChannels: number;
  filterHeight: number; filterWidth: number; outChannels: number; outHeight: number; outWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number; relu: boolean; hasBias: boolean;
}

function readGeometry(g: Int32Array): Geometry {
  return {
    batch: g[0]!, inHeight: g[1]!, inWidth: g[2]!, inChannels: g[3]!,
    filterHeight: g[4]!, filterWidth: g[5]!, outChannels: g[6]!, outHeight: g[7]!, outWidth: g[8]!,
    strideHeight: g[9]!, strideWidth: g[10]!, dilationHeight: g[11]!, dilationWidth: g[12]!,
    padTop: g[13]!, padLeft: g[14]!, relu: g[17] === 1, hasBias: g[18] === 1,
  };
}

/** Rows per block for matrices of `rowFloats` floats a row: a multiple of 4, at least 4. */
function blockRows(rowFloats: number, total: number): number {
  const rows = Math.max(4, Math.floor(BLOCK_BYTES / 4 / Math.max(1, rowFloats)) & ~3);
  return Math.min(rows, total);
}

/**
 * Copies the patches of output pixels `first .. first + count - 1` (flattened over batch, rows and
 * columns) into `dest` from `destOffset`: row-major `[count x K]` when `transposed` is false, `[K x
 * count]` when true. Positions in the padding are zeros.
 */
function gatherPatches(g: Geometry, x: Float32Array, first: number, count: number, dest: Float32Array, destOffset: number, transposed: boolean): void {
  const { inHeight, inWidth, inChannels: C, filterHeight, filterWidth, outHeight, outWidth } = g;
  const K = filterHeight * filterWidth * C;
  const pixelsPerImage = outHeight * outWidth;
  for (let p = 0; p < count; p++) {
    const pixel = first + p;
    const n = Math.floor(pixel / pixelsPerImage);
    const rest = pixel - n * pixelsPerImage;
    const oh = Math.floor(rest / outWidth);
    const ow = rest - oh * outWidth;
    const imageOffset = n * inHeight * inWidth * C;
    let k = 0;
    for (let kh = 0; kh < filterHeight; kh++) {
      const ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
      for (let kw = 0; kw < filterWidth; kw++, k += C) {
        const iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
        const inside = ih >= 0 && ih < inHeight && iw >= 0 && iw < inWidth;
        const src = imageOffset + (ih * inWidth + iw) * C;
        if (!transposed) {
          const at = destOffset + p * K + k;
          if (!inside) dest.fill(0, at, at + C);
          else if (C >= 16) dest.set(x.subarray(src, src + C), at);
          else for (let c = 0; c < C; c++) dest[at + c] = x[src + c]!;
        } else {
          let at = destOffset + k * count + p;
          if (!inside) for (let c = 0; c < C; c++, at += count) dest[at] = 0;
          else for (let c = 0; c < C; c++, at += count) dest[at] = x[src + c]!;
        }
      }
    }
  }
}

/** Adds each patch row of `cols` (`[count x ldc]`, the first K columns) back to the input pixels it was gathered from. */
function scatterPatches(g: Geometry, cols: Float32Array, colsOffset: number, ldc: number, first: number, count: number, dx: Float32Array): void {
  const { inHeight, inWidth, inChannels: C, filterHeight, filterWidth, outHeight, outWidth } = g;
  const pixelsPerImage = outHeight * outWidth;
  for (let p = 0; p < count; p++) {
    const pixel = first + p;
    const n = Math.floor(pixel / pixelsPerImage);
    const rest = pixel - n * pixelsPerImage;
    const oh = Math.floor(rest / outWidth);
    const ow = rest - oh * outWidth;
    const imageOffset = n * inHeight * inWidth * C;
    let k = colsOffset + p * ldc;
    for (let kh = 0; kh < filterHeight; kh++) {
      const ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
      for (let kw = 0; kw < filterWidth; kw++, k += C) {
        const iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
        if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) continue;
        const dst = imageOffset + (ih * inWidth + iw) * C;
        for (let c = 0; c < C; c++) dx[dst + c]! += cols[k + c]!;
      }
    }
  }
}

/** The module's memory as float32, grown to hold at least `floats` values. */
class Workspace {
  private view: Float32Array;
  constructor(private readonly exports: GemmExports) {
    this.view = new Float32Array(exports.memory.buffer);
  }
  floats(floats: number): Float32Array {
    const bytes = floats * 4;
    const have = this.exports.memory.buffer.byteLength;
    if (bytes > have) this.exports.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    if (this.view.buffer !== this.exports.memory.buffer) this.view = new Float32Array(this.exports.memory.buffer);
    return this.view;
  }
}

/** The three convolutions on the WebAssembly module's matrix product. */
function engineOn(exports: GemmExports): ConvEngine {
  const workspace = new Workspace(exports);
  const gemm = exports.gemm;

  return {
    conv2dForward(geometry, x, filter, bias, out) {
      const g = readGeometry(geometry);
      const O = g.outChannels;
      const K = g.filterHeight * g.filterWidth * g.inChannels;
      const Op = roundUp8(O);
      const P = g.batch * g.outHeight * g.outWidth;
      if (P === 0) return;
      const rows = blockRows(K + Op, P);
      // memory: W [K x Op], patches [rows x K], product [rows x Op]
      const wAt = 0;
      const aAt = wAt + K * Op;
      const cAt = aAt + rows * K;
      const mem = workspace.floats(cAt + rows * Op);
      for (let k = 0; k < K; k++) {
        mem.set(filter.subarray(k * O, k * O + O), wAt + k * Op);
        if (Op > O) mem.fill(0, wAt + k * Op + O, wAt + (k + 1) * Op);
      }
      for (let first = 0; first < P; first += rows) {
        const count = Math.min(rows, P - first);
        gatherPatches(g, x, first, count, mem, aAt, false);
        gemm(count, Op, K, aAt * 4, K, wAt * 4, Op, cAt * 4, Op, 0);
        for (let p = 0; p < count; p++) {
          const src = cAt + p * Op;
          const dst = (first + p) * O;
          if (!g.hasBias && !g.relu) {
            out.set(mem.subarray(src, src + O), dst);
            continue;
          }
          for (let o = 0; o < O; o++) {
            let v = mem[src + o]!;
            if (bias) v = Math.fround(v + bias[o]!);
            out[dst + o] = g.relu && v < 0 ? 0 : v;
          }
        }
      }
    },

    conv2dBackwardData(geometry, dy, filter, dx) {
      const g = readGeometry(geometry);
      const O = g.outChannels;
      const K = g.filterHeight * g.filterWidth * g.inChannels;
      const Kp = roundUp8(K);
      const P = g.batch * g.outHeight * g.outWidth;
      dx.fill(0);
      if (P === 0 || K === 0) return;
      const rows = blockRows(O + Kp, P);
      // memory: W^T [O x Kp], dy rows [rows x O], patch rows [rows x Kp]
      const wAt = 0;
      const aAt = wAt + O * Kp;
      const cAt = aAt + rows * O;
      const mem = workspace.floats(cAt + rows * Kp);
      for (let o = 0; o < O; o++) {
        const row = wAt + o * Kp;
        for (let k = 0; k < K; k++) mem[row + k] = filter[k * O + o]!;
        if (Kp > K) mem.fill(0, row + K, row + Kp);
      }
      for (let first = 0; first < P; first += rows) {
        const count = Math.min(rows, P - first);
        mem.set(dy.subarray(first * O, (first + count) * O), aAt);
        gemm(count, Kp, O, aAt * 4, O, wAt * 4, Kp, cAt * 4, Kp, 0);
        scatterPatches(g, mem, cAt, Kp, first, count, dx);
      }
    },

    conv2dBackwardFilter(geometry, x, dy, dw) {
      const g = readGeometry(geometry);
      const O = g.outChannels;
      const K = g.filterHeight * g.filterWidth * g.inChannels;
      const Op = roundUp8(O);
      const P = g.batch * g.outHeight * g.outWidth;
      if (P === 0) {
        dw.fill(0);
        return;
      }
      const rows = blockRows(K + Op, P);
      // memory: dW [K x Op] (accumulated over blocks), patches^T [K x rows], dy rows [rows x Op]
      const cAt = 0;
      const aAt = cAt + K * Op;
      const bAt = aAt + K * rows;
      const mem = workspace.floats(bAt + rows * Op);
      for (let first = 0; first < P; first += rows) {
        const count = Math.min(rows, P - first);
        gatherPatches(g, x, first, count, mem, aAt, true);
        for (let p = 0; p < count; p++) {
          const dst = bAt + p * Op;
          mem.set(dy.subarray((first + p) * O, (first + p + 1) * O), dst);
          if (Op > O) mem.fill(0, dst + O, dst + Op);
        }
        gemm(K, Op, count, aAt * 4, count, bAt * 4, Op, cAt * 4, Op, first === 0 ? 0 : 1);
      }
      for (let k = 0; k < K; k++) dw.set(mem.subarray(cAt + k * Op, cAt + k * Op + O), k * O);
    },
  };
}

/** What {@link loadWasmSimdConv} found: the engine, or why there is none. */
export type WasmSimdConvStatus = { engine: ConvEngine; reason?: undefined } | { engine: null; reason: string };

/**
 * Instantiates the module (synchronously: it is about 1 KB). No engine where WebAssembly or its SIMD
 * instructions are unavailable (Node before 16.4, Safari before 16.4) or forbidden (a Content Security
 * Policy without 'wasm-unsafe-eval'); the stock kernels then stay.
 */
export function loadWasmSimdConv(): WasmSimdConvStatus {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (!wasm) return { engine: null, reason: 'WebAssembly is not available' };
  try {
    const bytes = decodeBase64(GEMM_WASM_BASE64);
    if (!wasm.validate(bytes)) return { engine: null, reason: 'this runtime has no WebAssembly SIMD' };
    const instance = new wasm.Instance(new wasm.Module(bytes));
    return { engine: engineOn(instance.exports as unknown as GemmExports) };
  } catch (error) {
    return { engine: null, reason: `WebAssembly failed: ${(error as Error).message}` };
  }
}
