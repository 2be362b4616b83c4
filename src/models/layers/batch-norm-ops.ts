/**
 * Batch normalisation over the last (channel) axis as single passes over the data.
 *
 * tfjs composes batch norm and its gradient from a dozen broadcasting element-wise ops (and a Tile),
 * which dominate a ResNet step on the CPU backend. On 'cpu' these functions instead read the tensors'
 * buffers once per pass and return the result through `tf.customGrad` with the closed-form gradient; on
 * other backends they use the composite tf ops. Both paths compute the same values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activeCpuBackend, floatValues, peekFloat32, uninitializedFloat32, type CpuBackend } from '../../backend/alloc.js';
import { loadAddon, type NativeAddon } from '../../backend/addon.js';
import { RELU_GRAD_KERNEL } from '../../backend/fast-kernels.js';
import { oncePerProcess } from '../../io/once.js';
// The package's kernels, RmcReluGrad among them (registered once per process).
import '../../backend/register.js';

/** The native addon's threaded loops when built (and not disabled), else null: JS loops. */
function addon(): NativeAddon | null {
  return loadAddon().addon;
}

/** Per-channel mean and biased variance of an NHWC (or any channels-last) buffer, two-pass in float64. */
export function channelMoments(x: Float32Array, channels: number): { mean: Float64Array; variance: Float64Array } {
  const native = addon();
  if (native) {
    const meanVar = new Float64Array(2 * channels);
    native.bnMoments(x, channels, meanVar);
    return { mean: meanVar.slice(0, channels), variance: meanVar.slice(channels) };
  }
  const count = x.length / channels;
  const mean = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) for (let c = 0; c < channels; c++) mean[c]! += x[i + c]!;
  for (let c = 0; c < channels; c++) mean[c]! /= count;
  const variance = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = x[i + c]! - mean[c]!;
      variance[c]! += d * d;
    }
  }
  for (let c = 0; c < channels; c++) variance[c]! /= count;
  return { mean, variance };
}

/** `out = max(0, a * scale[c] + shift[c])` in one pass. */
function channelAffineRelu(a: Float32Array, scale: Float64Array, shift: Float64Array, channels: number): Float32Array {
  const out = uninitializedFloat32(a.length, activeCpuBackend());
  const native = addon();
  if (native) {
    native.bnAffine(a, scale, shift, 1, out, null, null);
    return out;
  }
  for (let i = 0; i < a.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const v = a[i + c]! * scale[c]! + shift[c]!;
      out[i + c] = v > 0 ? v : v !== v ? v : 0;
    }
  }
  return out;
}

/** `dy` where the ReLU after the affine map let the value through (`x * scale + shift > 0`), else 0. */
function reluMask(dy: Float32Array, x: Float32Array, scale: Float64Array, shift: Float64Array, channels: number): Float32Array {
  const out = uninitializedFloat32(dy.length, activeCpuBackend());
  for (let i = 0; i < dy.length; i += channels) {
    for (let c = 0; c < channels; c++) out[i + c] = x[i + c]! * scale[c]! + shift[c]! > 0 ? dy[i + c]! : 0;
  }
  return out;
}

/** `out = a * scale[c] + (b ? b * bScale[c] : 0) + shift[c]` in one pass. */
function channelAffine(a: Float32Array, scale: Float64Array, shift: Float64Array, channels: number, b?: Float32Array, bScale?: Float64Array): Float32Array {
  const out = uninitializedFloat32(a.length, activeCpuBackend());
  const native = addon();
  if (native) {
    native.bnAffine(a, scale, shift, 0, out, b ?? null, b && bScale ? bScale : null);
    return out;
  }
  if (b && bScale) {
    for (let i = 0; i < a.length; i += channels) {
      for (let c = 0; c < channels; c++) out[i + c] = a[i + c]! * scale[c]! + b[i + c]! * bScale[c]! + shift[c]!;
    }
  } else {
    for (let i = 0; i < a.length; i += channels) {
      for (let c = 0; c < channels; c++) out[i + c] = a[i + c]! * scale[c]! + shift[c]!;
    }
  }
  return out;
}

