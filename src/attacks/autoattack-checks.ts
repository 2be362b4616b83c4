/**
 * AutoAttack's sanity checks on the model under evaluation (Croce & Hein 2020; the reference's
 * `checks.py`): each returns a warning message, or undefined when the check passes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientOf } from './gradient.js';
import { crossEntropy } from './losses.js';
import { logitsOf, type ModelLike } from './model.js';

/**
 * Randomised model: `calls` forward passes on the same batch whose predictions' correct count or
 * L2-normalised outputs differ by more than `tolerance` (the reference: 5 calls, 1e-4).
 */
export function checkRandomized(model: ModelLike, x: tf.Tensor4D, labels: tf.Tensor1D, calls = 5, tolerance = 1e-4): string | undefined {
  const outputs: tf.Tensor2D[] = [];
  const correct: number[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const out = tf.tidy(() => {
        const z = logitsOf(model, x);
        correct.push(tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), labels), 'int32')).dataSync()[0]!);
        return tf.div(z, tf.add(tf.norm(z, 'euclidean', 1, true), 1e-10)) as tf.Tensor2D;
      });
      outputs.push(out);
    }
    let maxDiff = 0;
    for (let i = 0; i < calls; i++) {
      for (let j = i + 1; j < calls; j++) {
        maxDiff = Math.max(maxDiff, tf.tidy(() => tf.max(tf.norm(tf.sub(outputs[i]!, outputs[j]!), 'euclidean', 1)).dataSync()[0]!));
      }
    }
    if (correct.some((c) => c !== correct[0]) || maxDiff > tolerance) {
      return `the model's outputs differ between identical calls (largest L2 difference of normalised outputs ${maxDiff.toExponential(2)}): it seems to be a randomised defence; use version: 'rand' (Expectation over Transformation)`;
    }
    return undefined;
  } finally {
    tf.dispose(outputs);
  }
}

/** Probabilities instead of logits: every output in [0, 1] and every row summing to 1 (within 1e-5). */
export function checkProbabilities(model: ModelLike, x: tf.Tensor4D, tolerance = 1e-5): string | undefined {
  const [max, min, worstSum] = tf.tidy(() => {
    const z = logitsOf(model, x);
    return Array.from(tf.stack([tf.max(z), tf.min(z), tf.max(tf.abs(tf.sub(tf.sum(z, 1), 1)))]).dataSync());
  });
  if (max! < 1 + tolerance && min! > -tolerance && worstSum! < tolerance) {
    return 'the model\'s outputs look like probabilities (in [0, 1], rows summing to 1): attacks need logits; remove the final softmax';
  }
  return undefined;
}

/** Points (of those classified correctly) whose cross-entropy gradient is exactly zero. */
export function checkZeroGradients(model: ModelLike, x: tf.Tensor4D, labels: tf.Tensor1D): string | undefined {
  const [zero, total] = tf.tidy(() => {
    const correct = tf.equal(tf.argMax(logitsOf(model, x), 1), labels);
    const g = gradientOf((xi) => tf.sum(crossEntropy(logitsOf(model, xi as tf.Tensor4D), labels)) as tf.Scalar, x);
    const isZero = tf.logicalAnd(correct, tf.equal(tf.sum(tf.abs(g), [1, 2, 3]), 0));
    return [tf.sum(tf.cast(isZero, 'int32')).dataSync()[0]!, tf.sum(tf.cast(correct, 'int32')).dataSync()[0]!];
  });
  if (zero! > 0) {
    return `${zero} of ${total} correctly classified points have an all-zero gradient: gradient-based attacks cannot move them, so their robustness is likely overestimated (masked gradients?)`;
  }
  return undefined;
}

/**
 * Square beating the gradient attacks: the black-box Square attack fooled more than `threshold` (a
 * fraction of all points, the reference's 0.2%) of points every gradient attack before it missed, a
 * sign of gradient masking.
 */
export function checkSquareSuccess(fooledBySquare: number, n: number, threshold = 0.002): string | undefined {
  if (fooledBySquare / n > threshold) {
    return `Square (black-box) fooled ${fooledBySquare} of ${n} points (${((100 * fooledBySquare) / n).toFixed(2)}%) that the gradient attacks before it missed: a sign of gradient masking; the evaluation may be unreliable (try Square with more queries and restarts, or an adaptive attack)`;
  }
  return undefined;
}
