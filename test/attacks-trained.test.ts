// Attacks on a small CNN trained inside the test (seeded, seconds on the CPU backend).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { antiPerturbationRatio, attackSweep, deepfool, fgsm, fgsmAttack, paperAttacks, pgd, pgdAttack, robustAccuracy } from '../src/index.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

let model: tfl.LayersModel;
const { x, y } = syntheticData(100, 7);
const labels = Array.from(y.dataSync());

beforeAll(async () => {
  model = await trainSmallCnn(1);
});
afterAll(() => {
  model.dispose();
  tf.dispose([x, y]);
});

function correct(images: tf.Tensor4D): boolean[] {
  return tf.tidy(() => Array.from(tf.equal(tf.argMax(model.predict(images) as tf.Tensor, 1), y).dataSync(), Boolean));
}
const accuracy = (flags: boolean[]) => flags.filter(Boolean).length / flags.length;

describe('on a trained small CNN', () => {
  it('clean >= FGSM >= PGD-20 accuracy, and the model is worth attacking', () => {
    const eps = 8 / 255;
    const clean = accuracy(correct(x));
    const advF = fgsm(model, x, y, { eps });
    const advP = pgd(model, x, y, { eps, steps: 20, relStepSize: 0.25, seed: 1 });
    const [fgsmAcc, pgdAcc] = [accuracy(correct(advF)), accuracy(correct(advP))];
    expect(clean).toBeGreaterThan(0.7);
    expect(fgsmAcc).toBeLessThan(clean);
    expect(pgdAcc).toBeLessThanOrEqual(fgsmAcc);
    tf.dispose([advF, advP]);
  });

  it('a large eps drives PGD accuracy to ~0', () => {
    const adv = pgd(model, x, y, { eps: 0.3, steps: 20, relStepSize: 0.25, seed: 2 });
    expect(accuracy(correct(adv))).toBeLessThanOrEqual(0.01);
    adv.dispose();
  });

  it('restarts never raise accuracy: every example fooled by one run is fooled with restarts', () => {
    const eps = 4 / 255;
    const single = correct(pgd(model, x, y, { eps, steps: 5, relStepSize: 0.25, seed: 3 }));
    const restarted = correct(pgd(model, x, y, { eps, steps: 5, relStepSize: 0.25, seed: 3, restarts: 4 }));
    single.forEach((ok, i) => {
      if (!ok) expect(restarted[i]).toBe(false);
    });
    expect(accuracy(restarted)).toBeLessThanOrEqual(accuracy(single));
  });

  it('DeepFool fools (nearly) every point with a large budget and leaves the model\'s errors alone', () => {
    const adv = deepfool(model, x, labels, { eps: 1 });
    expect(accuracy(correct(adv))).toBeLessThanOrEqual(0.02);
    // Misclassified points are frozen at their clean value.
    const wrong = correct(x).map((ok, i) => (!ok ? i : -1)).filter((i) => i >= 0);
    const delta = tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync()));
    for (const i of wrong) expect(delta[i]).toBe(0);
    adv.dispose();
  });

  it('robustAccuracy with the paper\'s suite: per attack <= clean, worst case <= every attack', () => {
    const before = tf.memory().numTensors;
    const result = robustAccuracy(model, { x, y }, paperAttacks({ seed: 0 }), { eps: 8 / 255, batchSize: 100 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(result.perAttack)).toEqual(['FGSM', 'PGD-10', 'PGD-20', 'PGD-50', 'DeepFool']);
    expect(result.n).toBe(100);
    expect(result.clean).toBeCloseTo(accuracy(correct(x)), 10);
    for (const acc of Object.values(result.perAttack)) {
      expect(acc).toBeLessThanOrEqual(result.clean);
      expect(result.worstCase).toBeLessThanOrEqual(acc);
    }
    // The suite's PGD-20 is exactly pgd() with the same settings and seed (one batch here).
    const advP = pgd(model, x, y, { eps: 8 / 255, steps: 20, relStepSize: 0.25, seed: 1000 });
    expect(result.perAttack['PGD-20']).toBeCloseTo(accuracy(correct(advP)), 10);
    advP.dispose();
  });

  it('robustAccuracy batches: the same FGSM numbers for any batch size, progress per batch', () => {
    const progress: number[] = [];
    const batched = robustAccuracy(model, { x, y }, [fgsmAttack()], { eps: 8 / 255, batchSize: 40, onProgress: (done) => progress.push(done) });
    const whole = robustAccuracy(model, { x, y }, [fgsmAttack()], { eps: 8 / 255, batchSize: 100 });
    expect(progress).toEqual([40, 80, 100]);
    expect(batched).toEqual(whole);
  });

  it('the sweep gives the same PGD result as a direct call per epsilon', () => {
    const attack = pgdAttack({ steps: 5, relStepSize: 0.25, seed: 5 });
    const results = attackSweep(model, attack, x, y, [2 / 255, 8 / 255]);
    for (const r of results) {
      const direct = pgd(model, x, y, { eps: r.eps, steps: 5, relStepSize: 0.25, seed: 5 });
      expect(Array.from(r.clipped.dataSync())).toEqual(Array.from(direct.dataSync()));
      const success = Array.from(r.success.dataSync(), Boolean);
      expect(success).toEqual(correct(direct).map((ok) => !ok));
      tf.dispose([direct, r.raw, r.clipped, r.success]);
    }
  });

  it('antiPerturbationRatio: 1 at eps 0, falling with eps, no leaks', () => {
    const before = tf.memory().numTensors;
    const result = antiPerturbationRatio(model, x, [0, 2 / 255, 16 / 255], { seed: 1, steps: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.map((r) => r.eps)).toEqual([0, 2 / 255, 16 / 255]);
    expect(result[0]!.ratio).toBe(1);
    expect(result[1]!.ratio).toBeLessThan(1);
    expect(result[2]!.ratio).toBeLessThan(result[1]!.ratio);
  });
});
