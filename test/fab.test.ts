// FAB: the Linf and L2 projections by hand and against independent solutions, the minimal Linf and L2
// distances on a linear model in closed form, and the attack on a small CNN trained inside the test (seeded).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/data/random.js';
import { gatherNearest } from '../src/attacks/fab.js';
import { fab, fabAttack, fabTargeted, fabTargetedAttack, projectL2OntoHyperplane, projectLinfOntoHyperplane } from '../src/index.js';
import { l1DistanceInBox, linearModel } from './helpers/linear.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

/** A projection's step `d` and multiplier, for number arrays. */
const projector = (f: typeof projectLinfOntoHyperplane) => (point: number[], w: number[], b: number, lo = 0, hi = 1) => {
  const out = new Float64Array(point.length);
  const lambda = f(point, w, b, lo, hi, out);
  return { d: Array.from(out), lambda };
};
const project = projector(projectLinfOntoHyperplane);
/** A random projection problem: up to 8 coordinates in [0, 1], some zero weights, a plane near the point. */
const randomProblem = (random: () => number) => {
  const n = 1 + Math.floor(random() * 8);
  const point = Array.from({ length: n }, () => random());
  const w = Array.from({ length: n }, () => (random() < 0.15 ? 0 : 2 * random() - 1));
  const b = w.reduce((s, wi, i) => s + wi * point[i]!, 0) + (random() - 0.5) * 1.5;
  return { point, w, b };
};
const projectL2 = projector(projectL2OntoHyperplane);

describe('Linf projection onto a hyperplane inside a box', () => {
  it('hand cases: free, box-active, infeasible, zero weights, already on the plane', () => {
    // w . x = 1.2 from (0.5, 0.5): both coordinates up by 0.1.
    let r = project([0.5, 0.5], [1, 1], 1.2);
    r.d.forEach((v) => expect(v).toBeCloseTo(0.1, 12));
    expect(r.lambda).toBeCloseTo(0.1, 12);
    // From (0.95, 0.5) to w . x = 1.65: the first coordinate stops at 1 (0.05), the second goes 0.15.
    r = project([0.95, 0.5], [1, 1], 1.65);
    expect(r.d[0]).toBeCloseTo(0.05, 12);
    expect(r.d[1]).toBeCloseTo(0.15, 12);
    expect(r.lambda).toBeCloseTo(0.15, 12);
    // w = (2, -1), w . x = 0 from (0.5, 0.5): 3 lambda = 0.5 -> (-1/6, +1/6).
    r = project([0.5, 0.5], [2, -1], 0);
    expect(r.d[0]).toBeCloseTo(-1 / 6, 12);
    expect(r.d[1]).toBeCloseTo(1 / 6, 12);
    // Out of reach inside [0, 1]: the corner in the right direction.
    r = project([0.9, 0.1], [1, -2], 10);
    expect(r.d).toEqual([0.09999999999999998, -0.1]);
    expect(r.lambda).toBe(Infinity);
    // A zero weight never moves.
    r = project([0.3, 0.3], [0, 2], 0.8);
    expect(r.d[0]).toBe(0);
    expect(r.d[1]).toBeCloseTo(0.1, 12);
    expect(project([0.25, 0.5], [1, 1], 0.75).d).toEqual([0, 0]);
  });

  it('random problems: on the plane, in the box, and no smaller Linf step exists (independent bisection)', () => {
    const random = mulberry32(11);
    let boxActive = 0;
    for (let trial = 0; trial < 200; trial++) {
      const { point, w, b } = randomProblem(random);
      const { d, lambda } = project(point, w, b);
      d.forEach((v, i) => {
        expect(point[i]! + v).toBeGreaterThanOrEqual(-1e-12);
        expect(point[i]! + v).toBeLessThanOrEqual(1 + 1e-12);
      });
      // The best w . x reachable within Linf radius t in the box, towards the plane.
      const c = w.reduce((s, wi, i) => s + wi * point[i]!, 0) - b;
      const reach = (t: number) =>
        w.reduce((s, wi, i) => {
          if (wi === 0) return s;
          const up = (c < 0 ? 1 : -1) * wi > 0;
          return s + Math.abs(wi) * Math.min(t, up ? 1 - point[i]! : point[i]!);
        }, 0);
      if (reach(1) < Math.abs(c)) {
        expect(lambda).toBe(Infinity);
        continue;
      }
      const value = w.reduce((s, wi, i) => s + wi * (point[i]! + d[i]!), 0);
      expect(value).toBeCloseTo(b, 9);
      let [low, high] = [0, 1];
      for (let k = 0; k < 100; k++) {
        const mid = (low + high) / 2;
        reach(mid) >= Math.abs(c) ? (high = mid) : (low = mid);
      }
      expect(lambda).toBeCloseTo(high, 9);
      expect(Math.max(0, ...d.map(Math.abs))).toBeCloseTo(high, 9);
      if (d.some((v, i) => Math.abs(v) < lambda - 1e-9 && w[i] !== 0)) boxActive++;
    }
    expect(boxActive).toBeGreaterThan(5);
  });
});

