// Properties every attack keeps, over random inputs and options (fast-check, seeded).
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { attackSweep, deepfool, deepfoolAttack, fgsm, pgd, pgdAttack, perturbationNorms, type Norm } from '../src/index.js';
import { linearModel } from './helpers/linear.js';

const shape: [number, number, number] = [3, 3, 2];
const tenClass = linearModel(shape, 10, 21, 0.5);
afterAll(() => tenClass.dispose());

const options = fc.record({
  seed: fc.integer({ min: 0, max: 1000 }),
  n: fc.integer({ min: 1, max: 4 }),
  eps: fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 0.5, noNaN: true })),
  norm: fc.constantFrom<'linf' | 'l2'>('linf', 'l2'),
  steps: fc.integer({ min: 1, max: 4 }),
  relStepSize: fc.double({ min: 0.05, max: 1.5, noNaN: true }),
  randomStart: fc.boolean(),
  restarts: fc.integer({ min: 1, max: 2 }),
  loss: fc.constantFrom('ce' as const, 'cw' as const, 'dlr' as const),
  targeted: fc.boolean(),
  attack: fc.constantFrom('pgd', 'fgsm', 'deepfool'),
});

type Options = typeof options extends fc.Arbitrary<infer T> ? T : never;

function run(o: Options, x: tf.Tensor4D, y: number[]) {
  if (o.attack === 'fgsm') return fgsm(tenClass.model, x, y, { eps: o.eps, loss: o.loss, targeted: o.targeted });
  if (o.attack === 'deepfool') return deepfool(tenClass.model, x, y, { eps: o.eps, norm: o.norm, steps: o.steps + 2 });
  // Only pgd's own options: unknown keys (here n and attack) are rejected.
  const { n: _n, attack: _attack, ...pgdOptions } = o;
  return pgd(tenClass.model, x, y, pgdOptions);
}

describe('attack properties (random inputs and options)', () => {
  it('stay in the eps-ball and the bounds, keep the caller\'s tensors and the tensor count, are seeded', () => {
    fc.assert(
      fc.property(options, (o) => {
        const norm: Norm = o.attack === 'fgsm' ? 'linf' : o.norm;
        const x = tf.randomUniform([o.n, ...shape], 0, 1, 'float32', o.seed) as tf.Tensor4D;
        const y = Array.from({ length: o.n }, (_, i) => (o.seed + 3 * i) % 10);
        const xBefore = Array.from(x.dataSync());
        const yTensor = tf.tensor1d(y, 'int32');
        const count = tf.memory().numTensors;
        const adv = run(o, x, y);
        const again = run(o, x, Array.from(yTensor.dataSync()));
        expect(tf.memory().numTensors).toBe(count + 2);
        const norms = perturbationNorms(tf.sub(adv, x), norm).dataSync();
        for (const v of norms) expect(v).toBeLessThanOrEqual(o.eps * (1 + 1e-6) + 1e-6);
        const values = adv.dataSync();
        for (const v of values) expect(v >= 0 && v <= 1).toBe(true);
        expect(Array.from(x.dataSync())).toEqual(xBefore);
        expect(Array.from(again.dataSync())).toEqual(Array.from(values));
        if (o.eps === 0) expect(Array.from(values)).toEqual(xBefore);
        tf.dispose([x, yTensor, adv, again]);
        tf.disposeVariables();
      }),
      { numRuns: 60, seed: 20261124 },
    );
  });

  it('the sweep returns per epsilon raw, clipped (in the ball) and success, and keeps only those tensors', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.constantFrom<'linf' | 'l2'>('linf', 'l2'), fc.boolean(), (seed, norm, minimization) => {
        const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', seed) as tf.Tensor4D;
        const y = [seed % 10, (seed + 1) % 10, (seed + 2) % 10];
        const attack = minimization ? deepfoolAttack({ norm, steps: 5 }) : pgdAttack({ norm, steps: 3, seed });
        const epsilons = [0, 0.01, 0.1, 1];
        const count = tf.memory().numTensors;
        const results = attackSweep(tenClass.model, attack, x, y, epsilons);
        expect(tf.memory().numTensors).toBe(count + 3 * epsilons.length);
        expect(results.map((r) => r.eps)).toEqual(epsilons);
        let previous = -1;
        for (const r of results) {
          const norms = perturbationNorms(tf.sub(r.clipped, x), norm).dataSync();
          for (const v of norms) expect(v).toBeLessThanOrEqual(r.eps * (1 + 1e-6) + 1e-6);
          expect(r.success.dtype).toBe('bool');
          expect(r.success.shape).toEqual([3]);
          // A minimization attack's success can only grow with the budget.
          const successes = tf.sum(tf.cast(r.success, 'int32')).dataSync()[0]!;
          if (minimization) expect(successes).toBeGreaterThanOrEqual(previous);
          previous = successes;
        }
        tf.dispose([x, ...results.flatMap((r) => [r.raw, r.clipped, r.success])]);
        tf.disposeVariables();
      }),
      { numRuns: 15, seed: 7 },
    );
  });
});