/**
 * `out = [relu](a * scale[c] + shift[c] + shortcut)` in one pass: batch norm, the residual addition and
 * the ReLU of a residual block's tail.
 */
function channelAffineResidual(a: Float32Array, shortcut: Float32Array, scale: Float64Array, shift: Float64Array, relu: boolean, channels: number): Float32Array {
  const out = uninitializedFloat32(a.length, activeCpuBackend());
  const native = addon();
  if (native) {
    native.bnAffine(a, scale, shift, relu ? 1 : 0, out, shortcut, new Float64Array(channels).fill(1));
    return out;
  }
  for (let i = 0; i < a.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const v = a[i + c]! * scale[c]! + shortcut[i + c]! + shift[c]!;
      out[i + c] = relu ? (v > 0 ? v : v !== v ? v : 0) : v;
    }
  }
  return out;
}

/**
 * `dy * step(y)` as a new tensor: the gradient through a ReLU given its *output* `y` (`y > 0` exactly
 * where its input was; NaN where it was NaN), by the package's Relu-gradient kernel.
 */
function reluMaskByOutput(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x: y }) as tf.Tensor;
}

/** Per channel: `sum(dy)` and `sum(dy * (x - center))`. */
function channelReduce(dy: Float32Array, x: Float32Array, center: Float64Array, channels: number) {
  const sumDy = new Float64Array(channels);
  const sumDyXc = new Float64Array(channels);
  for (let i = 0; i < dy.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[i + c]!;
      sumDy[c]! += g;
      sumDyXc[c]! += g * (x[i + c]! - center[c]!);
    }
  }
  return { sumDy, sumDyXc };
}

/**
 * The backward pass shared by both modes: the per-channel sums of the (ReLU-masked) gradient (unless
 * `wantSums` is false), then (unless `wantDx` is false) `dx = dyM * scale + x * xCoef + offset` with
 * the coefficients `coefficients(sums)` gives.
 */
function backwardPass(
  dy: Float32Array, x: Float32Array, scale: Float64Array, shift: Float64Array, mean: Float64Array, relu: boolean, channels: number,
  coefficients: (sumDy: Float64Array, sumDyXc: Float64Array) => { xCoef: Float64Array; offset: Float64Array },
  wantDx = true, wantSums = true,
): { dx: Float32Array | null; sumDy: Float64Array; sumDyXc: Float64Array } {
  const native = addon();
  let sumDy = new Float64Array(channels);
  let sumDyXc = new Float64Array(channels);
  if (native) {
    const sums = new Float64Array(2 * channels);
    if (wantSums) {
      native.bnBackward(dy, x, scale, shift, mean, relu ? 1 : 0, sums, null, null, null);
      sumDy = sums.slice(0, channels);
      sumDyXc = sums.slice(channels);
    }
    if (!wantDx) return { dx: null, sumDy, sumDyXc };
    const { xCoef, offset } = coefficients(sumDy, sumDyXc);
    const dx = uninitializedFloat32(dy.length, activeCpuBackend());
    native.bnBackward(dy, x, scale, shift, mean, relu ? 1 : 0, sums, dx, xCoef, offset);
    return { dx, sumDy, sumDyXc };
  }
  const dys = relu ? reluMask(dy, x, scale, shift, channels) : dy;
  if (wantSums) ({ sumDy, sumDyXc } = channelReduce(dys, x, mean, channels));
  if (!wantDx) return { dx: null, sumDy, sumDyXc };
  const { xCoef, offset } = coefficients(sumDy, sumDyXc);
  return { dx: channelAffine(dys, scale, offset, channels, x, xCoef), sumDy, sumDyXc };
}

/** `scale = gamma * invStd`, `shift = beta - mean * scale`, and the forward output (ReLU if asked). */
function normalize(xs: tf.Tensor, gamma: Float64Array, beta: Float64Array, mean: Float64Array, invStd: Float64Array, relu: boolean, channels: number) {
  const scale = gamma.map((value, c) => value * invStd[c]!);
  const shift = beta.map((value, c) => value - mean[c]! * scale[c]!);
  const out = (relu ? channelAffineRelu : channelAffine)(f32(xs), scale, shift, channels);
  return { scale, shift, value: tf.tensor(out, xs.shape, 'float32') };
}

