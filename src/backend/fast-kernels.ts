/**
 * Faster JS kernels for tfjs-backend-cpu's hottest element-wise ops. The stock binary kernels (Add,
 * Sub, Multiply, RealDiv, Maximum, Minimum) take a closure call and a modulo per element, and allocate
 * index arrays per element whenever one operand is broadcast (a per-channel scale over an NHWC tensor,
 * a per-row bound `[N, 1, 1, 1]`, say); ReLU, its gradient's Step and ClipByValue go through a generic
 * unary template. These kernels run tight loops for float32 operands of equal shape, a scalar
 * operand, an operand that is a trailing block of the other (`[C]` or `[1, 1, 1, C]` against
 * `[N, H, W, C]`) or the other with a block of consecutive axes broadcast (`[N, 1, 1, C]` against
 * `[N, H, W, C]`, as in the gradient of global average pooling), and hand everything else to the
 * original kernel. Sum and Mean over consecutive axes (global average pooling: axes 1 and 2 of NHWC)
 * skip the stock kernels' transpose. Results are bit-identical to the stock kernels (the same float32
 * operations per element, sums accumulated in double in the same order).
 */
import * as tf from '@tensorflow/tfjs-core';
import { floatValues, uninitializedFloat32, type CpuBackend } from './alloc.js';
import type { NativeAddon } from './addon.js';

/** Below this many elements the JS loop beats the call into the addon. */
const NATIVE_MIN_SIZE = 1 << 15;
/** The addon's codes of the ops its threaded loop computes (Maximum and Minimum stay in JS). */
const NATIVE_OPS: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };

type KernelFunc = tf.KernelConfig['kernelFunc'];
type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';

/** `x op y` as the stock kernel computes it (Math.max/Math.min: NaN wins, +0 beats -0 in max). */
function apply(op: BinaryOp, x: number, y: number): number {
  return op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : op === 'div' ? x / y : op === 'max' ? Math.max(x, y) : Math.min(x, y);
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
    else if (op === 'div') for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
    else if (op === 'max') for (let i = 0; i < n; i++) out[i] = Math.max(a[i]!, b[i]!);
    else for (let i = 0; i < n; i++) out[i] = Math.min(a[i]!, b[i]!);
    return;
  }
  const block = Math.min(aBlock, bBlock);
  const aFull = aBlock === n;
  for (let start = 0; start < n; start += block) {
    for (let j = 0; j < block; j++) {
      const x = aFull ? a[start + j]! : a[j]!;
      const y = aFull ? b[j]! : b[start + j]!;
      out[start + j] = apply(op, x, y);
    }
  }
}

/**
 * When `small` is `big` with one block of consecutive axes set to 1 (after aligning ranks), the sizes
 * `[outer, middle, inner]` of `big` around that block, else null.
 */
function middleBlock(big: number[], small: number[]): [number, number, number] | null {
  if (small.length > big.length) return null;
  const aligned = [...Array(big.length - small.length).fill(1), ...small];
  let first = -1;
  let last = -1;
  for (let i = 0; i < big.length; i++) {
    if (aligned[i] === big[i]) continue;
    if (aligned[i] !== 1) return null;
    if (first === -1) first = i;
    else if (last !== i - 1) return null;
    last = i;
  }
  if (first === -1) return null;
  const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  return [size(big.slice(0, first)), size(big.slice(first, last + 1)), size(big.slice(last + 1))];
}

/**
 * `out[i] = s op big[i]` (`big[i] op s` unless `scalarFirst`) for i in [start, end): one loop per op, the
 * case of a per-row scalar (an attack's per-example norm or step size against its images).
 */
function scalarRunLoop(op: BinaryOp, s: number, big: Float32Array, out: Float32Array, start: number, end: number, scalarFirst: boolean): void {
  if (op === 'add') for (let i = start; i < end; i++) out[i] = s + big[i]!;
  else if (op === 'mul') for (let i = start; i < end; i++) out[i] = s * big[i]!;
  else if (op === 'sub' && scalarFirst) for (let i = start; i < end; i++) out[i] = s - big[i]!;
  else if (op === 'sub') for (let i = start; i < end; i++) out[i] = big[i]! - s;
  else if (op === 'div' && scalarFirst) for (let i = start; i < end; i++) out[i] = s / big[i]!;
  else if (op === 'div') for (let i = start; i < end; i++) out[i] = big[i]! / s;
  else if (op === 'max' && scalarFirst) for (let i = start; i < end; i++) out[i] = Math.max(s, big[i]!);
  else if (op === 'max') for (let i = start; i < end; i++) out[i] = Math.max(big[i]!, s);
  else if (scalarFirst) for (let i = start; i < end; i++) out[i] = Math.min(s, big[i]!);
  else for (let i = start; i < end; i++) out[i] = Math.min(big[i]!, s);
}

