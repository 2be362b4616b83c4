import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { crossEntropy, cwLoss, dlrLoss } from '../src/index.js';

const logits = tf.tensor2d([
  [2, 1, 0, -1],
  [0.5, 3, 0, 1],
]);
const labels = tf.tensor1d([0, 2], 'int32');

describe('attack losses equal hand computations', () => {
  it('crossEntropy = log(sum exp z) - z_y', () => {
    const lse0 = Math.log(Math.exp(2) + Math.exp(1) + Math.exp(0) + Math.exp(-1)); // 2.44019
    const lse1 = Math.log(Math.exp(0.5) + Math.exp(3) + Math.exp(0) + Math.exp(1));
    const values = crossEntropy(logits, labels).dataSync();
    expect(values[0]).toBeCloseTo(lse0 - 2, 5);
    expect(values[1]).toBeCloseTo(lse1 - 0, 5);
  });

  it('cwLoss = max_{j != y} z_j - z_y', () => {
    expect(Array.from(cwLoss(logits, labels).dataSync())).toEqual([1 - 2, 3 - 0]);
  });

  it('dlrLoss = -(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3)', () => {
    // Row 0: sorted 2, 1, 0: -(2 - 1) / (2 - 0) = -0.5. Row 1: sorted 3, 1, 0.5: -(0 - 3) / (3 - 0.5) = 1.2.
    const values = dlrLoss(logits, labels).dataSync();
    expect(values[0]).toBeCloseTo(-0.5, 6);
    expect(values[1]).toBeCloseTo(1.2, 6);
  });

  it('gradients: CE gives softmax - onehot; CW gives +1 at the runner-up, -1 at the label', () => {
    const ce = tf.grad((z: tf.Tensor) => tf.sum(crossEntropy(z as tf.Tensor2D, labels)))(logits).arraySync() as number[][];
    const softmax = tf.softmax(logits).arraySync() as number[][];
    expect(ce[0]![0]).toBeCloseTo(softmax[0]![0]! - 1, 6);
    expect(ce[1]![3]).toBeCloseTo(softmax[1]![3]!, 6);
    const cw = tf.grad((z: tf.Tensor) => tf.sum(cwLoss(z as tf.Tensor2D, labels)))(logits).arraySync();
    expect(cw).toEqual([
      [-1, 1, 0, 0],
      [0, 1, -1, 0],
    ]);
    // DLR row 1 = (z1 - z2) / (z1 - z0) (pi = 1, 3, 0; label 2), D = 2.5: d/dz1 = (z2 - z0) / D^2 = -0.08,
    // d/dz2 = -1 / D = -0.4, d/dz0 = (z1 - z2) / D^2 = 3 / 6.25 = 0.48, d/dz3 = 0.
    const dlr = tf.grad((z: tf.Tensor) => tf.sum(dlrLoss(z as tf.Tensor2D, labels)))(logits).arraySync() as number[][];
    expect(dlr[1]![1]).toBeCloseTo(-0.08, 5);
    expect(dlr[1]![2]).toBeCloseTo(-0.4, 5);
    expect(dlr[1]![0]).toBeCloseTo(0.48, 5);
    expect(dlr[1]![3]).toBeCloseTo(0, 5);
  });

  it('dlrLoss needs three classes', () => {
    expect(() => dlrLoss(tf.zeros([1, 2]) as tf.Tensor2D, tf.tensor1d([0], 'int32'))).toThrow(/at least 3 classes, got 2/);
  });
});
