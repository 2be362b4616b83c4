import * as tf from '@tensorflow/tfjs-core';
import { imagesToTensor } from '../data/cifar.js';
import { isAdversarial, prepare, type Attack } from './attack.js';
import { logitsOf, numClassesOf, type ModelLike } from './model.js';
import { projectToBall } from './norms.js';
import { checkNumber, toLabels, type LabelsLike } from './validate.js';

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
      prepare(model, first, [0], bounds).labels.dispose();
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
 * `data` is either `{ x, y }` (float32 NHWC images within the attacks' bounds) or a uint8 source such
 * as a loaded `CifarSplit` (`{ images, labels, count }`), of which only the batch being evaluated
 * exists as floats; both give identical results on the same images.
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
  const eps = checkNumber(options?.eps, 'eps', { min: 0 });
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const source = evaluationBatches(model, data, attacks[0]!.bounds);
  const n = source.n;
  const failures = new Map(names.map((name) => [name, 0]));
  let cleanCorrect = 0;
  let robustAll = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const x = source.x(start, size);
      const y = tf.slice(source.labels, start, size) as tf.Tensor1D;
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
    source.dispose();
  }
  return {
    n,
    clean: cleanCorrect / n,
    perAttack: Object.fromEntries(names.map((name) => [name, 1 - failures.get(name)! / n])),
    worstCase: robustAll / n,
  };
}
