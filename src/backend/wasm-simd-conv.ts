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
  /** Filter positions (`filterHeight * filterWidth`), patch length `K` (positions x inChannels), output pixels `P`. */
  positions: number; K: number; P: number;
}

function readGeometry(g: Int32Array): Geometry {
  return {
    batch: g[0]!, inHeight: g[1]!, inWidth: g[2]!, inChannels: g[3]!,
    filterHeight: g[4]!, filterWidth: g[5]!, outChannels: g[6]!, outHeight: g[7]!, outWidth: g[8]!,
    strideHeight: g[9]!, strideWidth: g[10]!, dilationHeight: g[11]!, dilationWidth: g[12]!,
    padTop: g[13]!, padLeft: g[14]!, relu: g[17] === 1, hasBias: g[18] === 1,
    positions: g[4]! * g[5]!, K: g[4]! * g[5]! * g[3]!, P: g[0]! * g[7]! * g[8]!,
  };
}

/** Rows per block for matrices of `rowFloats` floats a row: a multiple of 4, at least 4. */
function blockRows(rowFloats: number, total: number): number {
  const rows = Math.max(4, Math.floor(BLOCK_BYTES / 4 / Math.max(1, rowFloats)) & ~3);
  return Math.min(rows, total);
}

/**
 * For output pixels `first .. first + count - 1` (flattened over batch, rows and columns), the offset
 * in the input of each filter position's `inChannels` values, or -1 where it falls in the padding:
 * `offsets[p * filterHeight * filterWidth + kh * filterWidth + kw]`.
 */
function patchOffsets(g: Geometry, first: number, count: number, offsets: Int32Array): void {
  const { inHeight, inWidth, inChannels, filterHeight, filterWidth, outHeight, outWidth } = g;
  const pixelsPerImage = outHeight * outWidth;
  let at = 0;
  for (let p = 0; p < count; p++) {
    const pixel = first + p;
    const n = Math.floor(pixel / pixelsPerImage);
    const rest = pixel - n * pixelsPerImage;
    const oh = Math.floor(rest / outWidth);
    const ow = rest - oh * outWidth;
    for (let kh = 0; kh < filterHeight; kh++) {
      const ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
      for (let kw = 0; kw < filterWidth; kw++) {
        const iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
        const inside = ih >= 0 && ih < inHeight && iw >= 0 && iw < inWidth;
        offsets[at++] = inside ? ((n * inHeight + ih) * inWidth + iw) * inChannels : -1;
      }
    }
  }
}

/**
 * Copies `count` pixels' patches (their {@link patchOffsets}) into `dest` from `destOffset`: row-major
 * `[count x K]`, or `[K x count]` when `transposed`. Positions in the padding are zeros.
 */
function gatherPatches(C: number, positions: number, offsets: Int32Array, x: Float32Array, count: number, dest: Float32Array, destOffset: number, transposed: boolean): void {
  const K = positions * C;
  for (let p = 0; p < count; p++) {
    for (let q = 0, k = 0; q < positions; q++, k += C) {
      const src = offsets[p * positions + q]!;
      if (!transposed) {
        const at = destOffset + p * K + k;
        if (src < 0) dest.fill(0, at, at + C);
        else if (C >= 16) dest.set(x.subarray(src, src + C), at);
        else for (let c = 0; c < C; c++) dest[at + c] = x[src + c]!;
      } else {
        let at = destOffset + k * count + p;
        if (src < 0) for (let c = 0; c < C; c++, at += count) dest[at] = 0;
        else for (let c = 0; c < C; c++, at += count) dest[at] = x[src + c]!;
      }
    }
  }
}

/** Adds each patch row of `cols` (`[count x ldc]`, the first K columns) back to the input values it was gathered from. */
function scatterPatches(C: number, positions: number, offsets: Int32Array, cols: Float32Array, colsOffset: number, ldc: number, count: number, dx: Float32Array): void {
  for (let p = 0; p < count; p++) {
    for (let q = 0, k = colsOffset + p * ldc; q < positions; q++, k += C) {
      const dst = offsets[p * positions + q]!;
      if (dst < 0) continue;
      for (let c = 0; c < C; c++) dx[dst + c]! += cols[k + c]!;
    }
  }
}

/** Copies `rows` rows of `cols` values from `src` (contiguous) to `dest` rows of stride `ld >= cols`, zeroing each row's tail. */
function copyRowsPadded(src: Float32Array, srcOffset: number, rows: number, cols: number, dest: Float32Array, destOffset: number, ld: number): void {
  for (let r = 0; r < rows; r++) {
    const at = destOffset + r * ld;
    dest.set(src.subarray(srcOffset + r * cols, srcOffset + (r + 1) * cols), at);
    if (ld > cols) dest.fill(0, at + cols, at + ld);
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
      const { outChannels: O, K, P, positions } = g;
      const Op = roundUp8(O);
      if (P === 0) return;
      const rows = blockRows(K + Op, P);
      const offsets = new Int32Array(rows * positions);
      // memory: W [K x Op], patches [rows x K], product [rows x Op]
      const wAt = 0;
      const aAt = wAt + K * Op;
      const cAt = aAt + rows * K;
      const mem = workspace.floats(cAt + rows * Op);
      copyRowsPadded(filter, 0, K, O, mem, wAt, Op);
      for (let first = 0; first < P; first += rows) {
        const count = Math.min(rows, P - first);
        patchOffsets(g, first, count, offsets);
        gatherPatches(g.inChannels, positions, offsets, x, count, mem, aAt, false);
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
      const { outChannels: O, K, P, positions } = g;
      const Kp = roundUp8(K);
      dx.fill(0);
      if (P === 0 || K === 0) return;
      const rows = blockRows(O + Kp, P);
      const offsets = new Int32Array(rows * positions);
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
        patchOffsets(g, first, count, offsets);
        scatterPatches(g.inChannels, positions, offsets, mem, cAt, Kp, count, dx);
      }
    },

    conv2dBackwardFilter(geometry, x, dy, dw) {
      const g = readGeometry(geometry);
      const { outChannels: O, K, P, positions } = g;
      const Op = roundUp8(O);
      if (P === 0) {
        dw.fill(0);
        return;
      }
      const rows = blockRows(K + Op, P);
      const offsets = new Int32Array(rows * positions);
      // memory: dW [K x Op] (accumulated over blocks), patches^T [K x rows], dy rows [rows x Op]
      const cAt = 0;
      const aAt = cAt + K * Op;
      const bAt = aAt + K * rows;
      const mem = workspace.floats(bAt + rows * Op);
      for (let first = 0; first < P; first += rows) {
        const count = Math.min(rows, P - first);
        patchOffsets(g, first, count, offsets);
        gatherPatches(g.inChannels, positions, offsets, x, count, mem, aAt, true);
        copyRowsPadded(dy, first * O, count, O, mem, bAt, Op);
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