/** `out = a op b` where the operand `small` (a when `smallIsA`) is repeated over the middle block. */
function middleBroadcastLoop(op: BinaryOp, big: Float32Array, small: Float32Array, smallIsA: boolean, out: Float32Array, [outer, middle, inner]: [number, number, number]): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) scalarRunLoop(op, small[o]!, big, out, o * middle, (o + 1) * middle, smallIsA);
    return;
  }
  for (let o = 0; o < outer; o++) {
    const smallStart = o * inner;
    for (let m = 0; m < middle; m++) {
      const start = (o * middle + m) * inner;
      for (let i = 0; i < inner; i++) {
        const x = smallIsA ? small[smallStart + i]! : big[start + i]!;
        const y = smallIsA ? big[start + i]! : small[smallStart + i]!;
        out[start + i] = apply(op, x, y);
      }
    }
  }
}

function binaryKernel(op: BinaryOp, fallback: () => KernelFunc | undefined, addon: NativeAddon | null): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = floatValues(backend, a);
    const bv = floatValues(backend, b);
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
        const out = uninitializedFloat32(Math.max(aSize, bSize), backend);
        const native = NATIVE_OPS[op];
        if (addon && native !== undefined && out.length >= NATIVE_MIN_SIZE) addon.binary(native, av, bv, out, aBlock, bBlock);
        else binaryLoop(op, av, bv, out, aBlock, bBlock);
        return backend.makeTensorInfo(shape, 'float32', out);
      }
      const smallIsA = aSize < bSize;
      const block = aSize > 0 && bSize > 0 ? (smallIsA ? middleBlock(b.shape, a.shape) : middleBlock(a.shape, b.shape)) : null;
      if (block) {
        const out = uninitializedFloat32(Math.max(aSize, bSize), backend);
        middleBroadcastLoop(op, smallIsA ? bv : av, smallIsA ? av : bv, smallIsA, out, block);
        return backend.makeTensorInfo(smallIsA ? b.shape : a.shape, 'float32', out);
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
    const xv = floatValues(backend, x);
    if (!xv) return fallback()!(args);
    const out = uninitializedFloat32(xv.length, backend);
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
    const xv = floatValues(backend, x);
    if (!xv) return fallback()!(args);
    const out = uninitializedFloat32(xv.length, backend);
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
 * ClipByValue of float32 `x`: the stock kernel's comparisons (against the bounds as given, in double)
 * and its NaN (kept), in a plain loop.
 */
function clipByValueKernel(fallback: () => KernelFunc | undefined): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { clipValueMin: lo, clipValueMax: hi } = args.attrs as unknown as { clipValueMin: number; clipValueMax: number };
    const xv = floatValues(backend, x);
    if (!xv) return fallback()!(args);
    const out = uninitializedFloat32(xv.length, backend);
    for (let i = 0; i < xv.length; i++) {
      const v = xv[i]!;
      out[i] = v > hi ? hi : v < lo ? lo : v;
    }
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

/** `[outer, reduce, inner]` sizes when `axes` are consecutive axes of `shape`, else null. */
function consecutiveAxes(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...axes].sort((p, q) => p - q);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]! + 1) return null;
  const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  return [size(shape.slice(0, first)), size(shape.slice(first, last + 1)), size(shape.slice(last + 1))];
}

/**
 * Sum (or Mean, `divisor` = reduced size) of float32 `x` over consecutive axes. Like the stock
 * kernels: Mean divides each element in float32 first, sums accumulate in double in axis order.
 */
