// The L1 threat model: the projection onto the L1 ball in the box against independent solutions
// (bisection on the threshold, the variational inequality of a Euclidean projection), FAB's L1
// hyperplane projection against brute force, APGD-L1's sparse step by hand, APGD-L1 on a linear model
// in closed form (FAB-L1's is in test/fab.test.ts), the attacks on a small CNN (memory, bounds, the
// ball), AutoAttack's standard L1 version, and the attacks that refuse L1.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/data/random.js';
import {
  apgd,
  apgdTargeted,
  autoAttack,
  deepfool,
  deepfoolAttack,
  fab,
  fabAttack,
  fabTargeted,
  pgd,
  pgdAttack,
  perturbationNorms,
  projectL1OntoHyperplane,
  projectOntoL1BallInBox,
  square,
  squareAttack,
  type AutoAttackProgress,
} from '../src/index.js';
import { largerEpsStages } from '../src/attacks/apgd.js';
import { sparseL1Step } from '../src/attacks/l1-projection.js';
import { l1DistanceInBox, linearModel } from './helpers/linear.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

const sumAbs = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + Math.abs(x), 0);

/** The projection of `delta` by {@link projectOntoL1BallInBox} around `origin` in [lo, hi]. */
function projectBall(delta: number[], origin: number[], eps: number, lo = 0, hi = 1) {
  const out = new Float64Array(delta.length);
  const lambda = projectOntoL1BallInBox(delta, origin, eps, lo, hi, out);
  return { p: Array.from(out), lambda };
}

describe('projection onto the L1 ball intersected with the box', () => {
  it('hand cases: inside, box only, soft threshold, threshold after the box, zero budget', () => {
    // Inside both: unchanged.
    expect(projectBall([0.1, -0.2], [0.5, 0.5], 1)).toEqual({ p: [0.1, -0.2], lambda: 0 });
    // The box alone: 0.9 + 0.3 clips to 1 (0.1), and the L1 norm 0.1 + 0.2 <= 1.
    let r = projectBall([0.3, -0.2], [0.9, 0.5], 1);
    expect(r.p[0]).toBeCloseTo(0.1, 12);
    expect(r.p[1]).toBeCloseTo(-0.2, 12);
    expect(r.lambda).toBe(0);
    // Soft threshold: (0.3, -0.2, 0.05) to L1 norm 0.3: lambda = 0.1 -> (0.2, -0.1, 0).
    r = projectBall([0.3, -0.2, 0.05], [0.5, 0.5, 0.5], 0.3);
    expect(r.lambda).toBeCloseTo(0.1, 12);
    [0.2, -0.1, 0].forEach((v, i) => expect(r.p[i]).toBeCloseTo(v, 12));
    // The box first: 0.6 from 0.8 clips to 0.2, which stays until lambda = 0.6 - 0.2 = 0.4; so norm 0.4
    // needs lambda = 0.2, taken from the second coordinate alone (0.4 -> 0.2).
    r = projectBall([0.6, 0.4], [0.8, 0.5], 0.4);
    expect(r.lambda).toBeCloseTo(0.2, 12);
    expect(r.p[0]).toBeCloseTo(0.2, 12);
    expect(r.p[1]).toBeCloseTo(0.2, 12);
    // Other bounds, and eps = 0.
    r = projectBall([-2, 1], [0, 0], 10, -1, 1);
    expect(r.p).toEqual([-1, 1]);
    expect(projectBall([0.3, -0.2], [0.5, 0.5], 0).p.map((v) => Math.abs(v))).toEqual([0, 0]);
  });

  it('random problems (fast-check, seeded): in the ball and the box, the threshold a bisection finds, and the nearest point of the set', () => {
    const problem = fc
      .record({
        n: fc.integer({ min: 1, max: 9 }),
        seed: fc.integer({ min: 0, max: 1e6 }),
        scale: fc.constantFrom(0.05, 0.5, 2),
        eps: fc.double({ min: 0, max: 3, noNaN: true }),
      })
      .map(({ n, seed, scale, eps }) => {
        const random = mulberry32(seed);
        const origin = Array.from({ length: n }, () => (random() < 0.15 ? Math.round(random()) : random()));
        const delta = Array.from({ length: n }, () => (random() < 0.1 ? 0 : (2 * random() - 1) * scale));
        return { origin, delta, eps, random };
      });
    let thresholded = 0;
    let boxed = 0;
    fc.assert(
      fc.property(problem, ({ origin, delta, eps, random }) => {
        const { p, lambda } = projectBall(delta, origin, eps);
        p.forEach((v, i) => {
          expect(origin[i]! + v).toBeGreaterThanOrEqual(-1e-12);
          expect(origin[i]! + v).toBeLessThanOrEqual(1 + 1e-12);
          // Signs are kept (or the coordinate is zeroed).
          expect(v * delta[i]!).toBeGreaterThanOrEqual(0);
        });
        expect(sumAbs(p)).toBeLessThanOrEqual(eps + 1e-12);
        // Independent: the box-clipped magnitudes m_i, then bisection on the threshold of
        // h(l) = sum_i clip(|delta_i| - l, 0, m_i), which falls from sum m_i to 0.
        const m = delta.map((v, i) => Math.min(Math.abs(v), Math.max(v > 0 ? 1 - origin[i]! : v < 0 ? origin[i]! : 0, 0)));
        const h = (l: number) => delta.reduce((s, v, i) => s + Math.min(Math.max(Math.abs(v) - l, 0), m[i]!), 0);
        let expected = delta.map((v, i) => Math.sign(v) * m[i]!);
        if (h(0) > eps) {
          let [low, high] = [0, 10];
          for (let k = 0; k < 200; k++) {
            const mid = (low + high) / 2;
            h(mid) > eps ? (low = mid) : (high = mid);
          }
          expect(lambda).toBeCloseTo(high, 9);
          expected = delta.map((v, i) => Math.sign(v) * Math.min(Math.max(Math.abs(v) - high, 0), m[i]!));
          thresholded++;
        } else {
          expect(lambda).toBe(0);
          if (m.some((mi, i) => mi < Math.abs(delta[i]!))) boxed++;
        }
        p.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 9));
        // The nearest point of the (convex) set: (delta - p) . (q - p) <= 0 for every q in it; q drawn
        // in the box, then shrunk towards 0 (inside the box) into the ball.
        for (let k = 0; k < 20; k++) {
          let q = origin.map((o) => random() - o);
          const norm = sumAbs(q);
          if (norm > eps) q = q.map((v) => (v * eps * random()) / norm);
          const inner = delta.reduce((s, v, i) => s + (v - p[i]!) * (q[i]! - p[i]!), 0);
          expect(inner).toBeLessThanOrEqual(1e-9);
        }
      }),
      { numRuns: 300, seed: 20261203 },
    );
    // Both regimes were drawn.
    expect(thresholded).toBeGreaterThan(30);
    expect(boxed).toBeGreaterThan(10);
  });
});

