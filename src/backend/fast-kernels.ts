/**
 * Faster JS kernels for tfjs-backend-cpu's hottest element-wise ops. The stock binary kernels take a
 * closure call and a modulo per element, and allocate index arrays per element whenever one operand is
 * broadcast (a per-channel scale over an NHWC tensor, say); ReLU and its gradient's Step go through a
 * generic unary template. These kernels run tight loops for float32 operands of equal shape, a scalar
 * operand, or an operand that is a trailing block of the other (`[C]` or `[1, 1, 1, C]` against
 * `[N, H, W, C]`), and hand everything else to the original kernel. Results are bit-identical to the
 * stock kernels (the same float32 operations per element).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';

/** Below this many elements the JS loop beats the call into the addon. */
const NATIVE_MIN_SIZE = 1 << 15;
const OPS = { add: 0, sub: 1, mul: 2, div: 3 } as const;

type KernelFunc = tf.KernelConfig['kernelFunc'];
type CpuBackend = tf.KernelBackend & {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
};
type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

function values(backend: CpuBackend, t: tf.TensorInfo): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

/** Size of `small` when it is a trailing block of `big`'s shape (ones in front allowed), else -1. */
function trailingBlock(big: number[], small: number[]): number {
  const core = small.slice(small.findIndex((d) => d !== 1) === -1 ? small.length : small.findIndex((d) => d !== 1));
  if (core.length > big.length) return -1;
  for (let i = 1; i <= core.length; i++) if (core[core.length - i] !== big[big.length - i]) return -1;
  if (small.length > big.length) return -1;
  return core.reduce((a, b) => a * b, 1);
}

function binaryLoop(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, aBlock: number, bBlock: number): void {
  const n = out.length;
  // aBlock/bBlock: the period of each operand (n for a full tensor, 1 for a scalar, C for a channel vector).
  if (aBlock === n && bBlock === n) {
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
    else if (op === 'sub') for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!;
    else if (op === 'mul') for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
    else for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
    return;
  }
  const block = Math.min(aBlock, bBlock);
  const aFull = aBlock === n;
  for (let start = 0; start < n; start += block) {
    for (let j = 0; j < block; j++) {
      const x = aFull ? a[start + j]! : a[j]!;
      const y = aFull ? b[j]! : b[start + j]!;
      out[start + j] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
    }
  }
}

function binaryKernel(op: BinaryOp, fallback: () => KernelFunc | undefined, addon: NativeAddon | null): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = values(backend, a);
    const bv = values(backend, b);
    if (av && bv) {
      const aSize = av.length;
      const bSize = bv.length;
      let shape: number[] | null = null;
      let aBlock = 0;
      let bBlock = 0;
      if (tf.util.arraysEqual(a.shape, b.shape)) {
        shape = a.shape;
        aBlock = bBlock = aSize;
      } else if (aSize >= bSize && (bSize === 1 || trailingBlock(a.shape, b.shape) === bSize) && b.shape.length <= a.shape.length) {
        shape = a.shape;
        aBlock = aSize;
        bBlock = bSize;
      } else if (bSize > aSize && (aSize === 1 || trailingBlock(b.shape, a.shape) === aSize) && a.shape.length <= b.shape.length) {
        shape = b.shape;
        aBlock = aSize;
        bBlock = bSize;
      }
      if (shape && aSize > 0 && bSize > 0) {
        const out = new Float32Array(Math.max(aSize, bSize));
        if (addon && out.length >= NATIVE_MIN_SIZE) addon.binary(OPS[op], av, bv, out, aBlock, bBlock);
        else binaryLoop(op, av, bv, out, aBlock, bBlock);
        return backend.makeTensorInfo(shape, 'float32', out);
      }
    }
    const js = fallback();
    if (!js) throw new Error(`rmc-robust fast kernel ${op}: no original kernel to fall back on`);
    return js(args);
  };
}

function reluKernel(fallback: () => KernelFunc | undefined, addon: NativeAddon | null): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const xv = values(backend, x);
    if (!xv) return fallback()!(args);
    const out = new Float32Array(xv.length);
    if (addon && xv.length >= NATIVE_MIN_SIZE) {
      addon.unary(0, xv, out, 0);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    }
    for (let i = 0; i < xv.length; i++) {
      const v = xv[i]!;
      out[i] = v > 0 ? v : v !== v ? v : 0; // keeps NaN as the stock kernel does
    }
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

function stepKernel(fallback: () => KernelFunc | undefined, addon: NativeAddon | null): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const alpha = (args.attrs as { alpha?: number }).alpha ?? 0;
    const xv = values(backend, x);
    if (!xv) return fallback()!(args);
    const out = new Float32Array(xv.length);
    if (addon && xv.length >= NATIVE_MIN_SIZE) {
      addon.unary(1, xv, out, alpha);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    }
    for (let i = 0; i < xv.length; i++) {
      const v = xv[i]!;
      out[i] = v !== v ? NaN : v > 0 ? 1 : alpha;
    }
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

/**
 * The fast kernels by tfjs kernel name, given access to the original kernels; with the addon, large
 * tensors go to its threaded loops (same float32 arithmetic).
 */
export function fastKernels(original: (name: string) => KernelFunc | undefined, addon: NativeAddon | null): Record<string, KernelFunc> {
  return {
    Add: binaryKernel('add', () => original('Add'), addon),
    Sub: binaryKernel('sub', () => original('Sub'), addon),
    Multiply: binaryKernel('mul', () => original('Multiply'), addon),
    RealDiv: binaryKernel('div', () => original('RealDiv'), addon),
    Relu: reluKernel(() => original('Relu'), addon),
    Step: stepKernel(() => original('Step'), addon),
  };
}
