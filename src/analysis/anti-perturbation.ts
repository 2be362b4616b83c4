import * as tf from '@tensorflow/tfjs-core';
import { prepare } from '../attacks/attack.js';
import { nonFiniteCodes, throwIfNonFinite } from '../attacks/finite.js';
import { logitsOf, type ModelLike } from '../attacks/model.js';
import { pgd } from '../attacks/pgd.js';
import { judgeRowsOf } from '../attacks/rows.js';
import { checkNumber, checkOptionKeys, checkSeed, optionKeys } from '../attacks/validate.js';

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

const ANTI_PERTURBATION_OPTION_KEYS = optionKeys<AntiPerturbationOptions>({ steps: true, relStepSize: true, batchSize: true, seed: true });

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
 * prediction, so correctness plays no part. One result per budget. Logits that are NaN or infinite
 * (clean or perturbed) throw a {@link NonFiniteLogitsError}: `argMax` of them is no prediction.
 */
export function antiPerturbationRatio(
  model: ModelLike,
  x: tf.Tensor4D,
  epsilons: readonly number[],
  options: AntiPerturbationOptions = {},
): AntiPerturbationResult[] {
  if (!Array.isArray(epsilons) || epsilons.length === 0) throw new RangeError('epsilons: expected a non-empty array of budgets >= 0');
  epsilons.forEach((e, i) => checkNumber(e, `epsilons[${i}]`, { min: 0 }));
  if (options === null || typeof options !== 'object') throw new TypeError('antiPerturbationRatio: options must be an object');
  checkOptionKeys(options, ANTI_PERTURBATION_OPTION_KEYS, 'antiPerturbationRatio');
  const steps = checkNumber(options.steps ?? 20, 'steps', { min: 1, integer: true });
  const relStepSize = checkNumber(options.relStepSize ?? 0.25, 'relStepSize', { min: 0, minExclusive: true });
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const seed = checkSeed(options.seed);
  // Validates x and the model (the labels come from the model itself).
  prepare(model, x, new Int32Array(x.shape[0]), [0, 1]).labels.dispose();
  const predict = (t: tf.Tensor4D) => logitsOf(model, t);
  // The model's own clean predictions; a row of NaN logits has none.
  const predicted = tf.tidy(() => {
    const logits = predict(x);
    throwIfNonFinite(nonFiniteCodes(logits).dataSync(), 'antiPerturbationRatio', ', clean');
    return tf.cast(tf.argMax(logits, 1), 'int32') as tf.Tensor1D;
  });
  const n = x.shape[0];
  try {
    return epsilons.map((eps) => {
      let unchanged = 0;
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        const xb = tf.slice(x, start, size) as tf.Tensor4D;
        const yb = tf.slice(predicted, start, size) as tf.Tensor1D;
        try {
          const adv = pgd(model, xb, yb, { eps, steps, relStepSize, randomStart: true, seed });
          try {
            const judged = judgeRowsOf(predict, adv, yb);
            throwIfNonFinite(judged.nonFinite, 'antiPerturbationRatio', ` at eps ${eps}`);
            unchanged += judged.correct.reduce((sum, v) => sum + v, 0);
          } finally {
            adv.dispose();
          }
        } finally {
          tf.dispose([xb, yb]);
        }
      }
      return { eps, ratio: unchanged / n };
    });
  } finally {
    predicted.dispose();
  }
}