function isCpu(): boolean {
  return tf.getBackend() === 'cpu';
}

/** The tensor's values, read in place (used at once, never kept). */
const f32 = peekFloat32;

const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());
const vector = (values: Float64Array) => tf.tensor1d(Float32Array.from(values));

/** The cpu kernel of inference-mode batch norm (+ ReLU), registered below with a lazy gradient. */
const INFERENCE_KERNEL = 'RmcBatchNormInference';
/** The cpu kernel of a residual block's tail in inference mode: `[relu](batchNorm(x) + shortcut)`. */
const RESIDUAL_INFERENCE_KERNEL = 'RmcBatchNormResidualInference';

interface InferenceAttrs {
  epsilon: number;
  relu: boolean;
}

/** Per-channel `scale = gamma / sqrt(variance + eps)` and `shift = beta - mean * scale` of the inputs. */
function inferenceAffine(read: (t: tf.TensorInfo) => Float64Array, inputs: Record<'gamma' | 'beta' | 'mean' | 'variance', tf.TensorInfo>, eps: number) {
  const gamma = read(inputs.gamma);
  const mean = read(inputs.mean);
  const invStd = read(inputs.variance).map((value) => 1 / Math.sqrt(value + eps));
  const scale = gamma.map((value, c) => value * invStd[c]!);
  const shift = read(inputs.beta).map((value, c) => value - mean[c]! * scale[c]!);
  return { gamma, mean, invStd, scale, shift };
}

/**
 * A cpu kernel of inference-mode batch norm with inputs `x`, `gamma`, `beta`, `mean`, `variance` (and
 * others `pass` reads): `pass` computes the output from the inputs' values and the per-channel affine map.
 */
function inferenceKernel(
  kernelName: string,
  pass: (read: (t: tf.TensorInfo) => Float32Array, inputs: tf.NamedTensorInfoMap, affine: { scale: Float64Array; shift: Float64Array; relu: boolean; channels: number }) => Float32Array,
): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = backend as CpuBackend;
      const read = (t: tf.TensorInfo) => floatValues(cpu, t)!;
      const { epsilon, relu } = attrs as unknown as InferenceAttrs;
      const x = inputs['x']!;
      const channels = x.shape[x.shape.length - 1]!;
      const { scale, shift } = inferenceAffine((t) => Float64Array.from(read(t)), inputs as Record<'gamma' | 'beta' | 'mean' | 'variance', tf.TensorInfo>, epsilon);
      return cpu.makeTensorInfo(x.shape, 'float32', pass(read, inputs, { scale, shift, relu, channels }));
    },
  };
}

