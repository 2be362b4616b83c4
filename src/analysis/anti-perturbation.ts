import * as tf from '@tensorflow/tfjs-core';
import { prepare } from '../attacks/attack.js';
import { logitsOf, type ModelLike } from '../attacks/model.js';
import { pgd } from '../attacks/pgd.js';
import { checkNumber, checkSeed } from '../attacks/validate.js';

/** Options of {@link antiPerturbationRatio}. */
export interface AntiPerturbationOptions {
  /** PGD steps (default 20, the paper's PGD-20). */
  steps?: number;
  /** PGD step relative to eps (default 0.25). */
  relStepSize?: number;
  /** Examples per batch (default 128). */
  batchSize?: number;
  /** Seed of the PGD random start. */
  seed?: number;
}

/** One budget's anti-perturbation ratio. */
export interface AntiPerturbationResult {
  /** The Linf budget, in pixel units of [0, 1] images (e.g. `8 / 255`). */
  eps: number;
  /** Share of examples whose prediction a PGD perturbation of this budget did not change, in [0, 1]. */
  ratio: number;
}

/**
 * The paper's anti-perturbation measure (Table II): the share of predictions left unchanged by a
 * Linf PGD-20 perturbation (relative step 0.25, random start) aimed at the model's own clean
 * prediction, so correctness plays no part. One result per budget.
 */
export function antiPerturbationRatio(
  model: ModelLike,
  x: tf.Tensor4D,
  epsilons: readonly number[],
  options: AntiPerturbationOptions = {},
): AntiPerturbationResult[] {
  if (!Array.isArray(epsilons) || epsilons.length === 0) throw new RangeError('epsilons: expected a non-empty array of budgets >= 0');
  epsilons.forEach((e, i) => checkNumber(e, `epsilons[${i}]`, { min: 0 }));
  const steps = checkNumber(options.steps ?? 20, 'steps', { min: 1, integer: true });
  const relStepSize = checkNumber(options.relStepSize ?? 0.25, 'relStepSize', { min: 0, minExclusive: true });
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const seed = checkSeed(options.seed);
  const predicted = tf.tidy(() => tf.cast(tf.argMax(logitsOf(model, x), 1), 'int32') as tf.Tensor1D);
  const p = prepare(model, x, predicted, [0, 1]);
  predicted.dispose();
  const n = x.shape[0];
  try {
    return epsilons.map((eps) => {
      let unchanged = 0;
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        const xb = tf.slice(x, start, size) as tf.Tensor4D;
        const yb = tf.slice(p.labels, start, size) as tf.Tensor1D;
        const adv = pgd(model, xb, yb, { eps, steps, relStepSize, randomStart: true, seed });
        unchanged += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logitsOf(model, adv), 1), yb), 'int32')).dataSync()[0]!);
        tf.dispose([xb, yb, adv]);
      }
      return { eps, ratio: unchanged / n };
    });
  } finally {
    p.labels.dispose();
  }
}
