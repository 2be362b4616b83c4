import * as tf from '@tensorflow/tfjs-core';
import { imagesToTensor } from '../data/cifar.js';
import { prepare, type Attack } from './attack.js';
import { checkNonFiniteMode, NonFiniteLogitsError, throwIfNonFinite, type JudgedRows, type NonFiniteMode } from './finite.js';
import { logitsOf, numClassesOf, type ModelLike } from './model.js';
import { projectToBall } from './norms.js';
import { indicesWhere, judgeRowsOf, takeRows } from './rows.js';
import { checkNumber, checkOptionKeys, optionKeys, toLabels, type LabelsLike } from './validate.js';

/**
 * Evaluation images kept as bytes, like a loaded CIFAR split (`CifarSplit`): `count` images of
 * 32x32x3 uint8 NHWC pixels in `images`, class indices in `labels`. Each batch is converted to float32
 * in [0, 1] (`byte / 255`, as `imagesToTensor`) only when it is evaluated.
 */
export interface Uint8ImageSource {
  /** NHWC pixels, 0..255, 3,072 bytes per image; at least `count * 3072` bytes (only the first `count` images are read). */
  images: Uint8Array;
  /** Class index of each of the `count` images (integers in `[0, numClasses)`). */
  labels: LabelsLike;
  /** Number of images to evaluate (an integer >= 1). */
  count: number;
}

/** What {@link robustAccuracy} evaluates on: a float tensor with labels, or a uint8 source. */
export type EvaluationData =
  | {
      /** Images, NHWC float32 within the attacks' bounds (`[0, 1]` by default); not disposed. */
      x: tf.Tensor4D;
      /** True class of each image of `x`. */
      y: LabelsLike;
    }
  | Uint8ImageSource;

const IMAGE_BYTES = 32 * 32 * 3;

/** Float batches cut from either kind of data; `labels` is owned by the source. */
function evaluationBatches(model: ModelLike, data: EvaluationData, bounds: readonly [number, number] | undefined) {
  if (data != null && typeof data === 'object' && 'images' in data) {
    const { images, count } = data;
    if (!(images instanceof Uint8Array)) throw new TypeError('data.images: expected a Uint8Array of NHWC pixels');
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`data.count = ${String(count)}: must be an integer >= 1`);
    if (images.length < count * IMAGE_BYTES) {
      throw new RangeError(`data.images: ${images.length} bytes hold fewer than data.count = ${count} images of 32x32x3 bytes`);
    }
    const slice = (start: number, size: number): tf.Tensor4D => imagesToTensor({ images, count }, start, size);
    const [low, high] = bounds ?? [0, 1];
    if (!(low <= 0 && high >= 1)) throw new RangeError(`bounds = [${low}, ${high}]: uint8 images become pixels in [0, 1], which the attacks' bounds must contain`);
    const first = slice(0, 1);
    let labels: tf.Tensor1D;
    try {
      // Validates the model, the bounds (uint8 pixels map into [0, 1]) and the labels once.
      prepare(model, first, [0], bounds, { x: 'data.images', y: 'data.labels' }).labels.dispose();
      labels = toLabels(data.labels, count, numClassesOf(model, first), 'data.labels');
    } finally {
      first.dispose();
    }
    return { n: count, labels, x: slice, dispose: () => labels.dispose() };
  }
  const p = prepare(model, data?.x, data?.y, bounds);
  return { n: p.x.shape[0], labels: p.labels, x: (start: number, size: number) => tf.slice(p.x, start, size) as tf.Tensor4D, dispose: () => p.labels.dispose() };
}

/** Options of {@link robustAccuracy}. */
export interface RobustAccuracyOptions {
  /** The budget every attack gets (e.g. 8/255). */
  eps: number;
  /** Examples per batch (default 128). */
  batchSize?: number;
  /** Called after each batch with the number of examples done and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Examples whose logits are NaN or infinite (clean, at an attack's iterate or on its examples):
   * `'error'` (default) throws a {@link NonFiniteLogitsError} naming the batch; `'count-as-wrong'`
   * counts them as misclassified (clean and under every attack when their clean logits are not
   * finite; else as fooled by that attack) and reports them in `result.nonFinite`.
   */
  nonFinite?: NonFiniteMode;
}

