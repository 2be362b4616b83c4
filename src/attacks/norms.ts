/** The threat models: Linf, L2 and L1 balls around the clean images. */
import * as tf from '@tensorflow/tfjs-core';
import { seededRandomNormal } from '../data/random.js';
import { l1ProjectionCorrection } from './l1-projection.js';

/**
 * The perturbation norm of an attack: `'linf'` (the largest pixel change), `'l2'` (Euclidean) or
 * `'l1'` (the sum of absolute pixel changes; APGD, APGD-T, FAB, FAB-T, Square and AutoAttack only).
 */
export type Norm = 'linf' | 'l2' | 'l1';

/** The norms of the attacks that have no L1 version (PGD, FGSM, DeepFool). */
export type LinfOrL2 = Exclude<Norm, 'l1'>;

/** The attacks that take `norm: 'l1'`, named in the error of those that do not. */
const L1_ATTACKS = 'apgd, apgdTargeted, fab, fabTargeted, square and autoAttack';

/** `norm` of an attack without an L1 version: `'linf'` (default) or `'l2'`. */
export function checkNorm(norm: unknown): LinfOrL2 {
  if (norm === undefined || norm === 'linf') return 'linf';
  if (norm === 'l2') return 'l2';
  const hint = norm === 'l1' ? ` (norm 'l1' is for ${L1_ATTACKS})` : '';
  throw new RangeError(`norm = ${JSON.stringify(norm)}: accepted values are 'linf' and 'l2'${hint}`);
}

/** `norm` of an attack with an L1 version: `'linf'` (default), `'l2'` or `'l1'`. */
export function checkNormWithL1(norm: unknown): Norm {
  if (norm === undefined || norm === 'linf') return 'linf';
  if (norm === 'l2' || norm === 'l1') return norm;
  throw new RangeError(`norm = ${JSON.stringify(norm)}: accepted values are 'linf', 'l2' and 'l1'`);
}

/** Per-example L2 norms of a `[N, ...]` tensor, shaped `[N, 1, 1, 1]` for broadcasting. */
export function l2Norms(t: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
}

/** Per-example L1 norms of a `[N, ...]` tensor, shaped `[N, 1, 1, 1]` for broadcasting. */
export function l1Norms(t: tf.Tensor): tf.Tensor {
  return tf.sum(tf.abs(t), [1, 2, 3], true);
}

/** Per-example norms `[N]` of a perturbation (Linf: max |d|; L2: sqrt(sum d^2); L1: sum |d|). */
export function perturbationNorms(delta: tf.Tensor, norm: Norm): tf.Tensor1D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.max(tf.abs(delta), [1, 2, 3]) as tf.Tensor1D;
    return tf.reshape(norm === 'l2' ? l2Norms(delta) : l1Norms(delta), [-1]) as tf.Tensor1D;
  });
}

/** The steepest-ascent direction of a gradient under the norm (foolbox: sign, or g / max(||g||_2, 1e-12)). */
export function normalizeGradient(g: tf.Tensor, norm: LinfOrL2): tf.Tensor {
  return norm === 'linf' ? tf.sign(g) : tf.div(g, tf.maximum(l2Norms(g), 1e-12));
}

/**
 * Projection of `x` onto the eps-ball around `x0` (foolbox's `project`/`clip_perturbation`; L1: the
 * Euclidean projection onto the L1 ball, by soft thresholding). Callers clip to the bounds afterwards,
 * which keeps the point in the ball (the box contains `x0`).
 */
export function projectToBall(x: tf.Tensor, x0: tf.Tensor, eps: number, norm: Norm): tf.Tensor {
  const delta = tf.sub(x, x0);
  if (norm === 'linf') return tf.add(x0, tf.clipByValue(delta, -eps, eps));
  if (norm === 'l1') {
    const flat = delta.dataSync() as Float32Array;
    const correction = l1ProjectionCorrection(flat, new Float32Array(flat.length), x.shape[0]!, eps, -Infinity, Infinity);
    return tf.add(x0, tf.add(delta, tf.tensor(correction, x.shape, 'float32')));
  }
  const factor = tf.minimum(1, tf.div(eps, tf.maximum(l2Norms(delta), 1e-12)));
  return tf.add(x0, tf.mul(delta, factor));
}

/**
 * A uniform random point of the eps-ball around `x0` (not yet clipped to the bounds): Linf,
 * `x0 + U(-eps, eps)`; L2, uniform in the ball by Voelker et al.'s method (as foolbox).
 */
export function randomInBall(x0: tf.Tensor4D, eps: number, norm: LinfOrL2, seed?: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.add(x0, tf.randomUniform(x0.shape, -eps, eps, 'float32', seed));
    const [n] = x0.shape;
    const d = x0.size / n;
    const gauss = seededRandomNormal([n, d + 2], 0, 1, seed);
    const onSphere = tf.div(gauss, tf.norm(gauss, 'euclidean', 1, true));
    return tf.add(x0, tf.mul(tf.reshape(tf.slice(onSphere, [0, 0], [n, d]), x0.shape), eps));
  }) as tf.Tensor4D;
}