// Registered once per process, however many copies of the package load (ESM and CommonJS builds).
oncePerProcess('batch-norm-kernel', () => {
  tf.registerKernel(
    inferenceKernel(INFERENCE_KERNEL, (read, inputs, { scale, shift, relu, channels }) =>
      (relu ? channelAffineRelu : channelAffine)(read(inputs['x']!), scale, shift, channels),
    ),
  );

  // The gradient of each input is computed only when the tape asks for it: an attack differentiates with
  // respect to the image alone and then needs one pass (dx = ReLU-masked dy * scale), not the per-channel
  // sums that the parameters' gradients take.
  tf.registerGradient({
    kernelName: INFERENCE_KERNEL,
    inputsToSave: ['x', 'gamma', 'beta', 'mean', 'variance'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, beta, mean, variance] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      const { epsilon, relu } = attrs as unknown as InferenceAttrs;
      return inferenceGradients(dy as tf.Tensor, x, { gamma, beta, mean, variance }, epsilon, relu);
    },
  });

  tf.registerKernel(
    inferenceKernel(RESIDUAL_INFERENCE_KERNEL, (read, inputs, { scale, shift, relu, channels }) =>
      channelAffineResidual(read(inputs['x']!), read(inputs['shortcut']!), scale, shift, relu, channels),
    ),
  );

  // The residual tail's gradient: through the ReLU by its output (the sum it was applied to is never
  // formed as a tensor), then the shortcut takes that gradient as it is and batch norm's inputs theirs.
  tf.registerGradient({
    kernelName: RESIDUAL_INFERENCE_KERNEL,
    inputsToSave: ['x', 'gamma', 'beta', 'mean', 'variance'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, beta, mean, variance, y] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor];
      const { epsilon, relu } = attrs as unknown as InferenceAttrs;
      const dz = relu ? reluMaskByOutput(dy as tf.Tensor, y) : (dy as tf.Tensor);
      // The shortcut's gradient is the masked dy itself: tfjs disposes it when it adds it to the other
      // gradient of the block's input, so it does not outlive the backward pass's use of it. The
      // shortcut is the kernel's last input, so every other input's gradient has read dz by then. An
      // unmasked dy is tfjs's (maybe the caller's own) tensor: a view of it, then.
      return { ...inferenceGradients(dz, x, { gamma, beta, mean, variance }, epsilon, false), shortcut: () => (relu ? dz : tf.clone(dz)) };
    },
  });
});

/**
 * The gradients of inference-mode batch norm (+ ReLU) with respect to each input, as the lazy functions a
 * registered gradient returns; the per-channel sums the parameters need are computed once, when first asked.
 */
function inferenceGradients(
  dy: tf.Tensor, x: tf.Tensor, params: Record<'gamma' | 'beta' | 'mean' | 'variance', tf.Tensor1D>, epsilon: number, relu: boolean,
): Record<'x' | 'gamma' | 'beta' | 'mean' | 'variance', () => tf.Tensor> {
  const channels = x.shape[x.rank - 1]!;
  const zeros = new Float64Array(channels);
  const affine = () => inferenceAffine((t) => f64(t as tf.Tensor), params, epsilon);
  let sums: { sumDy: Float64Array; sumDyXc: Float64Array; affine: ReturnType<typeof affine> } | undefined;
  const channelSums = () => {
    if (!sums) {
      const a = affine();
      sums = { ...backwardPass(f32(dy), f32(x), a.scale, a.shift, a.mean, relu, channels, () => ({ xCoef: zeros, offset: zeros }), false), affine: a };
    }
    return sums;
  };
  return {
    x: () => {
      const a = affine();
      const pass = backwardPass(f32(dy), f32(x), a.scale, a.shift, a.mean, relu, channels, () => ({ xCoef: zeros, offset: zeros }), true, false);
      return tf.tensor(pass.dx!, dy.shape, 'float32');
    },
    gamma: () => {
      const { sumDyXc, affine: a } = channelSums();
      return vector(sumDyXc.map((s, c) => s * a.invStd[c]!));
    },
    beta: () => vector(channelSums().sumDy),
    mean: () => {
      const { sumDy, affine: a } = channelSums();
      return vector(sumDy.map((s, c) => -s * a.scale[c]!));
    },
    variance: () => {
      const { sumDyXc, affine: a } = channelSums();
      return vector(sumDyXc.map((s, c) => -0.5 * a.gamma[c]! * s * a.invStd[c]! ** 3));
    },
  };
}

/**
 * Inference-mode batch norm `gamma * (x - mean) / sqrt(variance + eps) + beta`, plus `shortcut` when
 * given (a residual block's tail), followed by a ReLU when `relu` is set, with gradients for every input
 * (each computed only when asked for). With a shortcut, the sum before the ReLU is never a tensor of its
 * own: the gradient goes through the ReLU by its output.
 */
