import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';
import { whereRows } from '../src/attacks/rows.js';

/** tf.where with the 1-D condition broadcast over each row: what whereRows computed before its kernel. */
const reference = (condition: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.where(tf.reshape(tf.cast(condition, 'bool'), [a.shape[0]!, ...a.shape.slice(1).map(() => 1)]), a, b));

describe('whereRows', () => {
  it.each([
    ['bool', [5, 4, 4, 3]],
    ['float32', [5, 4, 4, 3]],
    ['int32', [5, 7]],
    ['bool', [1, 2, 2, 1]],
    ['bool', [0, 3]],
  ] as const)('picks whole rows by a %s condition, as tf.where does (shape %j), values and gradients', (dtype, shape) => {
    const n = shape[0];
    const condition = tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : i % 2 === 0 ? 1 : 2)), dtype === 'bool' ? 'bool' : dtype);
    const a = tf.randomNormal([...shape], 0, 1, 'float32', 1);
    const b = tf.randomNormal([...shape], 0, 1, 'float32', 2);
    const w = tf.randomNormal([...shape], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const ours = whereRows(condition, a, b);
    expect(tf.memory().numTensors).toBe(before + 1);
    const expected = reference(condition, a, b);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(expected.dataSync()));
    const loss = (f: typeof reference) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(condition, x, y), w));
    const [ga, gb] = tf.grads(loss(whereRows))([a, b]);
    const [ra, rb] = tf.grads(loss(reference))([a, b]);
    // The same gradients; tf.where's are dy * 0 (a negative zero under a negative dy) where ours are zeros.
    const unsigned = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => (v === 0 ? 0 : v));
    expect(unsigned(ga!)).toEqual(unsigned(ra!));
    expect(unsigned(gb!)).toEqual(unsigned(rb!));
    tf.dispose([condition, a, b, w, ours, expected, ga!, gb!, ra!, rb!]);
  });

  it('on the cpu backend copies rows in one kernel, without tiling the condition to the images\' shape', async () => {
    const a = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 1);
    const b = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 2);
    const condition = tf.tensor1d([true, false, false, true], 'bool');
    const info = await tf.profile(() => whereRows(condition, a, b));
    const kernels = info.kernels.map((k) => k.name);
    expect(kernels).toContain('RmcSelectRows');
    expect(kernels).not.toContain('Tile');
    expect(kernels).not.toContain('Select');
    tf.dispose([a, b, condition, info.result as tf.Tensor]);
  });

  it('copies the rows: the result is a new tensor, the inputs unchanged', () => {
    const a = tf.ones([2, 3]);
    const b = tf.zeros([2, 3]);
    const out = whereRows(tf.tensor1d([true, false], 'bool'), a, b);
    expect(out.arraySync()).toEqual([[1, 1, 1], [0, 0, 0]]);
    out.dispose();
    expect(a.arraySync()).toEqual([[1, 1, 1], [1, 1, 1]]);
    expect(b.arraySync()).toEqual([[0, 0, 0], [0, 0, 0]]);
    tf.dispose([a, b]);
  });
});