describe('the minimal L1 step onto a hyperplane inside a box', () => {
  const project = (point: number[], w: number[], b: number, lo = 0, hi = 1) => {
    const out = new Float64Array(point.length);
    const length = projectL1OntoHyperplane(point, w, b, lo, hi, out);
    return { d: Array.from(out), length };
  };

  it('hand cases: the largest weight first, then the next, the corner, ties, tiny weights', () => {
    // w . x = 1.3 from (0.5, 0.5), w = (1, 2): c = 1.5 - 1.3 = 0.2; the weight-2 coordinate goes down 0.1.
    let r = project([0.5, 0.5], [1, 2], 1.3);
    expect(r.d[0]).toBe(0);
    expect(r.d[1]).toBeCloseTo(-0.1, 12);
    expect(r.length).toBeCloseTo(0.1, 12);
    // The weight-2 coordinate reaches 0 (-0.2, gaining 0.4); the rest (0.3) from the weight-1 one.
    r = project([0.5, 0.2], [1, 2], 0.2);
    expect(r.d[1]).toBeCloseTo(-0.2, 12);
    expect(r.d[0]).toBeCloseTo(-0.3, 12);
    expect(r.length).toBeCloseTo(0.5, 12);
    // Out of reach: the corner.
    r = project([0.9, 0.1], [1, -2], 10);
    expect(r.d[0]).toBeCloseTo(0.1, 12);
    expect(r.d[1]).toBeCloseTo(-0.1, 12);
    expect(r.length).toBe(Infinity);
    // Equal weights: the lower index moves; weights of 1e-8 and below never move; on the plane: nothing.
    r = project([0.5, 0.5], [1, 1], 1.1);
    expect(r.d[0]).toBeCloseTo(0.1, 12);
    expect(r.d[1]).toBe(0);
    r = project([0.5, 0.5], [1e-8, 1], 0.6);
    expect(r.d[0]).toBe(0);
    expect(r.d[1]).toBeCloseTo(0.1 - 0.5e-8, 12);
    expect(project([0.25, 0.5], [1, 1], 0.75)).toEqual({ d: [0, 0], length: 0 });
  });

  it('random problems: the cheapest L1 step by brute force over which coordinates go to the box', () => {
    const random = mulberry32(13);
    let multi = 0;
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 6);
      const point = Array.from({ length: n }, () => random());
      const w = Array.from({ length: n }, () => (random() < 0.15 ? 0 : 2 * random() - 1));
      const b = w.reduce((s, wi, i) => s + wi * point[i]!, 0) + (random() - 0.5) * 2;
      const { d, length } = project(point, w, b);
      const c = w.reduce((s, wi, i) => s + wi * point[i]!, 0) - b;
      // Coordinate i can change w . x by |w_i| room_i towards b (room to the bound in that direction).
      const room = w.map((wi, i) => ((c < 0 ? 1 : -1) * wi > 0 ? 1 - point[i]! : point[i]!));
      const gain = w.map((wi, i) => Math.abs(wi) * room[i]!);
      // Brute force: an optimal vertex moves a set S fully and at most one other coordinate j partly.
      let best = Infinity;
      for (let mask = 0; mask < 1 << n; mask++) {
        let cost = 0;
        let reached = 0;
        for (let i = 0; i < n; i++) {
          if (mask & (1 << i)) {
            cost += room[i]!;
            reached += gain[i]!;
          }
        }
        const rest = Math.abs(c) - reached;
        if (rest <= 1e-15) best = Math.min(best, cost);
        for (let j = 0; j < n; j++) {
          if (mask & (1 << j) || w[j] === 0) continue;
          const partial = rest / Math.abs(w[j]!);
          if (partial >= 0 && partial <= room[j]!) best = Math.min(best, cost + partial);
        }
      }
      d.forEach((v, i) => {
        expect(point[i]! + v).toBeGreaterThanOrEqual(-1e-12);
        expect(point[i]! + v).toBeLessThanOrEqual(1 + 1e-12);
      });
      if (best === Infinity) {
        expect(length).toBe(Infinity);
        continue;
      }
      expect(w.reduce((s, wi, i) => s + wi * (point[i]! + d[i]!), 0)).toBeCloseTo(b, 9);
      expect(sumAbs(d)).toBeCloseTo(best, 9);
      expect(length).toBeCloseTo(best, 9);
      if (d.filter((v) => v !== 0).length > 1) multi++;
    }
    expect(multi).toBeGreaterThan(20);
  });
});