const ROBUST_ACCURACY_OPTION_KEYS = optionKeys<RobustAccuracyOptions>({ eps: true, batchSize: true, onProgress: true, nonFinite: true });

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
  /** Examples counted as misclassified because their logits were NaN or infinite (all 0 unless `nonFinite: 'count-as-wrong'`). */
  nonFinite: NonFiniteCounts;
}

/** {@link RobustAccuracyResult.nonFinite}: examples counted as misclassified for NaN or infinite logits. */
export interface NonFiniteCounts {
  /** Examples whose clean logits were not finite (counted wrong clean and under every attack). */
  clean: number;
  /** By attack name: examples with finite clean logits that the attack drove to non-finite ones (counted as fooled). */
  perAttack: Record<string, number>;
}

/** Where in the evaluation a batch is, for error messages. */
function batchDetail(start: number, size: number, batchSize: number): string {
  return ` in batch ${start / batchSize} (images ${start}-${start + size - 1})`;
}

/**
 * Per row of the batch `x`: 1 where `attack` succeeds against the rows `rows` (clipped to its eps-ball
 * and bounds, then judged by the model), with the non-finite codes of the model on its examples. A
 * {@link NonFiniteLogitsError} of the attack itself comes with its rows mapped to those of `x`.
 */
function attackSuccess(model: ModelLike, attack: Attack, x: tf.Tensor4D, y: tf.Tensor1D, rows: readonly number[], eps: number): { success: Uint8Array; nonFinite: Uint8Array } {
  const n = x.shape[0];
  const whole = rows.length === n;
  const xs = whole ? x : takeRows(x, rows);
  const ys = whole ? y : takeRows(y, rows);
  try {
    let raw: tf.Tensor4D;
    try {
      raw = attack.run(model, xs, ys, eps);
    } catch (e) {
      throw e instanceof NonFiniteLogitsError ? e.remap('robustAccuracy', rows, n) : e;
    }
    const clipped = tf.tidy(() => tf.clipByValue(projectToBall(raw, xs, eps, attack.norm), attack.bounds[0], attack.bounds[1]) as tf.Tensor4D);
    raw.dispose();
    let judged: JudgedRows;
    try {
      judged = judgeRowsOf((t) => logitsOf(model, t), clipped, ys);
    } finally {
      clipped.dispose();
    }
    const success = new Uint8Array(n);
    const nonFinite = new Uint8Array(n);
    rows.forEach((row, k) => {
      success[row] = judged.correct[k] ? 0 : 1;
      nonFinite[row] = judged.nonFinite[k]!;
    });
    return { success, nonFinite };
  } finally {
    if (!whole) tf.dispose([xs, ys]);
  }
}

/**
 * Robust accuracy of `model` on `data` under each of `attacks` at one budget, plus the per-example
 * worst case over all of them (an example counts as robust only if it is classified correctly clean
 * and after every attack). Runs in batches; untargeted attacks only.
 *
 * `data` is either `{ x, y }` (float32 NHWC images within the attacks' bounds) or a uint8 source such
 * as a loaded `CifarSplit` (`{ images, labels, count }`), of which only the batch being evaluated
 * exists as floats; both give identical results on the same images.
 *
 * A model whose logits are NaN or infinite (diverged weights) is never scored by `argMax`: by default
 * it throws a {@link NonFiniteLogitsError} naming the batch and the attack; with
 * `nonFinite: 'count-as-wrong'` those examples count as misclassified (see `result.nonFinite`), and an
 * attack that meets non-finite logits on some examples is run again on the others.
 *
 * @example robustAccuracy(model, { x, y }, paperAttacks({ seed: 0 }), { eps: 8 / 255 })
 * @example robustAccuracy(model, await loadCifar10(dir, { split: 'test' }), paperAttacks({ seed: 0 }), { eps: 8 / 255 })
 */