describe('L2 projection onto a hyperplane inside a box', () => {
  it('hand cases: free (c w / ||w||^2), box-active, infeasible, tiny weights, other bounds', () => {
    // w . x = 1.2 from (0.5, 0.5), w = (1, 2): d = 0.3 w / 5 (inside the box).
    let r = projectL2([0.5, 0.5], [1, 2], 1.8);
    expect(r.d[0]).toBeCloseTo(0.06, 12);
    expect(r.d[1]).toBeCloseTo(0.12, 12);
    // From (0.5, 0.95), w = (1, 1), to w . x = 1.65: free d = (0.1, 0.1) would leave the box; the second
    // coordinate stops at 1 (0.05), the first takes the rest (0.15).
    r = projectL2([0.5, 0.95], [1, 1], 1.65);
    expect(r.d[0]).toBeCloseTo(0.15, 12);
    expect(r.d[1]).toBeCloseTo(0.05, 12);
    // Out of reach: the box corner in the right direction.
    r = projectL2([0.9, 0.1], [1, -2], 10);
    expect(r.d[0]).toBeCloseTo(0.1, 12);
    expect(r.d[1]).toBeCloseTo(-0.1, 12);
    expect(r.lambda).toBe(Infinity);
    // A weight below 1e-8 does not move (the reference's mask); on the plane already: no step.
    r = projectL2([0.3, 0.3], [1e-9, 2], 0.8);
    expect(r.d[0]).toBe(0);
    expect(r.d[1]).toBeCloseTo(0.1, 9);
    expect(projectL2([0.25, 0.5], [1, 1], 0.75).d).toEqual([0, 0]);
    // Bounds [-1, 1]: from 0.9 up to 1.5 along w = (1, 1): the first stops at 1, the second goes 0.5.
    r = projectL2([0.9, 0], [1, 1], 1.5, -1, 1);
    expect(r.d[0]).toBeCloseTo(0.1, 12);
    expect(r.d[1]).toBeCloseTo(0.5, 12);
  });

  it('random problems: on the plane, in the box, and the KKT point of min ||d||_2 (independent bisection on the multiplier)', () => {
    const random = mulberry32(12);
    let boxActive = 0;
    for (let trial = 0; trial < 200; trial++) {
      const { point, w, b } = randomProblem(random);
      const { d } = projectL2(point, w, b);
      d.forEach((v, i) => {
        expect(point[i]! + v).toBeGreaterThanOrEqual(-1e-12);
        expect(point[i]! + v).toBeLessThanOrEqual(1 + 1e-12);
      });
      // The minimiser of ||d||^2 on the plane in the box is d_i = clip(-mu w_i, -p_i, 1 - p_i) for the
      // multiplier mu where w . (p + d) = b; w . (p + d(mu)) is decreasing in mu: bisect mu.
      const dAt = (mu: number) => w.map((wi, i) => Math.min(Math.max(-mu * wi, -point[i]!), 1 - point[i]!));
      const value = (mu: number) => w.reduce((s, wi, i) => s + wi * (point[i]! + dAt(mu)[i]!), 0);
      if (value(-1e6) < b || value(1e6) > b) continue; // infeasible: the corner (hand case above)
      let [low, high] = [-1e6, 1e6];
      for (let k = 0; k < 200; k++) {
        const mid = (low + high) / 2;
        value(mid) > b ? (low = mid) : (high = mid);
      }
      const expected = dAt(high);
      d.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 8));
      expect(w.reduce((s, wi, i) => s + wi * (point[i]! + d[i]!), 0)).toBeCloseTo(b, 9);
      if (expected.some((v, i) => Math.abs(v) > 0 && Math.abs(v + high * w[i]!) > 1e-9)) boxActive++;
    }
    expect(boxActive).toBeGreaterThan(5);
  });
});

