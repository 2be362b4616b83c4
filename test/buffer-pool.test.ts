// The recycling of kernel output buffers on the cpu backend (src/backend/alloc.ts): buffers of disposed
// tensors serve later allocations, but never one whose values were read out or that another tensor shares.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { backendInfo, bufferPoolInfo, disableFastKernels, enableFastKernels, pgd, resnet18, setBufferPoolCapacity, TorchSGD, tradesLoss } from '../src/index.js';

const SIZE = [64, 64]; // 4096 elements: the smallest output the pool handles
const defaultCapacity = bufferPoolInfo().capacityBytes;
const ramp = (offset: number) => tf.tensor2d(Float32Array.from({ length: 4096 }, (_, i) => ((i * 37 + offset) % 101) - 50), SIZE as [number, number]);
const reluOf = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => Math.max(0, v));

afterEach(() => {
  setBufferPoolCapacity(defaultCapacity);
});

describe('buffer pool', () => {
  it('is on by default (1 GiB) and reported by backendInfo', () => {
    expect(defaultCapacity).toBe(2 ** 30);
    expect(backendInfo().bufferPool.capacityBytes).toBe(2 ** 30);
  });

  it('serves the next allocation of a disposed output\'s size from its buffer, with the new values', () => {
    const x1 = ramp(1);
    const x2 = ramp(2);
    const before = tf.memory().numTensors;
    tf.relu(x1).dispose();
    const { reused } = bufferPoolInfo();
    const y = tf.relu(x2);
    expect(bufferPoolInfo().reused).toBe(reused + 1);
    expect(Array.from(y.dataSync())).toEqual(reluOf(x2));
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x1, x2]);
  });

  it('never recycles values that were read out (dataSync, data)', async () => {
    const x1 = ramp(1);
    const x2 = ramp(2);
    const a = tf.relu(x1);
    const b = tf.relu(x1);
    const syncView = a.dataSync();
    const asyncView = await b.data();
    const expected = reluOf(x1);
    tf.dispose([a, b]);
    const later = Array.from({ length: 4 }, () => tf.relu(x2));
    expect(Array.from(syncView)).toEqual(expected);
    expect(Array.from(asyncView)).toEqual(expected);
    tf.dispose([...later, x1, x2]);
  });

  it('clamps, where, gather and tile read their inputs in place and take their outputs from the pool', () => {
    const x1 = ramp(1);
    const x2 = ramp(2);
    const condition = tf.greater(x2, 0);
    const index = tf.tensor1d([3, 1], 'int32');
    setBufferPoolCapacity(0); // empty: whatever is reused below was freed below
    setBufferPoolCapacity(defaultCapacity);
    const a = tf.relu(x1);
    const run = () => [tf.maximum(a, x2), tf.minimum(a, 0.5), tf.clipByValue(a, 0, 1), tf.where(condition, a, x2), tf.tile(a, [2, 1]), tf.gather(a, index)];
    const first = run();
    a.dispose();
    const { reused } = bufferPoolInfo();
    const b = tf.relu(x2);
    expect(bufferPoolInfo().reused).toBe(reused + 1); // a's buffer, though the kernels read it
    tf.dispose([...first, b]);
    const c = tf.relu(x2);
    const again = tf.tidy(() => [tf.maximum(c, x2), tf.minimum(c, 0.5), tf.clipByValue(c, 0, 1), tf.where(condition, c, x2), tf.tile(c, [2, 1])]);
    // c and the five large outputs, in the buffers of b and of the first outputs (the gather's 128
    // elements are below the pool's size).
    expect(bufferPoolInfo().reused).toBe(reused + 1 + 6);
    tf.dispose([...again, c, x1, x2, condition, index]);
  });

  it('never recycles a buffer another tensor shares (a contiguous slice is a view of its input)', () => {
    const x1 = ramp(1);
    const x2 = ramp(2);
    const a = tf.relu(x1);
    const top = tf.slice(a, [0, 0], [32, 64]);
    const expected = reluOf(x1).slice(0, 32 * 64);
    a.dispose();
    const later = Array.from({ length: 4 }, () => tf.relu(x2));
    expect(Array.from(top.dataSync())).toEqual(expected);
    tf.dispose([...later, top, x1, x2]);
  });

  it('recycled filter buffers give the right convolutions (the reorder cache is keyed by array object)', () => {
    const x = tf.randomUniform([2, 6, 6, 32], -1, 1, 'float32', 3) as tf.Tensor4D;
    const filter = (seed: number) => tf.tidy(() => tf.relu(tf.randomUniform([3, 3, 32, 32], -1, 1, 'float32', seed)));
    const w1 = filter(4);
    tf.dispose([tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'), tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same')]);
    w1.dispose();
    const { reused } = bufferPoolInfo();
    const w2 = filter(5);
    expect(bufferPoolInfo().reused).toBeGreaterThan(reused);
    const first = tf.conv2d(x, w2 as tf.Tensor4D, 1, 'same');
    const second = tf.conv2d(x, w2 as tf.Tensor4D, 1, 'same');
    disableFastKernels();
    const reference = tf.conv2d(x, tf.clone(w2) as tf.Tensor4D, 1, 'same');
    enableFastKernels();
    for (const y of [first, second]) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(y, reference))).dataSync()[0]!);
      expect(diff).toBeLessThan(1e-4);
    }
    tf.dispose([x, w2, first, second, reference]);
  });

  it('holds at most its capacity, and capacity 0 turns recycling off', () => {
    const x = ramp(1);
    const before = tf.memory().numTensors;
    setBufferPoolCapacity(40000); // room for two 16 KiB buffers
    tf.dispose(Array.from({ length: 5 }, () => tf.relu(x)));
    expect(bufferPoolInfo().pooledBytes).toBe(2 * 16384);
    expect(setBufferPoolCapacity(0)).toBe(40000);
    expect(bufferPoolInfo().pooledBytes).toBe(0);
    const { reused } = bufferPoolInfo();
    tf.relu(x).dispose();
    tf.relu(x).dispose();
    expect(bufferPoolInfo()).toMatchObject({ reused, pooledBytes: 0 });
    expect(() => setBufferPoolCapacity(-1)).toThrow(/bytes = -1: must be >= 0/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('TRADES training steps and a PGD attack give the same numbers with recycling off and with a warm pool', () => {
    // A buffer handed out while still in use would change these numbers far beyond float rounding
    // (the addon's threaded reductions may order their partial sums differently from run to run).
    const x = tf.randomUniform([4, 16, 16, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const run = () => {
      const model = resnet18({ width: 0.125, inputShape: [16, 16, 3], seed: 7 });
      const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const optimizer = new TorchSGD(weights, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
      const losses: number[] = [];
      for (let step = 0; step < 2; step++) {
        tf.tidy(() => {
          const adversarial = pgd(model, x, y, { eps: 8 / 255, steps: 2, randomStart: false });
          const { value, grads } = tf.variableGrads(() => {
            const natural = model.apply(x, { training: true }) as tf.Tensor2D;
            return tradesLoss(natural, model.apply(adversarial, { training: true }) as tf.Tensor2D, y as tf.Tensor1D);
          }, weights);
          optimizer.step(weights.map((w) => grads[w.name]));
          losses.push(value.dataSync()[0]!);
        });
      }
      const attacked = tf.tidy(() => Array.from(pgd(model, x, y, { eps: 8 / 255, steps: 3, randomStart: false }).dataSync()));
      const flat = model.getWeights().flatMap((w) => Array.from(w.dataSync()));
      optimizer.dispose();
      model.dispose();
      return { losses, attacked, flat };
    };
    setBufferPoolCapacity(0);
    const plain = run();
    setBufferPoolCapacity(defaultCapacity);
    run();
    const { reused } = bufferPoolInfo();
    const pooled = run();
    expect(bufferPoolInfo().reused - reused).toBeGreaterThan(100);
    pooled.losses.forEach((loss, i) => expect(loss).toBeCloseTo(plain.losses[i]!, 4));
    const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(maxDiff(pooled.attacked, plain.attacked)).toBeLessThan(1e-5);
    expect(maxDiff(pooled.flat, plain.flat)).toBeLessThan(1e-4);
    tf.dispose([x, y]);
  });
});
