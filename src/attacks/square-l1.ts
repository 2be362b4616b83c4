/**
 * Square Attack's L1 updates, as the L1 branch of the reference code (github fra31/auto-attack,
 * `SquareAttack` with `norm='L1'`, the last attack of AutoAttack's standard L1 version): window
 * patterns of concentric rectangles weighted `1 / (k + 1)^4` with unit L1 norm, the start from a grid of
 * them, and the move of two windows' mass into one, each followed by the projection onto the L1 ball
 * intersected with the box.
 */
import * as tf from '@tensorflow/tfjs-core';
import { l1ProjectionCorrection } from './l1-projection.js';
import { checkSquareL2Height, concentricRectangles, squareStartGrid, twoLobePattern, type SquareL2Move } from './square-l2.js';

/** `v` divided by its L1 norm (the reference's `delta / delta.abs().sum()`). */
function scaleToUnitL1(v: Float64Array): Float64Array {
  let sum = 0;
  for (const x of v) sum += Math.abs(x);
  return v.map((x) => x / sum);
}

/** The reference's L1 `eta_rectangles(rows, cols)`: {@link concentricRectangles} (power 4) scaled to unit L1 norm. */
export function squareL1Rectangles(rows: number, cols: number): Float64Array {
  return scaleToUnitL1(concentricRectangles(rows, cols, 4));
}

/**
 * The reference's L1 `eta(s)`: an `s x s` pattern, the upper `floor(s / 2)` rows
 * {@link squareL1Rectangles} and the lower rows its negative, unit L1 norm, transposed when
 * `transpose`; row-major.
 */
export function squareL1Pattern(s: number, transpose: boolean): Float64Array {
  return twoLobePattern(s, transpose, squareL1Rectangles, scaleToUnitL1);
}

/**
 * The radius the reference projects onto, as a fraction of eps: `eps (1 - 1e-6)`, so that adding the
 * projected perturbation in float32 stays inside the eps-ball.
 */
const PROJECTION_RADIUS = 1 - 1e-6;

/**
 * Per row of the flattened `[rows, size]` arrays: `x + delta` projected onto the L1 ball of radius
 * `eps (1 - 1e-6)` around `x` intersected with the bounds, added in float32 as the reference does
 * (`x + delta + correction`) and clipped to the bounds (which only rounding can leave).
 */
function projectedPoints(x: Float32Array, delta: Float32Array, rows: number, eps: number, bounds: [number, number]): Float32Array {
  const [lo, hi] = bounds;
  const correction = l1ProjectionCorrection(delta, x, rows, eps * PROJECTION_RADIUS, lo, hi);
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(Math.fround(Math.fround(x[i]! + delta[i]!) + correction[i]!), lo), hi);
  return out;
}

/**
 * The reference's L1 start: the {@link squareStartGrid} whose windows hold {@link squareL1Pattern}
 * (each transposed at random: one draw of `random` per window, before its signs) times a random sign
 * per image and channel, projected onto the L1 ball of radius eps in the bounds. Images at least 5
 * pixels high.
 */
export function squareL1Start(x: tf.Tensor4D, eps: number, bounds: [number, number], random: () => number, sign: () => number): tf.Tensor4D {
  checkSquareL2Height(x.shape[1], 'square', 'l1');
  const delta = squareStartGrid(x.shape, sign, (s) => squareL1Pattern(s, random() > 0.5));
  return tf.tensor4d(projectedPoints(x.dataSync() as Float32Array, delta, x.shape[0], eps, bounds), x.shape);
}

/**
 * The reference's L1 candidate for rows `xCurr` (clean) at `bestCurr` (their best points). Per row and
 * channel k: the first window becomes the signed pattern plus the old window divided by its L1 norm,
 * rescaled to L1 norm `c (room / c + m_k)`, where `room = max(eps - ||delta||_1, 0)` and `m_k` is
 * channel k's L1 mass in the two windows; the second window is emptied (where it does not overlap the
 * first); then the perturbation is projected onto the L1 ball in the bounds. A new tensor. Computed
 * row by row on the typed arrays, as the L2 candidate.
 */
export function squareL1Candidate(xCurr: tf.Tensor4D, bestCurr: tf.Tensor4D, move: SquareL2Move, eps: number, bounds: [number, number]): tf.Tensor4D {
  const [m, h, w, c] = xCurr.shape;
  const { s, first, second, pattern, signs } = move;
  const xs = xCurr.dataSync() as Float32Array;
  const bs = bestCurr.dataSync();
  const size = h * w * c;
  // float32 as the reference's x_best - x, and its perturbation tensor.
  const delta = new Float32Array(xCurr.size);
  for (let q = 0; q < delta.length; q++) delta[q] = bs[q]! - xs[q]!;
  const inside = ([top, left]: [number, number], i: number, j: number) => i >= top && i < top + s && j >= left && j < left + s;
  /** Index of channel k of window pixel (i, j) of the window at `corner`, in row `r`. */
  const at = (r: number, [top, left]: [number, number], i: number, j: number, k: number) => ((r * h + top + i) * w + left + j) * c + k;
  const firstNorms = new Float64Array(c);
  const windowNorms = new Float64Array(c);
  const placedNorms = new Float64Array(c);
  const placed = new Float64Array(s * s * c);
  for (let r = 0; r < m; r++) {
    let image = 0;
    firstNorms.fill(0);
    windowNorms.fill(0);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const [inFirst, inSecond] = [inside(first, i, j), inside(second, i, j)];
        for (let k = 0; k < c; k++) {
          const v = Math.abs(delta[((r * h + i) * w + j) * c + k]!);
          image += v;
          if (inFirst) firstNorms[k]! += v;
          if (inFirst || inSecond) windowNorms[k]! += v;
        }
      }
    }
    placedNorms.fill(0);
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        for (let k = 0; k < c; k++) {
          const v = pattern[i * s + j]! * signs[r * c + k]! + delta[at(r, first, i, j, k)]! / (firstNorms[k]! + 1e-12);
          placed[(i * s + j) * c + k] = v;
          placedNorms[k]! += Math.abs(v);
        }
      }
    }
    const room = Math.max(eps - image, 0) / c;
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let k = 0; k < c; k++) delta[at(r, second, i, j, k)] = 0;
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        for (let k = 0; k < c; k++) delta[at(r, first, i, j, k)] = (placed[(i * s + j) * c + k]! / (placedNorms[k]! + 1e-12)) * (room + windowNorms[k]!) * c;
      }
    }
  }
  return tf.tensor4d(projectedPoints(xs, delta, m, eps, bounds), xCurr.shape);
}