/**
 * 30 points of a 10-class linear model on 4x4x3 images in [lo, hi], labelled by it, with the
 * closed-form distance to the boundary between y and k, `(z_y - z_k) / ||w_y - w_k||_q` (q = 1 for
 * Linf, 2 for L2; the box inactive; L1: {@link l1DistanceInBox}, the box included), and the distances
 * of a batch of examples from x.
 */
function linearCase(seed: number, lo: number, hi: number, norm: 'linf' | 'l2' | 'l1') {
  const classes = 10;
  const lin = linearModel([4, 4, 3], classes, seed);
  const n = 30;
  const x = tf.randomUniform([n, 4, 4, 3], lo, hi, 'float32', seed + 1) as tf.Tensor4D;
  const logits = tf.tidy(() => lin.model(x).arraySync() as number[][]);
  const labels = logits.map((row) => row.indexOf(Math.max(...row)));
  const d = lin.d;
  const xs = x.dataSync();
  const distTo = (i: number, k: number) => {
    if (norm === 'l1') {
      const dw = Array.from({ length: d }, (_, j) => lin.weights[j * classes + labels[i]!]! - lin.weights[j * classes + k]!);
      return l1DistanceInBox(logits[i]![labels[i]!]! - logits[i]![k]!, dw, xs.subarray(i * d, (i + 1) * d));
    }
    let q = 0;
    for (let j = 0; j < d; j++) {
      const dw = lin.weights[j * classes + labels[i]!]! - lin.weights[j * classes + k]!;
      q += norm === 'linf' ? Math.abs(dw) : dw * dw;
    }
    return (logits[i]![labels[i]!]! - logits[i]![k]!) / (norm === 'linf' ? q : Math.sqrt(q));
  };
  const second = logits.map((row) => [...row.keys()].sort((a, b) => row[b]! - row[a]!)[1]!);
  const nearest = labels.map((y, i) => Math.min(...[...Array(classes).keys()].filter((k) => k !== y).map((k) => distTo(i, k))));
  const distances = (adv: tf.Tensor4D) => {
    const a = adv.dataSync();
    return labels.map((_, i) => {
      let m = 0;
      for (let j = 0; j < d; j++) {
        const diff = Math.abs(a[i * d + j]! - xs[i * d + j]!);
        m = norm === 'linf' ? Math.max(m, diff) : norm === 'l1' ? m + diff : m + diff * diff;
      }
      return norm === 'l2' ? Math.sqrt(m) : m;
    });
  };
  return { lin, x, n, labels, distTo, second, nearest, distances };
}