describe("APGD-L1's sparse step", () => {
  it('moves the top share of |grad| by step / count with its sign, then projects (by hand)', () => {
    const step = (grad: number[], x: number[], stepSize: number, sparsity: number, eps = 10) =>
      Array.from(
        sparseL1Step({
          x: Float32Array.from(x),
          origin: Float32Array.from(x),
          grad: Float32Array.from(grad),
          stepSize: [stepSize],
          sparsity: [sparsity],
          rows: 1,
          eps,
          bounds: [0, 1],
        }),
      );
    // |grad| ascending: 0, 0.1, 0.3, 0.5; sparsity 0.5 -> rank floor(0.5 * 4) = 2 -> threshold 0.3: the
    // coordinates with -0.5 and 0.3 move by 0.2 / 2 each.
    const x = [0.5, 0.5, 0.5, 0.5];
    let out = step([0.1, -0.5, 0.3, 0], x, 0.2, 0.5);
    [0.5, 0.4, 0.6, 0.5].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    // Sparsity 0.2 -> rank floor(0.8 * 4) = 3 -> threshold 0.5: only one coordinate, by the whole step.
    out = step([0.1, -0.5, 0.3, 0], x, 0.2, 0.2);
    [0.5, 0.3, 0.5, 0.5].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    // A zero gradient moves nothing; the ball (eps 0.1) projects the step back.
    expect(step([0, 0, 0, 0], x, 0.2, 0.5)).toEqual(x);
    out = step([0.1, -0.5, 0.3, 0], x, 0.4, 0.5, 0.1);
    [0.5, 0.45, 0.55, 0.5].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  it("the larger-eps stages: 3 eps, 2 eps and eps for ceil(0.3 N), ceil(0.3 N) and the rest", () => {
    expect(largerEpsStages(12, 100)).toEqual([
      { eps: 36, steps: 30 },
      { eps: 24, steps: 30 },
      { eps: 12, steps: 40 },
    ]);
    expect(largerEpsStages(1, 10).map((s) => s.steps)).toEqual([3, 3, 4]);
    expect(largerEpsStages(1, 2).map((s) => s.steps)).toEqual([1, 1, 0]);
    expect(largerEpsStages(1, 25).map((s) => s.steps)).toEqual([8, 8, 9]);
  });
});

/**
 * A two-class linear model on 4x4x3 images in [0.3, 0.7], labelled by itself, with the closed-form L1
 * distance of each point to the boundary inside the box ({@link l1DistanceInBox}).
 */
function linearL1Case(seed: number) {
  const lin = linearModel([4, 4, 3], 2, seed);
  const x = tf.randomUniform([30, 4, 4, 3], 0.3, 0.7, 'float32', seed + 1) as tf.Tensor4D;
  const logits = tf.tidy(() => lin.model(x).arraySync() as number[][]);
  const labels = logits.map((row) => row.indexOf(Math.max(...row)));
  const xs = x.dataSync();
  const d = lin.d;
  const nearest = labels.map((y, i) => {
    const dw = Array.from({ length: d }, (_, j) => lin.weights[j * 2 + y]! - lin.weights[j * 2 + 1 - y]!);
    return l1DistanceInBox(logits[i]![y]! - logits[i]![1 - y]!, dw, xs.subarray(i * d, (i + 1) * d));
  });
  const distances = (adv: tf.Tensor4D) => Array.from(perturbationNorms(tf.sub(adv, x), 'l1').dataSync());
  return { lin, x, labels, nearest, distances };
}

describe('APGD-L1 on a linear model', () => {
  it('fools the points the L1 ball allows (the closed-form distance well inside eps), never the others', () => {
    const { lin, x, labels, nearest, distances } = linearL1Case(33);
    const eps = [...nearest].sort((a, b) => a - b)[15]!;
    for (const largerEps of [false, true]) {
      const adv = apgd(lin.model, x, labels, { eps, norm: 'l1', steps: 50, largerEps, seed: 1 });
      const dist = distances(adv);
      let fooled = 0;
      dist.forEach((d, i) => {
        expect(d).toBeLessThanOrEqual(eps * (1 + 1e-5));
        if (nearest[i]! > eps * (1 + 1e-5)) expect(d, `point ${i}`).toBe(0);
        if (nearest[i]! < eps * 0.9) {
          expect(d, `point ${i} (distance ${nearest[i]}, eps ${eps})`).toBeGreaterThan(0);
          fooled++;
        }
      });
      expect(fooled).toBeGreaterThan(5);
      adv.dispose();
    }
    x.dispose();
    lin.dispose();
  });
});

describe('L1 attacks on a trained small CNN', () => {
  let model: tfl.LayersModel;
  const { x, y } = syntheticData(40, 7);
  const accuracy = (images: tf.Tensor4D) => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(images) as tf.Tensor, 1), y), 'float32')).dataSync()[0]!);
  const l1 = (adv: tf.Tensor4D) => Array.from(perturbationNorms(tf.sub(adv, x), 'l1').dataSync());
  const inBounds = (adv: tf.Tensor4D) => tf.tidy(() => tf.min(adv).dataSync()[0]! >= 0 && tf.max(adv).dataSync()[0]! <= 1);

  beforeAll(async () => {
    model = await trainSmallCnn(1);
  });
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('APGD-CE, APGD-T (with and without larger eps), FAB, FAB-T and Square lower accuracy inside the L1 ball and the bounds, return one tensor, and repeat with the seed', () => {
    const eps = 1;
    const clean = accuracy(x);
    const runs: [string, () => tf.Tensor4D][] = [
      ['apgd', () => apgd(model, x, y, { eps, norm: 'l1', steps: 10, seed: 3 })],
      ['apgd largerEps', () => apgd(model, x, y, { eps, norm: 'l1', steps: 10, restarts: 2, largerEps: true, seed: 3 })],
      ['apgd dlr', () => apgd(model, x, y, { eps, norm: 'l1', loss: 'dlr', steps: 10, seed: 3 })],
      ['apgdTargeted largerEps', () => apgdTargeted(model, x, y, { eps, norm: 'l1', steps: 10, targetClasses: 2, largerEps: true, seed: 3 })],
      ['fab', () => fab(model, x, y, { eps, norm: 'l1', steps: 10, restarts: 2, seed: 3 })],
      ['fabTargeted', () => fabTargeted(model, x, y, { eps, norm: 'l1', steps: 10, targetClasses: 2 })],
      ['square', () => square(model, x, y, { eps, norm: 'l1', queries: 100, seed: 3 })],
    ];
    for (const [name, run] of runs) {
      const before = tf.memory().numTensors;
      const adv = run();
      expect(tf.memory().numTensors, name).toBe(before + 1);
      expect(accuracy(adv), name).toBeLessThan(clean);
      for (const d of l1(adv)) expect(d, name).toBeLessThanOrEqual(eps * (1 + 1e-5));
      expect(inBounds(adv), name).toBe(true);
      const again = run();
      expect(Array.from(again.dataSync()), name).toEqual(Array.from(adv.dataSync()));
      tf.dispose([adv, again]);
    }
  });

  it('the trace: L1 step sizes start at eps and stay in [eps / 10, eps]; the sparsity starts at a fifth', () => {
    const eps = 0.5;
    const events: { iteration: number; stepSize: Float32Array; sparsity?: Float32Array }[] = [];
    apgd(model, x, y, { eps, norm: 'l1', steps: 25, seed: 2, onIteration: (e) => events.push(e) }).dispose();
    expect(events[0]!.iteration).toBe(0);
    expect(Array.from(events[0]!.stepSize).every((s) => s === Math.fround(eps))).toBe(true);
    expect(Array.from(events[0]!.sparsity!).every((s) => s === Math.fround(0.2))).toBe(true);
    for (const e of events) for (const s of e.stepSize) expect(s >= Math.fround(eps / 10) && s <= Math.fround(eps)).toBe(true);
    // Both a cut and a reset happened somewhere.
    const sizes = new Set(events.flatMap((e) => Array.from(e.stepSize)));
    expect(sizes.size).toBeGreaterThan(2);
  });

  it("autoAttack standard L1: the reference's L1 settings, Square included (5000 queries); examples in the L1 ball; one tensor returned", () => {
    const eps = 1;
    const warnings: string[] = [];
    const events: AutoAttackProgress[] = [];
    const steps = 6;
    const before = tf.memory().numTensors;
    const r = autoAttack(model, x, y, { eps, norm: 'l1', steps, seed: 0, onWarning: (m) => warnings.push(m), onProgress: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(r.attacks).toEqual(['APGD-CE', 'APGD-T', 'FAB-T', 'Square']);
    // Only the steps override makes it non-standard.
    expect(r.standard).toBe(false);
    expect(warnings.filter((m) => /Square has no L1 version/.test(m))).toEqual([]);
    expect(r.robust).toBeLessThan(r.clean);
    for (const d of l1(r.adversarial)) expect(d).toBeLessThanOrEqual(eps * (1 + 1e-5));
    expect(inBounds(r.adversarial)).toBe(true);
    expect(accuracy(r.adversarial)).toBeCloseTo(r.robust, 6);
    // The budgets show in the progress: each batch's first step is 1 / (runs x steps) of it. APGD-CE:
    // 5 restarts; APGD-T: 5 targets of 1 restart; FAB-T: 9 targets.
    const firstFraction = (attack: string) => Math.min(...events.filter((e) => e.attack === attack && e.batchFraction > 0).map((e) => e.batchFraction));
    expect(firstFraction('APGD-CE')).toBeCloseTo(1 / (5 * steps), 12);
    expect(r.afterAttack['APGD-CE']).toBeGreaterThan(0);
    expect(firstFraction('APGD-T')).toBeCloseTo(1 / (5 * steps), 12);
    if (r.afterAttack['APGD-T']! > 0) expect(firstFraction('FAB-T')).toBeCloseTo(1 / (9 * steps), 12);
    // Square runs on the points FAB-T left (some are left at this eps), with the reference's 5000 queries.
    expect(r.afterAttack['FAB-T']).toBeGreaterThan(0);
    expect(firstFraction('Square')).toBeCloseTo(1 / 5000, 12);
    expect(r.afterAttack['Square']).toBeLessThanOrEqual(r.afterAttack['FAB-T']!);
    expect(r.robust).toBe(r.afterAttack['Square']);
    r.adversarial.dispose();
    // Without overrides the L1 version is the standard one (a one-point run: checked through the flag only).
    const one = tf.slice(x, 0, 1) as tf.Tensor4D;
    const wrongLabel = tf.tidy(() => [(tf.argMax(model.predict(one) as tf.Tensor, 1).dataSync()[0]! + 1) % 10]);
    const full = autoAttack(model, one, wrongLabel, { eps, norm: 'l1', onWarning: () => {} });
    expect(full.standard).toBe(true);
    tf.dispose([full.adversarial, one]);
    // The larger-eps schedule is on: it needs two iterations.
    expect(() => autoAttack(model, x, y, { eps, norm: 'l1', steps: 1, onWarning: () => {} })).toThrow(/steps = 1: largerEps needs at least 2/);
    // APGD-T's 5 and FAB-T's 9 target classes, capped on a 4-class model with a warning each.
    const small = linearModel([5, 5, 1], 4, 5);
    const xs = tf.randomUniform([3, 5, 5, 1], 0.3, 0.7, 'float32', 6) as tf.Tensor4D;
    const labels = tf.tidy(() => Array.from(tf.argMax(small.model(xs), 1).dataSync()));
    const smallWarnings: string[] = [];
    const rs = autoAttack(small.model, xs, labels, { eps: 0.1, norm: 'l1', steps: 2, queries: 10, onWarning: (m) => smallWarnings.push(m) });
    expect(smallWarnings.filter((m) => /target classes asked for/.test(m))).toEqual([
      '5 target classes asked for, but the model has only 3 other classes; using 3',
      '9 target classes asked for, but the model has only 3 other classes; using 3',
    ]);
    tf.dispose([rs.adversarial, xs]);
    small.dispose();
  });

  it('L1 errors: options that do not apply, and the attacks without an L1 version', () => {
    const before = tf.memory().numTensors;
    const notL1 = /norm = "l1": accepted values are 'linf' and 'l2' \(norm 'l1' is for apgd, apgdTargeted, fab, fabTargeted, square and autoAttack\)/;
    expect(() => pgd(model, x, y, { eps: 1, norm: 'l1' as never })).toThrow(notL1);
    expect(() => pgdAttack({ norm: 'l1' as never })).toThrow(notL1);
    expect(() => deepfool(model, x, y, { eps: 1, norm: 'l1' as never })).toThrow(notL1);
    expect(() => deepfoolAttack({ norm: 'l1' as never })).toThrow(notL1);
    expect(() => apgd(model, x, y, { eps: 1, largerEps: true })).toThrow(/largerEps: only with norm 'l1' \(the reference's use_largereps\), not 'linf'/);
    expect(() => apgd(model, x, y, { eps: 1, norm: 'l1', largerEps: 'yes' as never })).toThrow(/largerEps = "yes": must be true or false/);
    expect(() => apgd(model, x, y, { eps: 1, norm: 'l1', largerEps: true, steps: 1 })).toThrow(/steps = 1: largerEps needs at least 2/);
    expect(() => apgd(model, x, y, { eps: 1, norm: 'l1', schedule: 'paper' })).toThrow(/schedule = 'paper': norm 'l1' follows the reference code only/);
    expect(() => autoAttack(model, x, y, { eps: 1, norm: 'l1', version: 'plus' })).toThrow(/version = 'plus': not for norm 'l1'/);
    expect(fabAttack({ norm: 'l1' }).norm).toBe('l1');
    expect(squareAttack({ norm: 'l1' }).norm).toBe('l1');
    // Square in L1 is also a 'custom' AutoAttack component.
    expect(() => autoAttack(model, x, y, { eps: 1, norm: 'l1', version: 'custom', attacks: ['apgd-ce', 'square'], steps: 1, queries: 1, batchSize: 1, onWarning: () => {} }).adversarial.dispose()).not.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});
