// Closed-form cases: on a linear classifier the optimal attacks are known exactly.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { deepfoolAttack, fgsm, pgd } from '../src/index.js';
import { linearModel } from './helpers/linear.js';
import { maxAbsDiff } from './helpers/fixture.js';

const shape: [number, number, number] = [4, 4, 3];
const binary = linearModel(shape, 2, 11, 0.1);
afterAll(() => binary.dispose());
const d = binary.d;
const n = 6;
// Images in the interior (0.3..0.7) so the box constraint is inactive for small budgets, and a batch at
// the borders (0 or 1) where it is active.
const interior = tf.randomUniform([n, ...shape], 0.3, 0.7, 'float32', 5) as tf.Tensor4D;
const borders = tf.tidy(() => tf.round(tf.randomUniform([n, ...shape], 0, 1, 'float32', 6))) as tf.Tensor4D;
const labels = [0, 1, 0, 1, 1, 0];

/** w_{other} - w_y per example: the direction that raises the wrong logit fastest. */
function direction(i: number): Float32Array {
  const y = labels[i]!;
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) out[j] = binary.weights[j * 2 + (1 - y)]! - binary.weights[j * 2 + y]!;
  return out;
}

function expectedLinf(x: tf.Tensor4D, eps: number): Float32Array {
  const xs = x.dataSync();
  const out = new Float32Array(xs.length);
  for (let i = 0; i < n; i++) {
    const dir = direction(i);
    for (let j = 0; j < d; j++) out[i * d + j] = Math.min(1, Math.max(0, xs[i * d + j]! + eps * Math.sign(dir[j]!)));
  }
  return out;
}

describe('Linf attacks on a linear classifier reach x + eps * sign(w_other - w_y), clipped', () => {
  it.each([
    ['interior', interior],
    ['at the bounds', borders],
  ] as const)('FGSM, %s', (_name, x) => {
    const adv = fgsm(binary.model, x, labels, { eps: 0.05 });
    expect(maxAbsDiff(adv.dataSync(), expectedLinf(x, 0.05))).toBeLessThan(1e-6);
    adv.dispose();
  });

  it.each([
    ['interior', interior],
    ['at the bounds', borders],
  ] as const)('PGD-10 (rel step 0.25, random start), %s', (_name, x) => {
    // 10 steps of 0.25 eps travel 2.5 eps >= the 2 eps across the ball: every coordinate ends at the vertex.
    const adv = pgd(binary.model, x, labels, { eps: 0.05, steps: 10, relStepSize: 0.25, seed: 1 });
    expect(maxAbsDiff(adv.dataSync(), expectedLinf(x, 0.05))).toBeLessThan(1e-6);
    adv.dispose();
  });

  it('targeted PGD moves towards the target: the same vertex as untargeted with the other label', () => {
    const targets = labels.map((y) => 1 - y);
    const adv = pgd(binary.model, interior, targets, { eps: 0.05, steps: 10, relStepSize: 0.25, targeted: true, seed: 2 });
    expect(maxAbsDiff(adv.dataSync(), expectedLinf(interior, 0.05))).toBeLessThan(1e-6);
    adv.dispose();
  });

  it('the CW margin loss gives the same optimum', () => {
    const adv = pgd(binary.model, interior, labels, { eps: 0.05, steps: 10, relStepSize: 0.25, loss: 'cw', seed: 3 });
    expect(maxAbsDiff(adv.dataSync(), expectedLinf(interior, 0.05))).toBeLessThan(1e-6);
    adv.dispose();
  });
});

describe('L2 PGD on a linear classifier moves along w_other - w_y', () => {
  it('without random start it ends exactly at x + eps * u, u the unit weight difference', () => {
    const eps = 0.1;
    const adv = pgd(binary.model, interior, labels, { eps, norm: 'l2', steps: 10, relStepSize: 0.25, randomStart: false });
    const xs = interior.dataSync();
    const expected = new Float32Array(xs.length);
    for (let i = 0; i < n; i++) {
      const dir = direction(i);
      const norm = Math.hypot(...dir);
      for (let j = 0; j < d; j++) expected[i * d + j] = xs[i * d + j]! + (eps * dir[j]!) / norm;
    }
    expect(maxAbsDiff(adv.dataSync(), expected)).toBeLessThan(1e-6);
    adv.dispose();
  });

  it('with random start it ends on the sphere, aligned with the weight difference', () => {
    const eps = 0.1;
    const adv = pgd(binary.model, interior, labels, { eps, norm: 'l2', steps: 50, relStepSize: 0.25, seed: 4 });
    const delta = tf.sub(adv, interior).dataSync() as Float32Array;
    for (let i = 0; i < n; i++) {
      const dir = direction(i);
      const row = delta.subarray(i * d, (i + 1) * d);
      const norm = Math.hypot(...row);
      const cosine = row.reduce((s, v, j) => s + v * dir[j]!, 0) / (norm * Math.hypot(...dir));
      expect(norm).toBeCloseTo(eps, 5);
      expect(cosine).toBeGreaterThan(0.999);
    }
    adv.dispose();
  });
});

describe('DeepFool finds the exact distance to a linear boundary (up to overshoot 0.02 and 1e-4)', () => {
  // Labels = the clean predictions, so every example starts correctly classified.
  const clean = tf.tidy(() => Array.from(tf.argMax(binary.model(interior), 1).dataSync()));

  it.each([
    ['l2', (g: Float32Array) => Math.hypot(...g), (v: Float32Array) => Math.hypot(...v)],
    ['linf', (g: Float32Array) => g.reduce((s, v) => s + Math.abs(v), 0), (v: Float32Array) => Math.max(...v.map(Math.abs))],
  ] as const)('%s', (norm, dualNorm, primalNorm) => {
    const raw = deepfoolAttack({ norm }).run(binary.model, interior, clean, 0);
    const logits = tf.tidy(() => binary.model(interior).dataSync());
    const delta = tf.sub(raw, interior).dataSync() as Float32Array;
    const predicted = tf.tidy(() => Array.from(tf.argMax(binary.model(raw), 1).dataSync()));
    for (let i = 0; i < n; i++) {
      const y = clean[i]!;
      const g = new Float32Array(d);
      for (let j = 0; j < d; j++) g[j] = binary.weights[j * 2 + (1 - y)]! - binary.weights[j * 2 + y]!;
      const distance = Math.abs(logits[i * 2 + y]! - logits[i * 2 + 1 - y]!) / dualNorm(g);
      const size = primalNorm(delta.subarray(i * d, (i + 1) * d));
      expect(predicted[i]).not.toBe(y);
      expect(size).toBeCloseTo(1.02 * (distance + 1e-4), 5);
    }
    raw.dispose();
  });
});