function reduceKernel(name: 'Sum' | 'Mean', fallback: () => KernelFunc | undefined): KernelFunc {
  return (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const xv = floatValues(backend, x);
    const axes = xv ? tf.util.parseAxisParam(axis, x.shape) : [];
    const block = xv && axes.length > 0 ? consecutiveAxes(x.shape, axes) : null;
    if (!xv || !block || block[1] === 0) {
      const js = fallback();
      if (!js) throw new Error(`rmc-robust fast kernel ${name}: no original kernel to fall back on`);
      return js(args);
    }
    const [outer, reduce, inner] = block;
    const out = uninitializedFloat32(outer * inner, backend);
    const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    if (inner === 1) {
      // One value per row (an attack's per-example norms): a scalar accumulator, the same sums in the same order.
      for (let o = 0, start = 0; o < outer; o++, start += reduce) {
        let sum = 0;
        if (name === 'Sum') for (let r = 0; r < reduce; r++) sum += xv[start + r]!;
        else for (let r = 0; r < reduce; r++) sum += Math.fround(xv[start + r]! / reduce);
        out[o] = sum;
      }
      return backend.makeTensorInfo(shape, 'float32', out);
    }
    const acc = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      acc.fill(0);
      for (let r = 0; r < reduce; r++) {
        const start = (o * reduce + r) * inner;
        if (name === 'Sum') {
          for (let i = 0; i < inner; i++) acc[i]! += xv[start + i]!;
        } else {
          for (let i = 0; i < inner; i++) acc[i]! += Math.fround(xv[start + i]! / reduce);
        }
      }
      for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i]!;
    }
    return backend.makeTensorInfo(shape, 'float32', out);
  };
}

/** Name of the cpu kernel behind {@link reluGradient}: `dx = dy * step(x)` in one pass. */
export const RELU_GRAD_KERNEL = 'RmcReluGrad';
const RELU_GRAD_OP = 4;
/** The addon whose threaded loop computes large Relu gradients (set by {@link reluGradient}), or null. */
let reluGradAddon: NativeAddon | null = null;

/** Registers the cpu kernel {@link RELU_GRAD_KERNEL} (once per process: see src/backend/register.ts). */
export function registerReluGradKernel(): void {
  tf.registerKernel({
    kernelName: RELU_GRAD_KERNEL,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackend;
      const dy = floatValues(cpu, inputs['dy']!)!;
      const x = floatValues(cpu, inputs['x']!)!;
      const out = uninitializedFloat32(x.length, cpu);
      if (reluGradAddon && out.length >= NATIVE_MIN_SIZE) {
        reluGradAddon.binary(RELU_GRAD_OP, dy, x, out, out.length, out.length);
      } else {
        // As the stock mul(dy, step(x)): dy * 1, dy * 0 (a signed zero, or NaN for an infinite dy), NaN for NaN x.
        for (let i = 0; i < out.length; i++) {
          const v = x[i]!;
          out[i] = dy[i]! * (v > 0 ? 1 : v !== v ? NaN : 0);
        }
      }
      return cpu.makeTensorInfo(inputs['x']!.shape, 'float32', out);
    },
  });
}

/**
 * The gradient of Relu computed by one cpu kernel instead of Step, Cast and Multiply (bit-identical),
 * in the addon's threaded loop for large tensors when it is given; `original` is tfjs's own gradient,
 * used on other backends and dtypes. It keeps Relu's output for the backward pass, not its input as
 * tfjs's does: `y > 0` exactly where `x > 0` (and `y` is NaN where `x` is), and the output is usually
 * kept anyway (the next layer's gradient saves it), where the input would be one more tensor.
 */
export function reluGradient(original: tf.GradConfig, addon: NativeAddon | null): tf.GradConfig {
  reluGradAddon = addon;
  return {
    kernelName: 'Relu',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      // Relu's output; tfjs's own gradient, dy * step(saved), gives the same from it as from the input.
      const [y] = saved as [tf.Tensor];
      const grad = dy as tf.Tensor;
      if (tf.getBackend() !== 'cpu' || y.dtype !== 'float32' || grad.dtype !== 'float32' || !tf.util.arraysEqual(y.shape, grad.shape)) {
        return original.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: grad, x: y }) as tf.Tensor };
    },
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
    Maximum: binaryKernel('max', () => original('Maximum'), null),
    Minimum: binaryKernel('min', () => original('Minimum'), null),
    ClipByValue: clipByValueKernel(() => original('ClipByValue')),
    Relu: reluKernel(() => original('Relu'), addon),
    Step: stepKernel(() => original('Step'), addon),
    Sum: reduceKernel('Sum', () => original('Sum')),
    Mean: reduceKernel('Mean', () => original('Mean')),
  };
}
