/** The calling convention every attack shares. */
import * as tf from '@tensorflow/tfjs-core';
import { checkModelInput, logitsOf, numClassesOf, type ModelLike } from './model.js';
import { nonFiniteCodes, throwIfNonFinite } from './finite.js';
import type { Norm } from './norms.js';
import { checkBounds, checkImages, toLabels, type Bounds, type LabelsLike } from './validate.js';

/**
 * An attack as a value, for suites and sweeps (see {@link attackSweep}, {@link robustAccuracy}).
 *
 * - `'fixed-epsilon'` attacks (FGSM, PGD) take the budget as input and are run once per epsilon;
 * - `'minimization'` attacks (DeepFool) look for the smallest perturbation; they run once and their
 *   result is clipped to each epsilon's ball, as foolbox does.
 */
export interface Attack {
  /** Short name, e.g. `'PGD-20'`. */
  readonly name: string;
  /** The norm `eps` is measured in: `'linf'` (max absolute pixel change), `'l2'` (Euclidean, per image) or `'l1'` (sum of absolute pixel changes). */
  readonly norm: Norm;
  /** `'fixed-epsilon'` (run once per budget) or `'minimization'` (run once, clipped to each budget); see above. */
  readonly kind: 'fixed-epsilon' | 'minimization';
  /** True when `labels` are the targets to reach rather than the true classes to leave. */
  readonly targeted: boolean;
  /** Pixel bounds the attack keeps to. */
  readonly bounds: readonly [number, number];
  /**
   * Runs the attack on `x` (NHWC, within `bounds`) with `labels`; `eps` is the budget (ignored by
   * minimization attacks). Returns the raw adversarial batch; the caller owns it. The package's
   * attacks throw a {@link NonFiniteLogitsError} when the model's logits are not finite, which
   * {@link robustAccuracy} reports with the batch (or counts, with `nonFinite: 'count-as-wrong'`).
   */
  run(model: ModelLike, x: tf.Tensor4D, labels: LabelsLike, eps: number): tf.Tensor4D;
}

/**
 * An untargeted fixed-epsilon {@link Attack} value (success = misclassification) that calls `run`
 * with the budget; the factories of APGD, FAB, Square and AutoAttack are made this way.
 */
export function untargetedAttack(name: string, norm: Norm, bounds: Bounds | undefined, run: Attack['run']): Attack {
  return { name, norm, kind: 'fixed-epsilon', targeted: false, bounds: bounds ?? [0, 1], run };
}

/** Validated inputs of an attack call. */
export interface Prepared {
  x: tf.Tensor4D;
  /** A new int32 tensor; the attack disposes it. */
  labels: tf.Tensor1D;
  numClasses: number;
  bounds: [number, number];
}

/**
 * Checks images, bounds and labels against the model (its input shape, when it has one); errors name
 * the argument (`x` and `y` unless `names` says otherwise).
 */
export function prepare(model: ModelLike, x: tf.Tensor, y: LabelsLike, bounds: Bounds | undefined, names: { x: string; y: string } = { x: 'x', y: 'y' }): Prepared {
  if (model == null || (typeof model !== 'function' && typeof (model as { apply?: unknown }).apply !== 'function')) {
    throw new TypeError('model: expected a tf.LayersModel or a function (x) => logits');
  }
  const b = checkBounds(bounds);
  checkImages(x, b, names.x);
  checkModelInput(model, x, names.x);
  const numClasses = numClassesOf(model, x);
  return { x, labels: toLabels(y, x.shape[0], numClasses, names.y), numClasses, bounds: b };
}

/**
 * Per-example success of adversarial examples: the prediction differs from `labels` (untargeted) or
 * equals them (targeted). Clean misclassifications count as successes, as in foolbox. Throws a
 * {@link NonFiniteLogitsError} when the model's logits for some example are NaN or infinite (their
 * `argMax` is no prediction); one read-back.
 */
export function isAdversarial(model: ModelLike, xAdv: tf.Tensor4D, labels: tf.Tensor1D, targeted = false): tf.Tensor1D {
  const logits = tf.tidy(() => logitsOf(model, xAdv));
  try {
    throwIfNonFinite(tf.tidy(() => nonFiniteCodes(logits).dataSync()), 'isAdversarial');
    return tf.tidy(() => {
      const predicted = tf.argMax(logits, 1);
      return (targeted ? tf.equal(predicted, labels) : tf.notEqual(predicted, labels)) as tf.Tensor1D;
    });
  } finally {
    logits.dispose();
  }
}
