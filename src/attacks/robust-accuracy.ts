import * as tf from '@tensorflow/tfjs-core';
import { isAdversarial, prepare, type Attack } from './attack.js';
import { logitsOf, type ModelLike } from './model.js';
import { projectToBall } from './norms.js';
import { checkNumber, type LabelsLike } from './validate.js';

/** Options of {@link robustAccuracy}. */
export interface RobustAccuracyOptions {
  /** The budget every attack gets (e.g. 8/255). */
  eps: number;
  /** Examples per batch (default 128). */
  batchSize?: number;
  /** Called after each batch with the number of examples done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Result of {@link robustAccuracy}; accuracies are fractions in [0, 1]. */
export interface RobustAccuracyResult {
  /** Number of examples. */
  n: number;
  /** Clean accuracy. */
  clean: number;
  /** Per attack (by name): 1 - mean(success) on the clipped adversarial examples, as foolbox reports it. */
  perAttack: Record<string, number>;
  /** Share of examples classified correctly clean and under every attack (the per-example worst case). */
  worstCase: number;
}

/**
 * Robust accuracy of `model` on `data` under each of `attacks` at one budget, plus the per-example
 * worst case over all of them (an example counts as robust only if it is classified correctly clean
 * and after every attack). Runs in batches; untargeted attacks only.
 *
 * @example robustAccuracy(model, { x, y }, paperAttacks({ seed: 0 }), { eps: 8 / 255 })
 */
export function robustAccuracy(
  model: ModelLike,
  data: { x: tf.Tensor4D; y: LabelsLike },
  attacks: readonly Attack[],
  options: RobustAccuracyOptions,
): RobustAccuracyResult {
  if (!Array.isArray(attacks) || attacks.length === 0) throw new RangeError('attacks: expected a non-empty array of attacks');
  const names = attacks.map((a) => a.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new RangeError(`attacks: two attacks are named '${duplicate}'; names must be unique`);
  const targeted = attacks.find((a) => a.targeted);
  if (targeted) throw new RangeError(`attacks: '${targeted.name}' is targeted; robustAccuracy takes untargeted attacks`);
  const eps = checkNumber(options?.eps, 'eps', { min: 0 });
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const p = prepare(model, data.x, data.y, attacks[0]!.bounds);
  const n = p.x.shape[0];
  const failures = new Map(names.map((name) => [name, 0]));
  let cleanCorrect = 0;
  let robustAll = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const x = tf.slice(p.x, start, size) as tf.Tensor4D;
      const y = tf.slice(p.labels, start, size) as tf.Tensor1D;
      let robust = tf.tidy(() => tf.equal(tf.argMax(logitsOf(model, x), 1), y));
      cleanCorrect += tf.tidy(() => tf.sum(tf.cast(robust, 'int32')).dataSync()[0]!);
      for (const attack of attacks) {
        const raw = attack.run(model, x, y, eps);
        const success = tf.tidy(() => {
          const clipped = tf.clipByValue(projectToBall(raw, x, eps, attack.norm), attack.bounds[0], attack.bounds[1]) as tf.Tensor4D;
          return isAdversarial(model, clipped, y);
        });
        failures.set(attack.name, failures.get(attack.name)! + tf.tidy(() => tf.sum(tf.cast(success, 'int32')).dataSync()[0]!));
        const next = tf.tidy(() => tf.logicalAnd(robust, tf.logicalNot(success)));
        tf.dispose([raw, success, robust]);
        robust = next as tf.Tensor1D;
      }
      robustAll += tf.tidy(() => tf.sum(tf.cast(robust, 'int32')).dataSync()[0]!);
      tf.dispose([x, y, robust]);
      options.onProgress?.(start + size, n);
    }
  } finally {
    p.labels.dispose();
  }
  return {
    n,
    clean: cleanCorrect / n,
    perAttack: Object.fromEntries(names.map((name) => [name, 1 - failures.get(name)! / n])),
    worstCase: robustAll / n,
  };
}
