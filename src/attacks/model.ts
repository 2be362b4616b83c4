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

/** Number of classes the model predicts (from its output shape, or from one forward pass of one example). */
export function numClassesOf(model: ModelLike, x: tf.Tensor4D): number {
  if (typeof model !== 'function') {
    const units = model.outputs[0]?.shape[1];
    if (typeof units === 'number') return units;
  }
  return tf.tidy(() => logitsOf(model, tf.slice(x, 0, 1) as tf.Tensor4D).shape[1]);
}