export function robustAccuracy(
  model: ModelLike,
  data: EvaluationData,
  attacks: readonly Attack[],
  options: RobustAccuracyOptions,
): RobustAccuracyResult {
  if (!Array.isArray(attacks) || attacks.length === 0) throw new RangeError('attacks: expected a non-empty array of attacks');
  const names = attacks.map((a) => a.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new RangeError(`attacks: two attacks are named '${duplicate}'; names must be unique`);
  const targeted = attacks.find((a) => a.targeted);
  if (targeted) throw new RangeError(`attacks: '${targeted.name}' is targeted; robustAccuracy takes untargeted attacks`);
  if (!options || typeof options !== 'object') throw new TypeError('robustAccuracy: options with at least { eps } are required');
  checkOptionKeys(options, ROBUST_ACCURACY_OPTION_KEYS, 'robustAccuracy');
  const eps = checkNumber(options.eps, 'eps', { min: 0 });
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const mode = checkNonFiniteMode(options.nonFinite);
  const source = evaluationBatches(model, data, attacks[0]!.bounds);
  const n = source.n;
  const failures = new Map(names.map((name) => [name, 0]));
  const nonFinite: NonFiniteCounts = { clean: 0, perAttack: Object.fromEntries(names.map((name) => [name, 0])) };
  const predict = (t: tf.Tensor4D) => logitsOf(model, t);
  let cleanCorrect = 0;
  let robustAll = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const detail = batchDetail(start, size, batchSize);
      const x = source.x(start, size);
      const y = tf.slice(source.labels, start, size) as tf.Tensor1D;
      try {
        const clean = judgeRowsOf(predict, x, y);
        if (mode === 'error') throwIfNonFinite(clean.nonFinite, 'robustAccuracy', `${detail}, clean`);
        const robust = Uint8Array.from(clean.correct);
        const finiteRows = indicesWhere(clean.nonFinite.map((c) => (c ? 0 : 1)));
        cleanCorrect += sum(clean.correct);
        nonFinite.clean += size - finiteRows.length;
        for (const attack of attacks) {
          // Rows with non-finite clean logits are wrong under every attack; the attack runs on the others,
          // and again on the rest when it meets non-finite logits on some ('count-as-wrong').
          const success = Uint8Array.from(clean.nonFinite, (c) => (c ? 1 : 0));
          let pending = finiteRows;
          while (pending.length > 0) {
            let result: { success: Uint8Array; nonFinite: Uint8Array };
            try {
              result = attackSuccess(model, attack, x, y, pending, eps);
            } catch (e) {
              if (!(e instanceof NonFiniteLogitsError)) throw e;
              const flagged = pending.filter((row) => e.rows[row]);
              if (mode === 'error' || flagged.length === 0) throw e.restate('robustAccuracy', `${detail} under ${attack.name}`);
              flagged.forEach((row) => (success[row] = 1));
              nonFinite.perAttack[attack.name]! += flagged.length;
              pending = pending.filter((row) => !e.rows[row]);
              continue;
            }
            if (mode === 'error') throwIfNonFinite(result.nonFinite, 'robustAccuracy', `${detail} under ${attack.name}`);
            for (const row of pending) {
              success[row] = result.success[row]! || result.nonFinite[row] ? 1 : 0;
              if (result.nonFinite[row]) nonFinite.perAttack[attack.name]! += 1;
            }
            pending = [];
          }
          failures.set(attack.name, failures.get(attack.name)! + sum(success));
          success.forEach((s, row) => {
            if (s) robust[row] = 0;
          });
        }
        robustAll += sum(robust);
      } finally {
        tf.dispose([x, y]);
      }
      options.onProgress?.(start + size, n);
    }
  } finally {
    source.dispose();
  }
  return {
    n,
    clean: cleanCorrect / n,
    perAttack: Object.fromEntries(names.map((name) => [name, 1 - failures.get(name)! / n])),
    worstCase: robustAll / n,
    nonFinite,
  };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}
