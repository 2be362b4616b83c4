import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// The package's kernels (registered once per process): see src/backend/register.ts.
import '../backend/register.js';

/**
 * What attacks accept as a model: a `tf.LayersModel` (called in inference mode: batch-norm running
 * statistics, no dropout) or a differentiable function from an NHWC batch to logits `[N, classes]`.
 */
export type ModelLike = tfl.LayersModel | ((x: tf.Tensor4D) => tf.Tensor);

/** Logits of `model` on `x` in inference mode; differentiable. Throws unless they are `[N, classes]`. */
export function logitsOf(model: ModelLike, x: tf.Tensor4D): tf.Tensor2D {
  const out = typeof model === 'function' ? model(x) : (model.apply(x, { training: false }) as tf.Tensor);
  if (Array.isArray(out) || out.rank !== 2 || out.shape[0] !== x.shape[0]) {
    const shape = Array.isArray(out) ? 'several outputs' : `shape [${out.shape}]`;
    throw new RangeError(`model: expected logits of shape [${x.shape[0]}, classes], got ${shape}`);
  }
  return out as tf.Tensor2D;
}

/**
 * Checks that `model` is usable on the images `x` (argument `name`): a `tf.LayersModel` must not be
 * disposed, and when its input has a fixed image shape, `x`'s images must have it (a model built for
 * 32x32 images would otherwise run on 16x16 ones through its global pooling and report numbers).
 */
export function checkModelInput(model: ModelLike, x: tf.Tensor4D, name = 'x'): void {
  if (typeof model === 'function') return;
  const disposed = model.weights.some((w) => {
    try {
      w.read();
      return false;
    } catch {
      return true;
    }
  });
  if (disposed) throw new TypeError(`model: the LayersModel '${model.name}' has been disposed`);
  const expected = model.inputs[0]?.shape;
  if (!expected || expected.length !== 4) return;
  const mismatch = expected.slice(1).some((size, i) => size != null && size !== x.shape[i + 1]);
  if (mismatch) {
    const image = expected.slice(1).map((size) => size ?? 'any');
    throw new RangeError(`${name}: images of shape [${x.shape.slice(1)}] (height, width, channels), but the model takes [${image}]`);
  }
}

/** Number of classes the model predicts (from its output shape, or from one forward pass of one example). */
export function numClassesOf(model: ModelLike, x: tf.Tensor4D): number {
  if (typeof model !== 'function') {
    const units = model.outputs[0]?.shape[1];
    if (typeof units === 'number') return units;
  }
  return tf.tidy(() => logitsOf(model, tf.slice(x, 0, 1) as tf.Tensor4D).shape[1]);
}
