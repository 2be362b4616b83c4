// Square Attack: the schedule of p against the reference's table, and the attack on a small CNN
// trained inside the test, with and without masked gradients.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoAttack, perturbationNorms, square, squareAttack, squareFraction, squareSide } from '../src/index.js';
import { squareL2Side } from '../src/attacks/square-l2.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

describe('Square schedule', () => {
  it('p halves after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000', () => {
    const table: Array<[number, number]> = [
      [0, 0.8], [10, 0.8], [11, 0.4], [50, 0.4], [51, 0.2], [200, 0.2], [201, 0.1], [500, 0.1], [501, 0.05],
      [1000, 0.05], [1001, 0.025], [2000, 0.025], [2001, 0.0125], [4000, 0.0125], [4001, 0.00625],
      [6000, 0.00625], [6001, 0.003125], [8000, 0.003125], [8001, 0.0015625], [20000, 0.0015625],
    ];
    for (const [it, p] of table) expect(squareFraction(it, 0.8, 5000, false)).toBeCloseTo(p, 12);
    // Rescaled to 10000 queries: iteration 6 of 1000 is 60 of 10000 (p / 4), 100 of 1000 is 1000 (p / 16).
    expect(squareFraction(5, 0.8, 1000, true)).toBeCloseTo(0.4, 12);
    expect(squareFraction(6, 0.8, 1000, true)).toBeCloseTo(0.2, 12);
    expect(squareFraction(100, 0.8, 1000, true)).toBeCloseTo(0.05, 12);
    expect(squareFraction(101, 0.8, 1000, true)).toBeCloseTo(0.025, 12);
  });

  it('the square sides are the reference\'s for every p and image size (Python\'s round, its float order, no h - 1 cap)', () => {
    // [p, h, w, c, Linf side, L2 side], the sides computed by Python 3 as the reference does:
    // s = max(int(round(math.sqrt(p * n_features / c))), 1) (L2: at least 3, made odd), n_features = c * h * w.
    const table: Array<[number, number, number, number, number, number]> = [
      [0.8, 32, 32, 3, 29, 29], // sqrt(819.2) = 28.6
      [0.05, 32, 32, 3, 7, 7],
      [0.0015625, 32, 32, 3, 1, 3],
      [0.001, 8, 8, 3, 1, 3], // sqrt(0.064) rounds to 0 -> 1
      [0.006103515625, 32, 32, 3, 2, 3], // sqrt = 2.5 exactly: half to even (Math.round: 3)
      [0.09765625, 8, 8, 3, 2, 3], // 2.5 again (pInit 0.78125 after three halvings)
      [0.31640625, 8, 8, 3, 4, 5], // 4.5
      [0.19140625, 8, 8, 1, 4, 5], // 3.5 goes up
      [0.0625, 2, 2, 3, 1, 3], // 0.5 -> 0 -> 1
      [0.140625, 4, 4, 3, 2, 3], // 1.5
      [0.8, 2, 2, 3, 2, 3], // the square fills a 2 x 2 image (AutoAttack has no h - 1 cap)
      [1, 5, 5, 3, 5, 5],
      [0.1012396694214876, 11, 11, 3, 4, 5], // p (c h w) / c = 12.25 exactly, p h w just below
      [0.34027777777777773, 6, 6, 3, 3, 3], // p (c h w) / c just below 12.25, p h w = 12.25
      [0.30249999999999994, 10, 10, 3, 6, 7], // 5.5 by the reference's order, 5.4999... by p h w
      [0.5625000000000001, 6, 6, 3, 4, 5],
    ];
    for (const [p, h, w, c, linf, l2] of table) {
      expect([p, h, w, c, squareSide(p, h, w, c)]).toEqual([p, h, w, c, linf]);
      // The L2 side is also capped at the image's smaller side (the reference needs the window to fit).
      expect([p, h, w, c, squareL2Side(p, h, w, c)]).toEqual([p, h, w, c, Math.min(l2, h, w)]);
    }
    expect(squareSide(0.8, 32, 32)).toBe(29); // channels default to 1
  });

  it("the L2 and L1 window side is the reference's: max(round(sqrt(p (c h w) / c)), 3) rounded half to even, made odd, at most the image's side", () => {
    expect(squareL2Side(0.8, 16, 16, 3)).toBe(15); // sqrt(204.8) = 14.3 -> 14 -> 15
    expect(squareL2Side(0.05, 16, 16, 3)).toBe(5); // sqrt(12.8) = 3.58 -> 4 -> 5
    expect(squareL2Side(0.0015625, 32, 32, 3)).toBe(3); // sqrt(1.6) -> 1 -> 3
    expect(squareL2Side(0.8, 5, 5, 3)).toBe(5); // sqrt(20) = 4.47 -> 4 -> 5
    expect(squareL2Side(0.8, 6, 40, 1)).toBe(6); // sqrt(192) = 13.9 -> 14 -> 15, cut to the height
    // Exact halves in the reference's order of operations (p * n_features / c), just below a half in
    // p * h * w: sqrt(0.15 * 19845 / 3) = 31.5 -> 32 -> 33 (from p h w, 31.499999999999996 -> 31);
    // sqrt(0.0375 * 4500 / 3) = 7.5 -> 8 -> 9 (7.499999999999999 -> 7). Values from Python's round. (Once
    // made odd, half-to-even and half-up sides agree: the order of operations is what decides.)
    expect(squareL2Side(0.15, 63, 105, 3)).toBe(33);
    expect(squareL2Side(0.0375, 12, 125, 3)).toBe(9);
  });
});

