// Training adversaries (TRADES KL attack, FAT friendly PGD) and the augmentation.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { augmentBatch, deriveSeed, friendlyAdversary, permutation, perturbationNorms, tradesAdversary } from '../src/index.js';
import { linearModel } from './helpers/linear.js';

const lin = linearModel([4, 4, 3], 10, 31, 0.5);
afterAll(() => lin.dispose());
const x = tf.randomUniform([6, 4, 4, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
const y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');

describe('tradesAdversary', () => {
  it('seed 0 is a seed like any other (tfjs-core draws normal noise unseeded for seed 0)', () => {
    const a = tradesAdversary(lin.model, x, { eps: 0.03, steps: 1, stepSize: 1e-6, seed: 0 });
    const b = tradesAdversary(lin.model, x, { eps: 0.03, steps: 1, stepSize: 1e-6, seed: 0 });
    const c = tradesAdversary(lin.model, x, { eps: 0.03, steps: 1, stepSize: 1e-6, seed: 1 });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    tf.dispose([a, b, c]);
  });

  it('stays in the eps-ball and [0, 1], raises the KL to the clean prediction, is seeded and leak-free', () => {
    const before = tf.memory().numTensors;
    const a = tradesAdversary(lin.model, x, { eps: 0.03, steps: 5, stepSize: 0.007, seed: 1 });
    const b = tradesAdversary(lin.model, x, { eps: 0.03, steps: 5, stepSize: 0.007, seed: 1 });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    for (const v of perturbationNorms(tf.sub(a, x), 'linf').dataSync()) expect(v).toBeLessThanOrEqual(0.03 + 1e-6);
    expect(tf.min(a).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(a).dataSync()[0]).toBeLessThanOrEqual(1);
    const kl = (adv: tf.Tensor4D) =>
      tf.tidy(() => {
        const p = tf.softmax(lin.model(x));
        return tf.sum(tf.mul(p, tf.sub(tf.log(p), tf.logSoftmax(lin.model(adv))))).dataSync()[0]!;
      });
    expect(kl(a)).toBeGreaterThan(10 * kl(tf.add(x, tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', 1), 0.001)) as tf.Tensor4D));
    tf.dispose([a, b]);
  });
});

describe('friendlyAdversary (FAT)', () => {
  it('tau = 0 stops each example at its first misclassification; a large tau keeps iterating', () => {
    // On a linear model the misclassified examples under tau = 0 stop moving once fooled: their
    // perturbation is smaller than the tau = large run's, which keeps going to the eps-ball's vertex.
    const eager = friendlyAdversary(lin.model, x, y, { eps: 0.3, steps: 20, stepSize: 0.02, tau: 0, seed: 4 });
    const full = friendlyAdversary(lin.model, x, y, { eps: 0.3, steps: 20, stepSize: 0.02, tau: 20, seed: 4 });
    // L2 sizes: the uniform random start already has an Linf size near eps.
    const sizes = (t: tf.Tensor4D) => Array.from(perturbationNorms(tf.sub(t, x), 'l2').dataSync());
    const eagerSizes = sizes(eager);
    const fullSizes = sizes(full);
    
    expect(eagerSizes.some((s, i) => s < fullSizes[i]! - 0.2)).toBe(true);
    // Early-stopped examples are misclassified (that is why they stopped).
    const predicted = tf.argMax(lin.model(eager), 1).dataSync();
    eagerSizes.forEach((s, i) => {
      if (s < fullSizes[i]! - 0.2) expect(predicted[i]).not.toBe(i);
    });
    for (const v of perturbationNorms(tf.sub(full, x), 'linf').dataSync()) expect(v).toBeLessThanOrEqual(0.3 + 1e-6);
    tf.dispose([eager, full]);
  });
});

describe('augmentBatch', () => {
  it('reflect-pads, crops and flips as torchvision does', () => {
    // One 1-channel 3x3 image 0..8 and padding 1: every output pixel comes from a reflected index.
    const img = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 3, 3, 1]);
    const seen = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const out = Array.from(augmentBatch(img, { padding: 1, seed }).dataSync());
      seen.add(out.join(','));
      // Rows of the output are rows of the reflected, shifted image; the centre pixel is one of the
      // original pixels' reflections. Check against a direct construction for each candidate.
    }
    const reflect = (k: number) => (k < 0 ? -k : k > 2 ? 4 - k : k);
    const candidates = new Set<string>();
    for (const dy of [-1, 0, 1]) {
      for (const dx of [-1, 0, 1]) {
        for (const flip of [false, true]) {
          const out: number[] = [];
          for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(reflect(r + dy) * 3 + reflect((flip ? 2 - c : c) + dx));
          candidates.add(out.join(','));
        }
      }
    }
    for (const s of seen) expect(candidates.has(s)).toBe(true);
    expect(seen.size).toBeGreaterThan(10); // offsets and flips do vary
    expect(Array.from(augmentBatch(img, { padding: 0, flip: false, seed: 1 }).dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => augmentBatch(img, { padding: 3, seed: 1 })).toThrow(/padding = 3: must be an integer in \[0, 2\]/);
  });

  it('seeded helpers: permutations are permutations, seeds differ by position', () => {
    const p = Array.from(permutation(50, 7)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(permutation(50, 7))).toEqual(Array.from(permutation(50, 7)));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
  });
});
