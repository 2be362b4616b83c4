import * as tf from '@tensorflow/tfjs-core';
import { isAdversarial, prepare, type Attack } from './attack.js';
import { NonFiniteLogitsError } from './finite.js';
import type { ModelLike } from './model.js';
import { projectToBall } from './norms.js';
import { checkNumber, type LabelsLike } from './validate.js';

/** One budget's outcome in {@link attackSweep}, as foolbox returns it. */
export interface SweepResult {
  /** The budget of this result, in the attack's norm and in pixel units (e.g. `8 / 255` for Linf on [0, 1] images). */
  eps: number;
  /** The attack's output; for minimization attacks (DeepFool) it may lie outside the eps-ball. */
  raw: tf.Tensor4D;
  /** `raw` projected to the eps-ball and the bounds: what counts. */
  clipped: tf.Tensor4D;
  /** Per example: `clipped` is misclassified (untargeted) or classified as the target (targeted). */
  success: tf.Tensor1D;
}

/**
 * Runs `attack` for several budgets at once, foolbox-style: a fixed-epsilon attack (FGSM, PGD) runs
 * once per epsilon; a minimization attack (DeepFool) runs once and its result is clipped to each
 * epsilon's ball. Returns one {@link SweepResult} per epsilon, in order; the caller owns (and disposes)
 * every tensor in them. Non-finite logits (of the attack's iterates or of the clipped examples) throw a
 * {@link NonFiniteLogitsError}.
 *
 * @example
 * const results = attackSweep(model, pgdAttack({ steps: 20, relStepSize: 0.25 }), x, y, [2 / 255, 8 / 255]);
 * const robustAccuracy = results.map((r) => 1 - tf.mean(tf.cast(r.success, 'float32')).dataSync()[0]);
 */
export function attackSweep(model: ModelLike, attack: Attack, x: tf.Tensor4D, y: LabelsLike, epsilons: readonly number[]): SweepResult[] {
  if (!Array.isArray(epsilons) || epsilons.length === 0) throw new RangeError('epsilons: expected a non-empty array of budgets >= 0');
  epsilons.forEach((e, i) => checkNumber(e, `epsilons[${i}]`, { min: 0 }));
  const p = prepare(model, x, y, attack.bounds);
  const [lo, hi] = p.bounds;
  const results: SweepResult[] = [];
  let shared: tf.Tensor4D | undefined;
  try {
    shared = attack.kind === 'minimization' ? attack.run(model, x, p.labels, 0) : undefined;
    for (const eps of epsilons) {
      const raw = shared ? tf.clone(shared) : attack.run(model, x, p.labels, eps);
      const clipped = tf.tidy(() => tf.clipByValue(projectToBall(raw, x, eps, attack.norm), lo, hi) as tf.Tensor4D);
      let success: tf.Tensor1D;
      try {
        success = isAdversarial(model, clipped, p.labels, attack.targeted);
      } catch (e) {
        tf.dispose([raw, clipped]);
        throw e instanceof NonFiniteLogitsError ? e.restate('attackSweep', ` under ${attack.name} at eps ${eps}`) : e;
      }
      results.push({ eps, raw, clipped, success });
    }
  } catch (e) {
    results.forEach((r) => tf.dispose([r.raw, r.clipped, r.success]));
    throw e;
  } finally {
    shared?.dispose();
    p.labels.dispose();
  }
  return results;
}
