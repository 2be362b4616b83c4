// FAB's hyperplane projections (Linf, L2, L1), which find their breakpoint by selection, against the
// sorting implementation they replaced (test/helpers/fab-projection-sorted.ts): the same step and the same
// multiplier, bit for bit (signed zeros included), on random points, weights (zeros, ties, weights under
// the 1e-8 floor), boxes and hyperplanes (a fraction of the reach, exactly at a breakpoint, the corner).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/data/random.js';
import { projectL1OntoHyperplane, projectL2OntoHyperplane, projectLinfOntoHyperplane } from '../src/index.js';
import { sortedProjectL1OntoHyperplane, sortedProjectL2OntoHyperplane, sortedProjectLinfOntoHyperplane } from './helpers/fab-projection-sorted.js';

type Projection = typeof projectLinfOntoHyperplane;
const NORMS: { name: string; fast: Projection; sorted: Projection; l2: boolean; l1: boolean }[] = [
  { name: 'Linf', fast: projectLinfOntoHyperplane, sorted: sortedProjectLinfOntoHyperplane, l2: false, l1: false },
  { name: 'L2', fast: projectL2OntoHyperplane, sorted: sortedProjectL2OntoHyperplane, l2: true, l1: false },
  { name: 'L1', fast: projectL1OntoHyperplane, sorted: sortedProjectL1OntoHyperplane, l2: false, l1: true },
];

/** Where the hyperplane is: `|w . point - b|` as a fraction of what the box allows, exactly what moving to one breakpoint gives, or more than the corner reaches. */
type Reach = 'near' | 'far' | 'breakpoint' | 'all' | 'beyond';

interface Problem {
  point: ArrayLike<number>;
  w: ArrayLike<number>;
  b: number;
  lo: number;
  hi: number;
}

/**
 * A random problem: `n` coordinates in [lo, hi] (some on a bound, some -0, a few just outside), weights
 * with zeros, ties (also of opposite sign) and weights at and under the 1e-8 floor, on a grid of
 * `1 / grid` (exact sums, exact ties) or not (`grid` 0), as float32 arrays or numbers.
 */
function makeProblem(n: number, seed: number, grid: number, box: [number, number], reach: Reach, float32: boolean, norm: (typeof NORMS)[number]): Problem {
  const random = mulberry32(seed);
  const [lo, hi] = box;
  const snap = (v: number) => (grid > 0 ? Math.round(v * grid) / grid : v);
  const point = Array.from({ length: n }, () => {
    const u = random();
    if (u < 0.1) return lo;
    if (u < 0.2) return hi;
    if (u < 0.25 && lo === 0) return -0;
    if (u < 0.28) return snap(lo - 0.05 * random()); // outside the box: a negative room
    return snap(lo + (hi - lo) * random());
  });
  const w: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = random();
    if (u < 0.12) w.push(0);
    else if (u < 0.17) w.push((random() < 0.5 ? -1 : 1) * (random() < 0.5 ? 1e-8 : 5e-9 * random()));
    else if (u < 0.3 && i > 0) w.push((random() < 0.5 ? -1 : 1) * Math.abs(w[Math.floor(random() * i)]!)); // a tie in |w|
    else w.push(snap(2 * random() - 1) || 0.5);
  }
  const P = float32 ? Float32Array.from(point) : point;
  const W = float32 ? Float32Array.from(w) : w;
  // The side of the plane, then |c| from what the box allows on that side.
  const sign = random() < 0.5 ? 1 : -1;
  const direction = sign >= 0 ? -1 : 1;
  const floor = norm.l1 || norm.l2 ? 1e-8 : 0;
  const moves = (i: number) => (norm.l1 ? Math.abs(W[i]!) > floor : W[i] !== 0 && !(Math.abs(W[i]!) < floor));
  const room = (i: number) => {
    const r = direction * W[i]! > 0 ? hi - P[i]! : P[i]! - lo;
    return norm.l1 ? Math.max(r, 0) : r;
  };
  let capacity = 0;
  for (let i = 0; i < n; i++) if (moves(i)) capacity += Math.abs(W[i]!) * room(i);
  let target: number;
  if (reach === 'near') target = capacity * 0.05 * random();
  else if (reach === 'far') target = capacity * random();
  else if (reach === 'all') target = capacity;
  else if (reach === 'beyond') target = capacity * (1 + random()) + random();
  else {
    // |c| = what moving exactly to one breakpoint gives (summed in another order than the projections').
    const movers = Array.from({ length: n }, (_, i) => i).filter(moves);
    if (movers.length === 0) target = random();
    else if (norm.l1) {
      const order = movers.sort((i, j) => Math.abs(W[j]!) - Math.abs(W[i]!) || i - j);
      const k = Math.floor(random() * order.length);
      target = order.slice(0, k + 1).reduceRight((s, i) => s + Math.abs(W[i]!) * room(i), 0);
    } else {
      const speed = (i: number) => (norm.l2 ? Math.abs(W[i]!) : 1);
      const j = movers[Math.floor(random() * movers.length)]!;
      const lambda = room(j) / speed(j);
      target = movers.reduceRight((s, i) => s + Math.abs(W[i]!) * Math.min(speed(i) * lambda, room(i)), 0);
    }
  }
  let dot = 0;
  for (let i = 0; i < n; i++) dot += W[i]! * P[i]!;
  return { point: P, w: W, b: snap(dot - sign * Math.abs(target)), lo, hi };
}