describe('Square on a trained small CNN', () => {
  let model: tfl.LayersModel;
  const { x, y } = syntheticData(60, 7);
  const logits = (images: tf.Tensor4D) => model.apply(images, { training: false }) as tf.Tensor2D;
  // Pixels rounded to 16 levels: every input gradient is zero.
  const masked = (images: tf.Tensor4D) => logits(tf.div(tf.round(tf.mul(images, 15)), 15) as tf.Tensor4D);
  const correct = (f: (t: tf.Tensor4D) => tf.Tensor, images: tf.Tensor4D, labels: tf.Tensor1D = y) =>
    tf.tidy(() => Array.from(tf.equal(tf.argMax(f(images), 1), labels).dataSync(), Boolean));
  const accuracy = (f: (t: tf.Tensor4D) => tf.Tensor, images: tf.Tensor4D) => correct(f, images).filter(Boolean).length / x.shape[0];

  beforeAll(async () => {
    model = await trainSmallCnn(1);
  });
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('lowers accuracy; changed pixels sit on the eps-box vertices (clipped to the bounds); one tensor returned', () => {
    const eps = 8 / 255;
    const before = tf.memory().numTensors;
    const adv = square(model, x, y, { eps, queries: 150, seed: 0 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(accuracy(logits, adv)).toBeLessThan(accuracy(logits, x) - 0.1);
    const xs = x.dataSync();
    const advs = adv.dataSync();
    for (let i = 0; i < xs.length; i++) {
      const a = advs[i]!;
      const v = xs[i]!;
      if (a === v) continue;
      const vertices = [Math.min(v + eps, 1), Math.max(v - eps, 0)].map((t) => Math.fround(t));
      expect(vertices.some((t) => Math.abs(a - t) < 1e-6)).toBe(true);
    }
    // Points still classified correctly come back clean.
    const ok = correct(logits, adv);
    const perPoint = x.size / x.shape[0];
    ok.forEach((isOk, i) => {
      if (isOk) for (let j = 0; j < perPoint; j++) expect(advs[i * perPoint + j]).toBe(xs[i * perPoint + j]);
    });
    adv.dispose();
  });

  it('works where gradients are masked (forward passes only)', () => {
    const clean = accuracy(masked, x);
    const adv = square(masked, x, y, { eps: 8 / 255, queries: 150, seed: 1 });
    expect(accuracy(masked, adv)).toBeLessThan(clean - 0.1);
    adv.dispose();
  });

  it('seeded runs repeat exactly, other seeds differ; more queries never fool fewer points; restarts add fooled points', () => {
    const run = (options: object) => {
      const adv = square(model, x, y, { eps: 4 / 255, queries: 40, seed: 3, ...options });
      const out = { data: Array.from(adv.dataSync()), ok: correct(logits, adv) };
      adv.dispose();
      return out;
    };
    const a = run({});
    expect(run({}).data).toEqual(a.data);
    expect(run({ seed: 4 }).data).not.toEqual(a.data);
    // The same random stream for the first 40 iterations: fooled points stay fooled.
    const longer = run({ queries: 80 });
    a.ok.forEach((ok, i) => {
      if (!ok) expect(longer.ok[i]).toBe(false);
    });
    const restarted = run({ restarts: 2 });
    a.ok.forEach((ok, i) => {
      if (!ok) expect(restarted.ok[i]).toBe(false);
    });
  });

  // L2: changed points lie on the eps-sphere unless clipped; L1: the projection puts them on the ball's
  // surface (radius eps (1 - 1e-6)) unless the box holds less.
  it.each([
    ['l2', 1, 0.9],
    ['l1', 4, 0.999],
  ] as const)('%s: lowers accuracy inside the ball and the bounds, most points on its surface; one tensor returned; seeded', (norm, eps, surface) => {
    const run = (seed: number) => square(model, x, y, { eps, norm, queries: 150, seed });
    const before = tf.memory().numTensors;
    const adv = run(0);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(accuracy(logits, adv)).toBeLessThan(accuracy(logits, x) - 0.1);
    const norms = tf.tidy(() => Array.from(perturbationNorms(tf.sub(adv, x), norm).dataSync()));
    for (const d of norms) expect(d).toBeLessThanOrEqual(eps * (1 + 1e-5));
    expect(norms.filter((d) => d > eps * surface).length).toBeGreaterThan(5);
    const [lo, hi] = tf.tidy(() => [tf.min(adv).dataSync()[0]!, tf.max(adv).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    const [again, other] = [run(0), run(1)];
    expect(Array.from(again.dataSync())).toEqual(Array.from(adv.dataSync()));
    expect(Array.from(other.dataSync())).not.toEqual(Array.from(adv.dataSync()));
    expect(squareAttack({ norm }).norm).toBe(norm);
    tf.dispose([adv, again, other]);
  });

  it.each(['l2', 'l1'] as const)("%s needs images at least 5 pixels high (the reference's start grid)", (norm) => {
    const small = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const f = (t: tf.Tensor4D) => tf.concat([tf.reshape(tf.sum(t, [1, 2, 3]), [-1, 1]), tf.ones([t.shape[0], 1])], 1) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => square(f, small, [1], { eps: 0.5, norm, queries: 2 })).toThrow(new RegExp(`square \\(norm '${norm}'\\): Square needs images at least 5 pixels high, got 4`));
    // AutoAttack with Square: refused before any attack runs.
    expect(() => autoAttack(f, small, [1], { eps: 0.5, norm, version: 'custom', attacks: ['square'], onWarning: () => {} })).toThrow(new RegExp(`autoAttack \\(norm '${norm}'\\): Square needs images at least 5 pixels high, got 4`));
    expect(tf.memory().numTensors).toBe(before);
    small.dispose();
  });

  it('leaves clean-misclassified points alone, reports progress, and works as an Attack value', () => {
    const labels = Array.from(y.dataSync());
    for (let i = 0; i < 5; i++) labels[i] = (labels[i]! + 1) % 10;
    const steps: number[] = [];
    const adv = square(model, x, labels, { eps: 8 / 255, queries: 20, seed: 2, onStep: (s) => steps.push(s) });
    const d = tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync()));
    for (let i = 0; i < 5; i++) expect(d[i]).toBe(0);
    expect(steps[steps.length - 1]).toBe(20);
    adv.dispose();
    const attack = squareAttack({ queries: 10 });
    expect([attack.name, attack.kind, attack.targeted, attack.norm]).toEqual(['Square', 'fixed-epsilon', false, 'linf']);
    attack.run(model, x, y, 8 / 255).dispose();
  });

  it.each([
    ['negative eps', { eps: -1 }, /eps = -1: must be a finite number >= 0/],
    ['unknown norm', { eps: 0.5, norm: 'l0' }, /norm = "l0": accepted values are 'linf', 'l2' and 'l1'/],
    ['pInit above 1', { eps: 0.1, pInit: 1.5 }, /pInit = 1.5: must be a finite number > 0 and <= 1/],
    ['zero queries', { eps: 0.1, queries: 0 }, /queries = 0: must be an integer >= 1/],
    ['unknown loss', { eps: 0.1, loss: 'cw' }, /loss = "cw": accepted values are 'margin' and 'ce'/],
  ])('%s', (_name, options, message) => {
    const before = tf.memory().numTensors;
    expect(() => square(model, x, y, options as never)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
