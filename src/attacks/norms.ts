/** The threat models: Linf and L2 balls around the clean images. */
import * as tf from '@tensorflow/tfjs-core';
import { seededRandomNormal } from '../data/random.js';

/** The perturbation norm of an attack. */
export type Norm = 'linf' | 'l2';

export function checkNorm(norm: unknown): Norm {
  if (norm === undefined || norm === 'linf') return 'linf';
  if (norm === 'l2') return 'l2';
  throw new RangeError(`norm = ${JSON.stringify(norm)}: accepted values are 'linf' and 'l2'`);
}

/** Per-example L2 norms of a `[N, ...]` tensor, shaped `[N, 1, 1, 1]` for broadcasting. */
export function l2Norms(t: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
}

/** Per-example norms `[N]` of a perturbation. */
export function perturbationNorms(delta: tf.Tensor, norm: Norm): tf.Tensor1D {
  return tf.tidy(() =>
    (norm === 'linf' ? tf.max(tf.abs(delta), [1, 2, 3]) : tf.reshape(l2Norms(delta), [-1])) as tf.Tensor1D,
  );
}

/** The steepest-ascent direction of a gradient under the norm (foolbox: sign, or g / max(||g||_2, 1e-12)). */
export function normalizeGradient(g: tf.Tensor, norm: Norm): tf.Tensor {
  return norm === 'linf' ? tf.sign(g) : tf.div(g, tf.maximum(l2Norms(g), 1e-12));
}

/** Projection of `x` onto the eps-ball around `x0` (foolbox's `project`/`clip_perturbation`). */
export function projectToBall(x: tf.Tensor, x0: tf.Tensor, eps: number, norm: Norm): tf.Tensor {
  const delta = tf.sub(x, x0);
  if (norm === 'linf') return tf.add(x0, tf.clipByValue(delta, -eps, eps));
  const factor = tf.minimum(1, tf.div(eps, tf.maximum(l2Norms(delta), 1e-12)));
  return tf.add(x0, tf.mul(delta, factor));
}

/**
 * A uniform random point of the eps-ball around `x0` (not yet clipped to the bounds): Linf,
 * `x0 + U(-eps, eps)`; L2, uniform in the ball by Voelker et al.'s method (as foolbox).
 */
export function randomInBall(x0: tf.Tensor4D, eps: number, norm: Norm, seed?: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.add(x0, tf.randomUniform(x0.shape, -eps, eps, 'float32', seed));
    const [n] = x0.shape;
    const d = x0.size / n;
    const gauss = seededRandomNormal([n, d + 2], 0, 1, seed);
    const onSphere = tf.div(gauss, tf.norm(gauss, 'euclidean', 1, true));
    return tf.add(x0, tf.mul(tf.reshape(tf.slice(onSphere, [0, 0], [n, d]), x0.shape), eps));
  }) as tf.Tensor4D;
}