describe('FAB-L2 and FAB-L1 on a linear model', () => {
  // L2: the box [0, 1] stays inactive (the boundaries are closer than 0.4 / max|w_y - w_k| per
  // coordinate). L1: the closed form is the fractional knapsack inside the box, active for some points.
  it.each([
    ['L2', '(z_y - z_k) / ||w_y - w_k||_2', 'l2', 23, 0.4, 0.6],
    ['L1', 'inside the box (the coordinates of largest |w_y - w_k| first)', 'l1', 31, 0.3, 0.7],
  ] as const)('FAB-T and FAB reach the closed-form %s distance %s from above, within 1 percent; one tensor returned', (_name, _formula, norm, seed, lo, hi) => {
    // The overshoot (eta 1.05) and back-step (beta 0.9) settle ~0.5% above the boundary of a linear model (measured in L2: at most 1.0052 d*).
    const { lin, x, n, labels, distTo, second, nearest, distances } = linearCase(seed, lo, hi, norm);
    const before = tf.memory().numTensors;
    const targeted = fabTargeted(lin.model, x, labels, { eps: 100, norm, steps: 100, targetClasses: 1 });
    expect(tf.memory().numTensors).toBe(before + 1);
    let checked = 0;
    distances(targeted).forEach((dist, i) => {
      const dStar = distTo(i, second[i]!);
      // The FAB-T example crosses some boundary (possibly another class's, nearer than the target's).
      expect(dist).toBeGreaterThanOrEqual(nearest[i]! * (1 - 1e-5));
      expect(dist).toBeLessThanOrEqual(dStar * 1.01);
      if (nearest[i]! === dStar) {
        expect(dist).toBeGreaterThanOrEqual(dStar * (1 - 1e-5));
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(10);
    // Untargeted: the nearest boundary of all.
    const untargeted = fab(lin.model, x, labels, { eps: 100, norm, steps: 100 });
    distances(untargeted).forEach((dist, i) => {
      expect(dist).toBeGreaterThanOrEqual(nearest[i]! * (1 - 1e-5));
      expect(dist).toBeLessThanOrEqual(nearest[i]! * 1.01);
    });
    // With eps at the median distance: fooled only where the example fits in the ball.
    const eps = [...nearest].sort((a, b) => a - b)[Math.floor(n / 2)]!;
    const tight = distances(fab(lin.model, x, labels, { eps, norm, steps: 100 }));
    tight.forEach((dist, i) => {
      expect(dist).toBeLessThanOrEqual(eps * (1 + 1e-6));
      if (nearest[i]! > eps * (1 + 1e-5)) expect(dist).toBe(0);
      if (nearest[i]! * 1.01 < eps) expect(dist).toBeGreaterThan(0);
    });
    tf.dispose([x, targeted, untargeted]);
    lin.dispose();
  });
});

describe('FAB-T on a linear model', () => {
  it('finds the boundary to the second class within [d*, eta d*] of the closed-form Linf distance, fooling exactly when eps allows', () => {
    const { lin, x, n, labels, distTo, second, nearest, distances } = linearCase(21, 0.3, 0.7, 'linf');
    const target = second.map((k, i) => distTo(i, k));
    // A generous budget: every point is fooled, between its nearest boundary and 1.05 x the target's.
    const wide = fabTargeted(lin.model, x, labels, { eps: 1, steps: 20, targetClasses: 1 });
    distances(wide).forEach((dist, i) => {
      expect(dist).toBeGreaterThanOrEqual(nearest[i]! * (1 - 1e-5));
      expect(dist).toBeLessThanOrEqual(1.05 * target[i]! * (1 + 1e-5));
    });
    // eps between the distances: fooled iff 1.05 d* fits; never when even the nearest boundary is beyond eps.
    const eps = [...target].sort((a, b) => a - b)[Math.floor(n / 2)]!;
    const tight = fabTargeted(lin.model, x, labels, { eps, steps: 20, targetClasses: 1 });
    const dt = distances(tight);
    let fooled = 0;
    let missed = 0;
    dt.forEach((dist, i) => {
      if (1.05 * target[i]! < eps * (1 - 1e-5)) {
        expect(dist).toBeGreaterThan(0);
        fooled++;
      }
      if (nearest[i]! > eps * (1 + 1e-5)) {
        expect(dist).toBe(0);
        missed++;
      }
      expect(dist).toBeLessThanOrEqual(eps + 1e-7);
    });
    expect(fooled).toBeGreaterThan(5);
    expect(missed).toBeGreaterThan(5);
    tf.dispose([x, wide, tight]);
    lin.dispose();
  });
});

describe('FAB on a trained small CNN', () => {
  let model: tfl.LayersModel;
  const { x, y } = syntheticData(40, 7);
  const correct = (images: tf.Tensor4D) => tf.tidy(() => Array.from(tf.equal(tf.argMax(model.predict(images) as tf.Tensor, 1), y).dataSync(), Boolean));
  const accuracy = (images: tf.Tensor4D) => correct(images).filter(Boolean).length / x.shape[0];
  const linf = (adv: tf.Tensor4D) => tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync()));

  beforeAll(async () => {
    model = await trainSmallCnn(1);
  });
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y]);
  });

  it('FAB-T lowers accuracy within eps and the bounds; unfooled points come back clean; one tensor returned; seeded', () => {
    const eps = 8 / 255;
    const before = tf.memory().numTensors;
    const adv = fabTargeted(model, x, y, { eps, steps: 10, targetClasses: 2 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(accuracy(adv)).toBeLessThan(accuracy(x) - 0.1);
    const ok = correct(adv);
    linf(adv).forEach((d, i) => {
      expect(d).toBeLessThanOrEqual(eps);
      if (ok[i]) expect(d).toBe(0);
    });
    const [lo, hi] = tf.tidy(() => [tf.min(adv).dataSync()[0]!, tf.max(adv).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    const again = fabTargeted(model, x, y, { eps, steps: 10, targetClasses: 2 });
    expect(Array.from(again.dataSync())).toEqual(Array.from(adv.dataSync()));
    tf.dispose([adv, again]);
  });

  it('untargeted FAB lowers accuracy; restarts (random starts) only add fooled points; clean errors stay', () => {
    const eps = 6 / 255;
    const labels = Array.from(y.dataSync());
    for (let i = 0; i < 4; i++) labels[i] = (labels[i]! + 1) % 10;
    const steps: number[] = [];
    const one = fab(model, x, labels, { eps, steps: 8, onStep: (s) => steps.push(s) });
    const three = fab(model, x, labels, { eps, steps: 8, restarts: 3, seed: 1 });
    expect(steps[steps.length - 1]).toBe(8);
    const [d1, d3] = [linf(one), linf(three)];
    for (let i = 0; i < 4; i++) expect(d1[i]).toBe(0);
    expect(d1.filter((d) => d > 0).length).toBeGreaterThan(5);
    d1.forEach((d, i) => {
      if (d > 0) expect(d3[i]).toBeGreaterThan(0);
    });
    tf.dispose([one, three]);
  });

  it('as Attack values, and bad options', () => {
    expect([fabAttack().name, fabTargetedAttack().name]).toEqual(['FAB', 'FAB-T']);
    const adv = fabTargetedAttack({ steps: 3, targetClasses: 1 }).run(model, x, y, 8 / 255);
    expect(accuracy(adv)).toBeLessThan(accuracy(x));
    adv.dispose();
    const before = tf.memory().numTensors;
    expect(() => fab(model, x, y, { eps: -1 })).toThrow(/eps = -1: must be a finite number >= 0/);
    expect(() => fab(model, x, y, { eps: 0.1, norm: 'l0' as never })).toThrow(/norm = "l0": accepted values are 'linf', 'l2' and 'l1'/);
    expect(() => fab(model, x, y, { eps: 0.1, eta: 0.5 })).toThrow(/eta = 0.5: must be a finite number >= 1/);
    expect(() => fab(model, x, y, { eps: 0.1, beta: 0 })).toThrow(/beta = 0: must be a finite number > 0 and <= 1/);
    expect(() => fabTargeted(model, x, y, { eps: 0.1, targetClasses: 10 })).toThrow(/targetClasses = 10: must be an integer >= 1 and <= 9/);
    // The default of 9 target classes is capped at classes - 1 for a model with fewer classes.
    const small = linearModel([2, 2, 1], 4, 5);
    const xs = tf.randomUniform([3, 2, 2, 1], 0.3, 0.7, 'float32', 6) as tf.Tensor4D;
    const advSmall = fabTargeted(small.model, xs, [0, 1, 2], { eps: 0.1, steps: 2 });
    expect(advSmall.shape).toEqual([3, 2, 2, 1]);
    tf.dispose([advSmall, xs]);
    small.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("untargeted FAB's gradient of the nearest class", () => {
  it('equals the sum over classes of each gradient times the one-hot pick (tfjs ops), bit for bit, with -0, Infinity and NaN gradients', () => {
    const random = mulberry32(29);
    const [classes, n, dim] = [4, 5, 7];
    // Gradients with zeros of both signs and, in some rows of some classes, Infinity and NaN.
    const grads = Float32Array.from({ length: classes * n * dim }, () => {
      const u = random();
      return u < 0.1 ? -0 : u < 0.2 ? 0 : u < 0.23 ? Infinity : u < 0.26 ? NaN : random() - 0.5;
    });
    const nearest = Int32Array.from({ length: n }, () => Math.floor(random() * classes));
    const dual = tf.tidy(() => tf.sum(tf.abs(tf.tensor3d(grads, [classes, n, dim])), 2).dataSync() as Float32Array);
    const expected = tf.tidy(() => {
      const pick = tf.transpose(tf.oneHot(tf.tensor1d(nearest, 'int32'), classes));
      return tf.sum(tf.mul(tf.tensor3d(grads, [classes, n, dim]), tf.expandDims(pick, 2)), 0).dataSync() as Float32Array;
    });
    const actual = new Float32Array(n * dim);
    gatherNearest(grads, dual, nearest, classes, n, actual);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    // The cases occur: a NaN from another class, and a picked -0.
    expect(Array.from(actual).some((v, i) => Number.isNaN(v) && !Number.isNaN(grads[nearest[Math.floor(i / dim)]! * n * dim + i]!))).toBe(true);
    expect(Array.from(actual).some((v, i) => Object.is(grads[nearest[Math.floor(i / dim)]! * n * dim + i], -0))).toBe(true);
  });
});
