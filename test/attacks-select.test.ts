// The per-iteration selections of the attack loops: the CPU backend's typed-array paths give exactly
// what the tfjs ops give (where with a per-row condition, minimum/maximum, gather + where), on random
// data with NaN, -0 and infinities, and leave no tensor behind.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { clampBetween, replaceRowsOnCpu, whereRows } from '../src/attacks/select.js';

const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

describe('row selections and clamps on the CPU backend', () => {
  const a = tf.tensor4d([...Array.from({ length: 45 }, (_, i) => Math.sin(i) * 3), NaN, -0, Infinity], [4, 2, 2, 3]);
  const b = tf.tensor4d([...Array.from({ length: 45 }, (_, i) => Math.cos(i) * 2), -Infinity, 0, 1], [4, 2, 2, 3]);

  it('runs on the CPU backend', () => {
    expect(tf.getBackend()).toBe('cpu');
  });

  it('whereRows equals tf.where with the condition broadcast over each row', () => {
    for (const mask of [[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]]) {
      const condition = tf.tensor1d(mask, 'bool');
      const before = tf.memory().numTensors;
      const ours = whereRows(condition, a, b);
      expect(tf.memory().numTensors).toBe(before + 1);
      const theirs = tf.tidy(() => tf.where(tf.broadcastTo(tf.reshape(condition, [4, 1, 1, 1]), a.shape), a, b));
      expect(bits(ours)).toEqual(bits(theirs));
      tf.dispose([condition, ours, theirs]);
    }
  });

  it('clampBetween equals tf.minimum(tf.maximum(v, lower), upper)', () => {
    const lower = tf.sub(b, 0.5);
    const upper = tf.add(b, 0.5);
    const before = tf.memory().numTensors;
    const ours = clampBetween(a, lower, upper);
    expect(tf.memory().numTensors).toBe(before + 1);
    const theirs = tf.minimum(tf.maximum(a, lower), upper);
    expect(bits(ours)).toEqual(bits(theirs));
    tf.dispose([lower, upper, ours, theirs]);
  });

  it('replaceRowsOnCpu equals gathering the rows and selecting them (the other backends\' path)', () => {
    const values = tf.slice(b, [0, 0, 0, 0], [2, 2, 2, 3]);
    const ours = replaceRowsOnCpu(a, [3, 1], values, [1, 0])!;
    const theirs = tf.tidy(() => {
      const taken = tf.gather(values, tf.tensor1d([0, 0, 0, 0], 'int32')); // row 3 <- values row 0
      return tf.where(tf.broadcastTo(tf.reshape(tf.tensor1d([0, 0, 0, 1], 'bool'), [4, 1, 1, 1]), a.shape), taken, a);
    });
    expect(bits(ours)).toEqual(bits(theirs));
    expect(bits(a).slice(36)).not.toEqual(bits(ours).slice(36)); // row 3 changed; a itself untouched
    tf.dispose([values, ours, theirs]);
  });
});
