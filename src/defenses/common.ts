/** Shared pieces of the defense losses. */
import * as tf from '@tensorflow/tfjs-core';
// The package's kernels (registered once per process): see src/backend/register.ts.
import '../backend/register.js';

/** Checks a logits pair and labels; errors name the argument. */
export function checkLogits(name: string, logits: tf.Tensor, labels: tf.Tensor, other?: tf.Tensor): void {
  if (logits.rank !== 2) throw new RangeError(`${name}: logits must be [N, classes], got shape [${logits.shape}]`);
  if (other && !tf.util.arraysEqual(other.shape, logits.shape)) {
    throw new RangeError(`${name}: natural and adversarial logits must have the same shape, got [${logits.shape}] and [${other.shape}]`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new RangeError(`${name}: labels must be [${logits.shape[0]}] class indices, got shape [${labels.shape}]`);
  }
  if (labels.dtype !== 'int32') throw new RangeError(`${name}: labels must be int32 class indices, got ${labels.dtype}`);
}

/** Mean cross-entropy of logits w.r.t. int32 labels (PyTorch's `F.cross_entropy`, reduction mean). */
export function meanCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, logits.shape[1])), 1))) as tf.Scalar);
}

/** Per-example KL(p || q) = sum_j p_j (log p_j - log q_j) from logits (p from `logitsP`). */
export function klFromLogits(logitsP: tf.Tensor2D, logitsQ: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(logitsP);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, tf.logSoftmax(logitsQ))), 1) as tf.Tensor1D;
  });
}

export function checkWeight(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} = ${String(value)}: must be a finite number >= 0`);
  }
  return value;
}
