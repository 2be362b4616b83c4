// Auto-PGD (APGD-CE, APGD-DLR, APGD-T): the schedule, the halving rule, the targeted DLR loss by
// hand, and the attack on a small CNN trained inside the test (seeded).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apgd, apgdAttack, apgdCheckpoints, apgdShouldHalve, apgdTargeted, apgdTargetedAttack, dlrTargetedLoss, pgd, type ApgdIteration } from '../src/index.js';
import { linearModel } from './helpers/linear.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

const referenceTable = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/apgd-checkpoints.json', import.meta.url)), 'utf8')) as { checkpoints: Record<string, number[]> };

describe('APGD schedule and step-size rule', () => {
  it('checkpoints equal the reference code\'s for steps 1..500 (its counter3 == k loop, run by scripts/torch_apgd.py)', () => {
    expect(Object.keys(referenceTable.checkpoints)).toHaveLength(500);
    for (let steps = 1; steps <= 500; steps++) expect(apgdCheckpoints(steps), `steps = ${steps}`).toEqual(referenceTable.checkpoints[steps]);
    // By hand from the integer budgets (first window, decrease, minimum): 50 -> (11, 1, 3); 10 -> (2, 1, 1).
    expect(apgdCheckpoints(50)).toEqual([11, 21, 30, 38, 45]);
    expect(apgdCheckpoints(10)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
  });

  it("the paper's schedule on request: w_j = ceil(p_j N), p = 0.22, then gaps shrinking by 0.03 to at least 0.06", () => {
    // By hand: p = 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (gaps 19, 16, 13, 10, 7, 6, 6 hundredths).
    expect(apgdCheckpoints(100, 'paper')).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
    // N = 10: ceil(2.2, 4.1, 5.7, 7.0, 8.0, 8.7, 9.3, 9.9) = 3, 5, 6, 7, 8, 9, 10, (10 again: dropped).
    expect(apgdCheckpoints(10, 'paper')).toEqual([3, 5, 6, 7, 8, 9, 10]);
    expect(apgdCheckpoints(50, 'paper')).toEqual([11, 21, 29, 35, 40, 44, 47, 50]);
    // N = 1000: 220, 410, 570, 700, 800, 870, 930, 990.
    expect(apgdCheckpoints(1000, 'paper')).toEqual([220, 410, 570, 700, 800, 870, 930, 990]);
    expect(apgdCheckpoints(1, 'paper')).toEqual([1]);
    expect(() => apgdCheckpoints(0)).toThrow(/steps = 0: must be an integer >= 1/);
    expect(() => apgdCheckpoints(10, 'code' as never)).toThrow(/schedule = "code": accepted values are 'reference' and 'paper'/);
  });

  it('halves when too few of the window\'s steps raised the loss (reference <=, paper <), or when nothing changed since the last checkpoint', () => {
    expect(apgdShouldHalve(16, 22, 0.75, false, 1, 0)).toBe(true); // 16 <= 16.5
    expect(apgdShouldHalve(17, 22, 0.75, false, 1, 0)).toBe(false);
    expect(apgdShouldHalve(12, 16, 0.75, true, 1, 1)).toBe(true); // 12 <= 0.75 * 16 (the reference's check_oscillation)
    expect(apgdShouldHalve(12, 16, 0.75, true, 1, 1, 'paper')).toBe(false); // not fewer (strict, as the paper)
    expect(apgdShouldHalve(20, 22, 0.75, false, 1, 1)).toBe(true); // best loss unchanged, step unchanged
    expect(apgdShouldHalve(20, 22, 0.75, true, 1, 1)).toBe(false); // unchanged best, but the step was just halved
  });
});

describe('targeted DLR loss', () => {
  it('equals -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12) by hand', () => {
    const logits = tf.tensor2d([
      [3, 1, 4, 0, 2], // y = 0, t = 4: sorted 4, 3, 2, 1, 0 -> -(3 - 2) / (4 - 1.5) = -0.4
      [0.5, 2, -1, 1, -3], // y = 1, t = 3: sorted 2, 1, 0.5, -1, -3 -> -(2 - 1) / (2 + 0.25) = -0.4444
    ]);
    const value = dlrTargetedLoss(logits, tf.tensor1d([0, 1], 'int32'), tf.tensor1d([4, 3], 'int32')).dataSync();
    expect(value[0]).toBeCloseTo(-0.4, 6);
    expect(value[1]).toBeCloseTo(-1 / 2.25, 6);
    // Gradient of row 0 (D = 2.5, N = z_t - z_y = -1): d/dz_y = -1/D, d/dz_t = 1/D, d/dz_pi1 = -N/D^2, d/dz_pi3 = d/dz_pi4 = N/(2 D^2).
    const g = tf.grad((z: tf.Tensor) => tf.sum(dlrTargetedLoss(z as tf.Tensor2D, tf.tensor1d([0], 'int32'), tf.tensor1d([4], 'int32'))))(tf.tensor2d([[3, 1, 4, 0, 2]])).dataSync();
    const expected = [-1 / 2.5, -1 / 12.5, 1 / 6.25, 0, 1 / 2.5 - 1 / 12.5];
    expected.forEach((e, i) => expect(g[i]).toBeCloseTo(e, 6));
  });

  it('needs four classes', () => {
    expect(() => dlrTargetedLoss(tf.zeros([1, 3]) as tf.Tensor2D, tf.tensor1d([0], 'int32'), tf.tensor1d([1], 'int32'))).toThrow(/at least 4 classes, got 3/);
  });
});

describe('APGD in closed form', () => {
  it('on a two-class linear model it ends at the optimal Linf corner x + eps sign(w_other - w_y), fooling exactly the points it can', () => {
    const lin = linearModel([4, 4, 3], 2, 3, 0.3);
    const x = tf.randomUniform([40, 4, 4, 3], 0.2, 0.8, 'float32', 4) as tf.Tensor4D;
    const eps = 0.02; // corners stay inside [0, 1]: no clipping
    const clean = tf.tidy(() => Array.from(tf.argMax(lin.model(x), 1).dataSync()));
    const adv = apgd(lin.model, x, clean, { eps, steps: 10, seed: 0 });
    const xs = x.dataSync();
    const advs = adv.dataSync();
    const d = lin.d;
    let fooled = 0;
    for (let i = 0; i < 40; i++) {
      const [yi, other] = [clean[i]!, 1 - clean[i]!];
      // Margin z_y - z_other and the best the attack can do: eps * ||w_y - w_other||_1 less.
      let margin = lin.bias[yi]! - lin.bias[other]!;
      let l1 = 0;
      for (let j = 0; j < d; j++) {
        const dw = lin.weights[j * 2 + yi]! - lin.weights[j * 2 + other]!;
        margin += dw * xs[i * d + j]!;
        l1 += Math.abs(dw);
      }
      const canFool = margin - eps * l1 < 0;
      const moved = advs.slice(i * d, (i + 1) * d).some((v, j) => v !== xs[i * d + j]);
      if (Math.abs(margin - eps * l1) < 1e-4) continue; // too close to call in float32
      expect(moved).toBe(canFool);
      if (canFool) {
        fooled++;
        for (let j = 0; j < d; j++) {
          const dw = lin.weights[j * 2 + yi]! - lin.weights[j * 2 + other]!;
          expect(advs[i * d + j]).toBeCloseTo(xs[i * d + j]! - eps * Math.sign(dw), 6);
        }
      }
    }
    expect(fooled).toBeGreaterThan(5);
    expect(fooled).toBeLessThan(35);
    tf.dispose([x, adv]);
    lin.dispose();
  });
});

describe('APGD on a trained small CNN', () => {
  let model: tfl.LayersModel;
  const { x, y } = syntheticData(100, 7);
  const correct = (images: tf.Tensor4D, labels: tf.Tensor1D = y) =>
    tf.tidy(() => Array.from(tf.equal(tf.argMax(model.predict(images) as tf.Tensor, 1), labels).dataSync(), Boolean));
  const accuracy = (images: tf.Tensor4D) => correct(images).filter(Boolean).length / x.shape[0];
  const distances = (adv: tf.Tensor4D, norm: 'linf' | 'l2') =>
    tf.tidy(() => Array.from((norm === 'linf' ? tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]) : tf.sqrt(tf.sum(tf.square(tf.sub(adv, x)), [1, 2, 3]))).dataSync()));

  beforeAll(async () => {
    model = await trainSmallCnn(1);
  });
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('APGD-CE (100 iterations) <= PGD-20 <= clean; examples inside the ball and the bounds; one tensor returned', () => {
    const eps = 4 / 255;
    const clean = accuracy(x);
    const before = tf.memory().numTensors;
    const adv = apgd(model, x, y, { eps, seed: 0 });
    expect(tf.memory().numTensors).toBe(before + 1);
    const advPgd = pgd(model, x, y, { eps, steps: 20, relStepSize: 0.25, seed: 0 });
    const [apgdAcc, pgdAcc] = [accuracy(adv), accuracy(advPgd)];
    expect(clean).toBeGreaterThan(0.9);
    expect(apgdAcc).toBeLessThan(clean);
    expect(apgdAcc).toBeLessThanOrEqual(pgdAcc);
    for (const d of distances(adv, 'linf')) expect(d).toBeLessThanOrEqual(eps + 1e-6);
    const [lo, hi] = tf.tidy(() => [tf.min(adv).dataSync()[0]!, tf.max(adv).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Every point is either fooled or returned clean.
    const ok = correct(adv);
    distances(adv, 'linf').forEach((d, i) => {
      if (ok[i]) expect(d).toBe(0);
    });
    tf.dispose([adv, advPgd]);
  });

  it.each(['reference', 'paper'] as const)('the step size follows the %s checkpoint rule, recomputed from the traced losses', (schedule) => {
    const events: ApgdIteration[] = [];
    const eps = 2 / 255;
    const adv = apgd(model, x, y, { eps, steps: 50, seed: 1, schedule, onIteration: (e) => events.push(e) });
    adv.dispose();
    const checkpoints = apgdCheckpoints(50, schedule);
    expect(events.length).toBe(51); // not everything is fooled at 2/255: the run goes the full length
    const points = events[0]!.loss.length;
    let halvings = 0;
    let keeps = 0;
    for (let k = 0; k < points; k++) {
      let last = 0;
      // The reference starts its "reduced at the last check" flags at true.
      let halvedLast = schedule === 'reference';
      let step = Math.fround(2 * eps); // float32, where halving is exact
      for (const w of checkpoints) {
        let increases = 0;
        for (let i = last + 1; i <= w; i++) {
          // The reference's first comparison reads the unfilled (zero) last row of its loss history.
          const before = i === 1 && schedule === 'reference' ? 0 : events[i - 1]!.loss[k]!;
          if (events[i]!.loss[k]! > before) increases++;
        }
        const halve = apgdShouldHalve(increases, w - last, 0.75, halvedLast, events[w]!.bestLoss[k]!, events[last]!.bestLoss[k]!, schedule);
        expect(events[w]!.halved![k]).toBe(halve ? 1 : 0);
        if (halve) step /= 2;
        expect(events[w]!.stepSize[k]).toBe(step);
        halve ? halvings++ : keeps++;
        halvedLast = halve;
        last = w;
      }
    }
    // Both branches of the rule were exercised.
    expect(halvings).toBeGreaterThan(0);
    expect(keeps).toBeGreaterThan(0);
  });

  it('seeded runs repeat exactly; restarts only add fooled points', () => {
    const eps = 3 / 255;
    const a = apgd(model, x, y, { eps, steps: 20, seed: 5 });
    const b = apgd(model, x, y, { eps, steps: 20, seed: 5 });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const restarted = apgd(model, x, y, { eps, steps: 20, seed: 5, restarts: 3 });
    const single = correct(a);
    const multi = correct(restarted);
    single.forEach((ok, i) => {
      if (!ok) expect(multi[i]).toBe(false);
    });
    tf.dispose([a, b, restarted]);
  });

  it('APGD-DLR, L2 APGD and APGD-T lower accuracy inside their balls; clean-misclassified points come back unchanged', () => {
    const dlr = apgd(model, x, y, { eps: 4 / 255, loss: 'dlr', steps: 20 });
    expect(accuracy(dlr)).toBeLessThan(accuracy(x));
    const l2 = apgd(model, x, y, { eps: 0.25, norm: 'l2', steps: 20 });
    expect(accuracy(l2)).toBeLessThan(accuracy(x));
    for (const d of distances(l2, 'l2')) expect(d).toBeLessThanOrEqual(0.25 * (1 + 1e-5));
    // Labels shifted by one for the first 10 points: those are "misclassified" and must not move.
    const labels = Array.from(y.dataSync());
    for (let i = 0; i < 10; i++) labels[i] = (labels[i]! + 1) % 10;
    const before = tf.memory().numTensors;
    const targeted = apgdTargeted(model, x, labels, { eps: 4 / 255, steps: 20, targetClasses: 3 });
    expect(tf.memory().numTensors).toBe(before + 1);
    const d = distances(targeted, 'linf');
    for (let i = 0; i < 10; i++) expect(d[i]).toBe(0);
    for (const v of d) expect(v).toBeLessThanOrEqual(4 / 255 + 1e-6);
    expect(accuracy(targeted)).toBeLessThan(accuracy(x));
    tf.dispose([dlr, l2, targeted]);
  });

  it('as Attack values', () => {
    expect(apgdAttack().name).toBe('APGD-CE');
    expect(apgdAttack({ loss: 'dlr' }).name).toBe('APGD-DLR');
    const attack = apgdTargetedAttack({ steps: 5, targetClasses: 1 });
    expect([attack.name, attack.kind, attack.targeted, attack.norm]).toEqual(['APGD-T', 'fixed-epsilon', false, 'linf']);
    const adv = attack.run(model, x, y, 8 / 255);
    expect(accuracy(adv)).toBeLessThan(accuracy(x));
    adv.dispose();
  });
});

describe('APGD input errors', () => {
  const lin3 = linearModel([2, 2, 1], 3, 1);
  const x = tf.fill([2, 2, 2, 1], 0.5) as tf.Tensor4D;
  afterAll(() => {
    lin3.dispose();
    x.dispose();
  });
  it.each([
    ['negative eps', () => apgd(lin3.model, x, [0, 1], { eps: -1 }), /eps = -1: must be a finite number >= 0/],
    ['unknown loss', () => apgd(lin3.model, x, [0, 1], { eps: 0.1, loss: 'cw' as never }), /loss = "cw": accepted values are 'ce' and 'dlr'/],
    ['rho out of range', () => apgd(lin3.model, x, [0, 1], { eps: 0.1, rho: 1.5 }), /rho = 1.5: must be a finite number > 0 and <= 1/],
    ['zero steps', () => apgd(lin3.model, x, [0, 1], { eps: 0.1, steps: 0 }), /steps = 0: must be an integer >= 1/],
    ['label out of range', () => apgd(lin3.model, x, [0, 3], { eps: 0.1 }), /y\[1\] = 3: labels must be integers in \[0, 2\]/],
    ['APGD-T with 3 classes', () => apgdTargeted(lin3.model, x, [0, 1], { eps: 0.1 }), /needs at least 4 classes, the model has 3/],
    ['unknown norm', () => apgd(lin3.model, x, [0, 1], { eps: 0.1, norm: 'l0' as never }), /norm = "l0": accepted values are 'linf', 'l2' and 'l1'/],
    ['unknown schedule', () => apgd(lin3.model, x, [0, 1], { eps: 0.1, schedule: 'code' as never }), /schedule = "code": accepted values are 'reference' and 'paper'/],
  ])('%s', (_name, call, message) => {
    const before = tf.memory().numTensors;
    expect(call).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
