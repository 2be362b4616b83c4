import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';
import { apgdL2Iterate } from '../src/attacks/apgd-l2-step.js';
import { l2Norms } from '../src/attacks/norms.js';

/** APGD's L2 iterate as tfjs ops (apgd.ts's path on other backends). */
function composite(x: tf.Tensor, xPrev: tf.Tensor, grad: tf.Tensor, x0: tf.Tensor, step: tf.Tensor, eps: number, momentum: number, [lo, hi]: [number, number]) {
  return tf.tidy(() => {
    const project = (v: tf.Tensor) => {
      const delta = tf.sub(v, x0);
      const length = l2Norms(delta);
      return tf.clipByValue(tf.add(x0, tf.mul(tf.div(delta, tf.add(length, 1e-12)), tf.minimum(length, eps))), lo, hi);
    };
    const direction = tf.div(grad, tf.add(l2Norms(grad), 1e-12));
    const x1 = project(tf.add(x, tf.mul(step, direction)));
    return project(tf.add(x, tf.add(tf.mul(tf.sub(x1, x), momentum), tf.mul(tf.sub(x, xPrev), 1 - momentum))));
  });
}

describe("APGD's L2 iterate on typed arrays", () => {
  it.each([
    [0.5, 0.75, [0, 1], true],
    [0.5, 1, [0, 1], true],
    [3, 0.75, [0, 1], true], // a radius larger than most perturbations: the ball binds on few rows
    [0.05, 0.75, [-0.2, 1.3], false], // bounds that never bind
  ] as const)('equals the tfjs ops bit for bit (eps %s, momentum %s, bounds %j)', (eps, momentum, bounds, clipped) => {
    const shape = [7, 5, 6, 3];
    const x0 = tf.randomUniform(shape, 0, 1, 'float32', 1);
    const x = tf.tidy(() => tf.clipByValue(tf.add(x0, tf.randomNormal(shape, 0, 0.1, 'float32', 2)), 0, 1));
    const xPrev = tf.tidy(() => tf.clipByValue(tf.add(x0, tf.randomNormal(shape, 0, 0.1, 'float32', 3)), 0, 1));
    // One row without a gradient (its direction is 0 / 1e-12).
    const grad = tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 4), tf.tensor([1, 1, 0, 1, 1, 1, 1], [7, 1, 1, 1])));
    const step = tf.tensor([2 * eps, eps, eps / 2, 2 * eps, 0.001, 4 * eps, eps], [7, 1, 1, 1]);
    const expected = composite(x, xPrev, grad, x0, step, eps, momentum, [...bounds]);
    const values = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const ours = apgdL2Iterate({ x: values(x), xPrev: values(xPrev), grad: values(grad), origin: values(x0), step: values(step) }, 7, eps, momentum, bounds);
    expect(Array.from(ours)).toEqual(Array.from(expected.dataSync()));
    // Not a vacuous comparison: the iterate moved, and the bounds clipped some values.
    expect(Array.from(ours).some((v, i) => v !== values(x)[i])).toBe(true);
    expect(Array.from(ours).some((v) => v === bounds[0] || v === bounds[1])).toBe(clipped);
    tf.dispose([x0, x, xPrev, grad, step, expected]);
  });
});