export function batchNormInference(
  x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, eps: number, relu = false, shortcut?: tf.Tensor,
): tf.Tensor {
  if (!isCpu() || x.dtype !== 'float32' || (shortcut && shortcut.dtype !== 'float32')) {
    const normalized = tf.batchNorm(x, mean, variance, beta, gamma, eps);
    const y = shortcut ? tf.add(normalized, shortcut) : normalized;
    return relu ? tf.relu(y) : y;
  }
  const attrs = { epsilon: eps, relu } satisfies InferenceAttrs as unknown as tf.NamedAttrMap;
  if (shortcut) return tf.engine().runKernel(RESIDUAL_INFERENCE_KERNEL, { x, gamma, beta, mean, variance, shortcut }, attrs) as tf.Tensor;
  return tf.engine().runKernel(INFERENCE_KERNEL, { x, gamma, beta, mean, variance }, attrs) as tf.Tensor;
}

/**
 * Training-mode batch norm (plus `shortcut` when given, then a ReLU when `relu` is set): normalises with
 * the batch mean and biased variance; returns the output and the batch statistics (per channel, as
 * numbers, for the running averages). Gradients flow to `x`, `gamma` and `beta` through the batch
 * statistics, as in PyTorch, and to `shortcut` through the addition.
 */
export function batchNormTraining(
  x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu = false, shortcut?: tf.Tensor,
): { y: tf.Tensor; mean: Float64Array; variance: Float64Array; count: number } {
  const channels = x.shape[x.rank - 1]!;
  const count = x.size / channels;
  if (!isCpu() || x.dtype !== 'float32' || (shortcut && shortcut.dtype !== 'float32')) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    const stats = { mean: f64(mean), variance: f64(variance) };
    const normalized = tf.batchNorm(x, mean, variance, beta, gamma, eps);
    const y = shortcut ? tf.add(normalized, shortcut) : normalized;
    return { y: relu ? tf.relu(y) : y, ...stats, count };
  }
  const { mean, variance } = channelMoments(f32(x), channels);
  const invStd = variance.map((v) => 1 / Math.sqrt(v + eps));
  // dx = scale * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M), xhat = (x - mean) * invStd: an affine
  // map of dy and x per channel. `reluInPass`: the ReLU's mask is applied in the pass
  // (plain batch norm + ReLU); the residual tail masks dy by its output first.
  const backward = (dy: tf.Tensor, xs: tf.Tensor, scale: Float64Array, shift: Float64Array, reluInPass: boolean) => {
    let dGamma = new Float64Array(channels);
    const pass = backwardPass(f32(dy), f32(xs), scale, shift, mean, reluInPass, channels, (sumDy, sumDyXc) => {
      dGamma = sumDyXc.map((s, c) => s * invStd[c]!);
      const xCoef = scale.map((s, c) => (-s * dGamma[c]! * invStd[c]!) / count);
      const offset = scale.map((s, c) => (-s * sumDy[c]!) / count - xCoef[c]! * mean[c]!);
      return { xCoef, offset };
    });
    return { dx: tf.tensor(pass.dx!, dy.shape, 'float32'), dGamma: vector(dGamma), dBeta: vector(pass.sumDy) };
  };
  if (shortcut) {
    const residualOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xs, skip, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const scale = f64(g).map((value, c) => value * invStd[c]!);
      const shift = f64(b).map((value, c) => value - mean[c]! * scale[c]!);
      const value = tf.tensor(channelAffineResidual(f32(xs), f32(skip), scale, shift, relu, channels), xs.shape, 'float32');
      save([xs, value]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dz = relu ? reluMaskByOutput(dy, saved[1]!) : tf.clone(dy);
        const { dx, dGamma, dBeta } = backward(dz, saved[0]!, scale, shift, false);
        return [dx, dz, dGamma, dBeta];
      };
      return { value, gradFunc };
    });
    return { y: residualOp(x, shortcut, gamma, beta), mean, variance, count };
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xs, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { scale, shift, value } = normalize(xs, f64(g), f64(b), mean, invStd, relu, channels);
    save([xs]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const { dx, dGamma, dBeta } = backward(dy, saved[0]!, scale, shift, relu);
      return [dx, dGamma, dBeta];
    };
    return { value, gradFunc };
  });
  return { y: op(x, gamma, beta), mean, variance, count };
}
