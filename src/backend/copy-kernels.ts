/**
 * Faster JS kernels for tfjs-backend-cpu's element-copying ops: Tile (which `tf.broadcastTo` runs, and
 * `tf.where` on its condition and operands whenever their shapes differ), Select (`tf.where`) and
 * GatherV2 (`tf.gather`). The stock Tile and GatherV2 convert every output index to coordinates and
 * back through a TensorBuffer (~40 ms to broadcast a per-row `[200, 1, 1, 1]` condition over 200
 * CIFAR-10 images, ~30 ms to gather 150 of them); these copy runs of consecutive elements. Each
 * element is copied as the stock kernels copy it (read as a number, stored into an array of the same
 * type), so results are bit-identical, NaN payloads included. Strings, complex numbers, empty tensors
 * and batched gathers go to the original kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { uninitializedFloat32, type CpuBackend } from './alloc.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Values = Float32Array | Int32Array | Uint8Array;

/** A tensor's values when they are a numeric typed array the kernels can read in place, else null. */
function numericValues(backend: CpuBackend, t: tf.TensorInfo): Values | null {
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') return null;
  const values = backend.data.get(t.dataId)?.values;
  return values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array ? values : null;
}

/** An array of `length` elements of `like`'s type (float32 from the buffer pool when `backend` is given). */
function outputLike(like: Values, length: number, backend?: CpuBackend): Values {
  if (like instanceof Float32Array) return uninitializedFloat32(length, backend);
  return like instanceof Int32Array ? new Int32Array(length) : new Uint8Array(length);
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function withFallback(name: string, fallback: () => KernelFunc | undefined, fast: (args: Parameters<KernelFunc>[0]) => tf.TensorInfo | null): KernelFunc {
  return (args) => {
    const result = fast(args);
    if (result) return result;
    const js = fallback();
    if (!js) throw new Error(`rmc-robust fast kernel ${name}: no original kernel to fall back on`);
    return js(args);
  };
}

/**
 * `x` repeated `reps[i]` times along each axis `i`: the axes are tiled from the innermost out, each
 * pass repeating the blocks the previous one built.
 */
function tileValues(x: Values, shape: readonly number[], reps: readonly number[], out: Values): void {
  let current: Values = x;
  const built = [...shape];
  const first = reps.findIndex((r) => r > 1);
  if (first === -1) {
    for (let i = 0; i < x.length; i++) out[i] = x[i]!;
    return;
  }
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const r = reps[axis]!;
    if (r <= 1) continue;
    const block = product(built.slice(axis));
    const outer = product(built.slice(0, axis));
    const next = axis === first ? out : outputLike(x, outer * block * r);
    for (let o = 0; o < outer; o++) {
      const from = o * block;
      for (let k = 0; k < r; k++) {
        const to = (o * r + k) * block;
        for (let j = 0; j < block; j++) next[to + j] = current[from + j]!;
      }
    }
    built[axis] = built[axis]! * r;
    current = next;
  }
}

function tileKernel(fallback: () => KernelFunc | undefined): KernelFunc {
  return withFallback('Tile', fallback, ({ inputs, backend, attrs }) => {
    const cpu = backend as CpuBackend;
    const { x } = inputs as { x: tf.TensorInfo };
    const { reps } = attrs as unknown as { reps: number[] };
    const xv = numericValues(cpu, x);
    if (!xv || xv.length === 0 || reps.length !== x.shape.length || reps.some((r) => !Number.isInteger(r) || r < 1)) return null;
    const shape = x.shape.map((d, i) => d * reps[i]!);
    const out = outputLike(xv, product(shape), cpu);
    tileValues(xv, x.shape, reps, out);
    return cpu.makeTensorInfo(shape, x.dtype, out as Float32Array);
  });
}

/**
 * Select (`tf.where`, which broadcasts its condition and operands to one shape first): `t`'s element
 * where the condition is 1, else `e`'s. Conditions of another shape go to the stock kernel.
 */
function selectKernel(fallback: () => KernelFunc | undefined): KernelFunc {
  return withFallback('Select', fallback, ({ inputs, backend }) => {
    const cpu = backend as CpuBackend;
    const { condition, t, e } = inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
    const cv = numericValues(cpu, condition);
    const tv = numericValues(cpu, t);
    const ev = numericValues(cpu, e);
    if (!cv || !tv || !ev || t.dtype !== e.dtype || tv.length === 0) return null;
    if (!tf.util.arraysEqual(condition.shape, t.shape) || !tf.util.arraysEqual(e.shape, t.shape)) return null;
    const out = outputLike(tv, tv.length, cpu);
    for (let i = 0; i < out.length; i++) out[i] = cv[i] === 1 ? tv[i]! : ev[i]!;
    return cpu.makeTensorInfo(t.shape, t.dtype, out as Float32Array);
  });
}

/**
 * GatherV2 without batch dimensions: the slices of `x` at `indices` along `axis`. Indices outside the
 * axis go to the stock kernel, which reports them.
 */
function gatherKernel(fallback: () => KernelFunc | undefined): KernelFunc {
  return withFallback('GatherV2', fallback, ({ inputs, backend, attrs }) => {
    const cpu = backend as CpuBackend;
    const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims?: number };
    const xv = numericValues(cpu, x);
    const iv = indices.dtype === 'int32' ? numericValues(cpu, indices) : null;
    if (!xv || !iv || (batchDims ?? 0) !== 0 || xv.length === 0 || iv.length === 0) return null;
    const along = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const size = x.shape[along]!;
    for (let k = 0; k < iv.length; k++) if (!(iv[k]! >= 0 && iv[k]! <= size - 1)) return null;
    const outer = product(x.shape.slice(0, along));
    const inner = product(x.shape.slice(along + 1));
    const count = iv.length;
    const out = outputLike(xv, outer * count * inner, cpu);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < count; k++) {
        const from = (o * size + iv[k]!) * inner;
        const to = (o * count + k) * inner;
        for (let j = 0; j < inner; j++) out[to + j] = xv[from + j]!;
      }
    }
    const shape = [...x.shape.slice(0, along), ...indices.shape, ...x.shape.slice(along + 1)];
    return cpu.makeTensorInfo(shape, x.dtype, out as Float32Array);
  });
}

/** The copying kernels by tfjs kernel name, given access to the original kernels. */
export function copyKernels(original: (name: string) => KernelFunc | undefined): Record<string, KernelFunc> {
  return {
    Tile: tileKernel(() => original('Tile')),
    Select: selectKernel(() => original('Select')),
    GatherV2: gatherKernel(() => original('GatherV2')),
  };
}