/** The first coordinate where two steps differ (Object.is: -0 is not 0), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('FAB projections by selection equal the sorting implementation', () => {
  it('random problems (fast-check, seeded), all three norms: the same step and multiplier, bit for bit', () => {
    const seen = { corner: 0, onPlane: 0, zeroStep: 0, large: 0 };
    const problems = fc.record({
      n: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 400 })),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      grid: fc.constantFrom(0, 0, 4, 64),
      box: fc.constantFrom<[number, number]>([0, 1], [0, 1], [-1, 1], [0.25, 0.75]),
      reach: fc.constantFrom<Reach>('near', 'far', 'breakpoint', 'breakpoint', 'all', 'beyond'),
      float32: fc.boolean(),
      out32: fc.boolean(),
    });
    fc.assert(
      fc.property(problems, ({ n, seed, grid, box, reach, float32, out32 }) => {
        for (const norm of NORMS) {
          const { point, w, b, lo, hi } = makeProblem(n, seed, grid, box, reach, float32, norm);
          const make = () => (out32 ? new Float32Array(n) : new Float64Array(n)).fill(7);
          const expected = make();
          const actual = make();
          const lambda = norm.sorted(point, w, b, lo, hi, expected);
          const got = norm.fast(point, w, b, lo, hi, actual);
          const at = firstDifference(actual, expected);
          if (at >= 0 || !Object.is(got, lambda)) {
            throw new Error(`${norm.name}: multiplier ${got} vs ${lambda}; step at ${at}: ${actual[at]} vs ${expected[at]}`);
          }
          if (lambda === Infinity) seen.corner++;
          else if (lambda === 0) seen.zeroStep++;
          else seen.onPlane++;
          if (n > 100) seen.large++;
        }
      }),
      { numRuns: 1500, seed: 20261219 },
    );
    // The problems cover the cases: the corner, a step onto the plane, no step, many coordinates.
    expect(seen.corner).toBeGreaterThan(100);
    expect(seen.onPlane).toBeGreaterThan(1000);
    expect(seen.zeroStep).toBeGreaterThan(0);
    expect(seen.large).toBeGreaterThan(500);
  });

  it('FAB-sized rows (3072 coordinates, float32 gradients): the same as the sorting implementation', () => {
    const random = mulberry32(7);
    for (let trial = 0; trial < 12; trial++) {
      const n = 3072;
      // Pixels on the 1/255 grid (many equal rooms) or moved off it; gradients of mixed scale, a few zeros.
      const onGrid = trial % 2 === 0;
      const point = Float32Array.from({ length: n }, () => (onGrid ? Math.round(random() * 255) / 255 : random()));
      const w = Float32Array.from({ length: n }, () => (random() < 0.02 ? 0 : (random() - 0.5) * 10 ** (-6 * random())));
      let dot = 0;
      for (let i = 0; i < n; i++) dot += w[i]! * point[i]!;
      const b = dot + (random() - 0.5) * 10 ** (-1 - 4 * random());
      for (const norm of NORMS) {
        const expected = new Float64Array(n);
        const actual = new Float64Array(n);
        const lambda = norm.sorted(point, w, b, 0, 1, expected);
        expect(norm.fast(point, w, b, 0, 1, actual), norm.name).toBe(lambda);
        expect(firstDifference(actual, expected), norm.name).toBe(-1);
      }
    }
  });
});
