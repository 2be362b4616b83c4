import * as tf from '@tensorflow/tfjs-core';

/**
 * A linear classifier `logits = flatten(x) W + b` as an attack model function, with weights drawn
 * from a seed; `weights` is `[d, classes]` (row-major) for closed-form expectations.
 */
export function linearModel(shape: [number, number, number], classes: number, seed: number, scale = 1) {
  const d = shape[0] * shape[1] * shape[2];
  const w = tf.tidy(() => tf.mul(tf.randomNormal([d, classes], 0, 1, 'float32', seed), scale)) as tf.Tensor2D;
  const b = tf.tidy(() => tf.mul(tf.randomNormal([classes], 0, 1, 'float32', seed + 1), scale)) as tf.Tensor1D;
  const model = (x: tf.Tensor4D) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], d]), w), b) as tf.Tensor2D;
  return { model, weights: w.dataSync() as Float32Array, bias: b.dataSync() as Float32Array, d, dispose: () => tf.dispose([w, b]) };
}

/**
 * The closed-form smallest L1 perturbation of `x` (pixels in [0, 1]) that lowers a linear margin
 * `margin > 0` to 0 when the margin changes by `dw . delta`: the coordinates of largest `|dw_j|` moved
 * to the box one after the other, the last one only as far as needed (a fractional knapsack); Infinity
 * when even the box corner keeps the margin positive.
 */
export function l1DistanceInBox(margin: number, dw: ArrayLike<number>, x: ArrayLike<number>): number {
  const moves = Array.from({ length: dw.length }, (_, j) => ({ weight: Math.abs(dw[j]!), room: dw[j]! > 0 ? x[j]! : 1 - x[j]! })).sort((a, b) => b.weight - a.weight);
  let cost = 0;
  for (const { weight, room } of moves) {
    if (weight * room >= margin) return cost + margin / weight;
    cost += room;
    margin -= weight * room;
  }
  return Infinity;
}
