/**
 * Square Attack's L2 updates (Andriushchenko et al., ECCV 2020, Section 3.2; github fra31/auto-attack,
 * `SquareAttack` with `norm='L2'`): the centred square patterns, the start from a grid of them, and the
 * move of a window's mass that keeps the perturbation on the eps-sphere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { l2Norms } from './norms.js';

/** Python's `round` (half to even), which the reference's window sides use. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The reference's `eta_rectangles(rows, cols)`: concentric rectangles around the centre, the k-th
 * (k = 0, 1, ...) adding `1 / (k + 1)^2`, scaled to unit L2 norm; row-major `[rows, cols]`.
 */
export function squareRectangles(rows: number, cols: number): Float64Array {
  const delta = new Float64Array(rows * cols);
  let r0 = Math.floor(rows / 2);
  let c0 = Math.floor(cols / 2);
  const rings = Math.max(Math.floor(rows / 2) + 1, Math.floor(cols / 2) + 1);
  for (let k = 0; k < rings; k++) {
    for (let i = Math.max(r0, 0); i < Math.min(r0 + 2 * k + 1, rows); i++) {
      for (let j = Math.max(c0, 0); j < Math.min(c0 + 2 * k + 1, cols); j++) delta[i * cols + j]! += 1 / (k + 1) ** 2;
    }
    r0--;
    c0--;
  }
  return scaleToUnit(delta);
}

function scaleToUnit(v: Float64Array): Float64Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const length = Math.sqrt(sum);
  return v.map((x) => x / length);
}

/**
 * The reference's `eta(s)`: an `s x s` pattern, the upper `floor(s / 2)` rows {@link squareRectangles}
 * and the lower rows its negative, unit L2 norm, transposed when `transpose`; row-major.
 */
export function squareL2Pattern(s: number, transpose: boolean): Float64Array {
  const half = Math.floor(s / 2);
  const top = squareRectangles(half, s);
  const bottom = squareRectangles(s - half, s);
  const delta = new Float64Array(s * s);
  delta.set(top, 0);
  for (let i = 0; i < bottom.length; i++) delta[half * s + i] = -bottom[i]!;
  const unit = scaleToUnit(delta);
  if (!transpose) return unit;
  return unit.map((_, k) => unit[(k % s) * s + Math.floor(k / s)]!);
}

/**
 * Side of the L2 windows at fraction `p` of an `height x width` image, as the reference:
 * `max(round(sqrt(p h w)), 3)`, made odd; at most the image's smaller side (the reference needs images
 * larger than the window).
 */
export function squareL2Side(p: number, height: number, width: number): number {
  let s = Math.max(roundHalfEven(Math.sqrt(p * height * width)), 3);
  if (s % 2 === 0) s++;
  return Math.min(s, height, width);
}

/**
 * The reference's L2 start: a grid of `floor(h / 5)`-pixel windows (offset `(h - 5 s) / 2`), each
 * filled with {@link squareRectangles} times a random sign per image and channel, scaled to L2 norm
 * eps and clipped to the bounds. Draws `n * c` signs per window, windows row by row (those past the
 * image edge draw too and are cut off, as the reference's slices).
 */
export function squareL2Start(x: tf.Tensor4D, eps: number, bounds: [number, number], sign: () => number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const s = Math.floor(h / 5);
  checkSquareL2Height(h, 'square');
  const start = Math.floor((h - 5 * s) / 2);
  const pattern = squareRectangles(s, s);
  const delta = new Float32Array(n * h * w * c);
  for (let a = 0, top = start; a < Math.floor(h / s); a++, top += s) {
    for (let b = 0, left = start; b < Math.floor(w / s); b++, left += s) {
      for (let r = 0; r < n; r++) {
        for (let k = 0; k < c; k++) {
          const signed = sign();
          for (let i = 0; i < s && top + i < h; i++) {
            for (let j = 0; j < s && left + j < w; j++) delta[((r * h + top + i) * w + left + j) * c + k]! += pattern[i * s + j]! * signed;
          }
        }
      }
    }
  }
  return tf.tidy(() => {
    const d = tf.tensor4d(delta, x.shape);
    return tf.clipByValue(tf.add(x, tf.mul(tf.div(d, tf.add(l2Norms(d), 1e-12)), eps)), bounds[0], bounds[1]) as tf.Tensor4D;
  });
}

/** L2 Square's start grid needs images at least 5 pixels high (the reference divides by `floor(h / 5)`). */
export function checkSquareL2Height(height: number, where: string): void {
  if (height < 5) throw new RangeError(`${where} (norm 'l2'): Square needs images at least 5 pixels high, got ${height}`);
}

/** Where one L2 iteration moves mass: from the window at `second` to the window at `first`, side `s`. */
export interface SquareL2Move {
  s: number;
  first: [number, number];
  second: [number, number];
  /** The `s x s` pattern ({@link squareL2Pattern}). */
  pattern: Float64Array;
  /** One sign per (row, channel), row-major `[m, c]`. */
  signs: Float32Array;
}

/**
 * The reference's L2 candidate for rows `xCurr` (clean) at `bestCurr` (their best points): in the
 * first window, per channel, the old perturbation (normalised) plus the signed pattern, rescaled so
 * that the mass of both windows plus the room left to the eps-sphere (shared by the channels) lands
 * there; the second window is emptied; the whole perturbation is scaled to norm eps and clipped to the
 * bounds. A new tensor.
 */
export function squareL2Candidate(xCurr: tf.Tensor4D, bestCurr: tf.Tensor4D, move: SquareL2Move, eps: number, bounds: [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [m, h, w, c] = xCurr.shape;
    const { s, first, second } = move;
    const window = (top: number, left: number) => {
      const mask = new Float32Array(h * w);
      for (let i = top; i < top + s; i++) for (let j = left; j < left + s; j++) mask[i * w + j] = 1;
      return mask;
    };
    const mask1 = window(...first);
    const mask2 = window(...second);
    const union = tf.tensor4d(mask1.map((v, k) => Math.max(v, mask2[k]!)), [1, h, w, 1]);
    const delta = tf.sub(bestCurr, xCurr);
    const spatialNorms = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), [1, 2], true));
    const old = tf.slice(delta, [0, first[0], first[1], 0], [m, s, s, c]);
    const normsImage = l2Norms(delta);
    const normsWindows = l2Norms(tf.mul(delta, union));
    const fresh = tf.mul(tf.tensor4d(Float32Array.from(move.pattern), [1, s, s, 1]), tf.tensor4d(move.signs, [m, 1, 1, c]));
    const summed = tf.add(fresh, tf.div(old, tf.add(spatialNorms(old), 1e-12)));
    const room = tf.sqrt(tf.add(tf.div(tf.relu(tf.sub(eps * eps, tf.square(normsImage))), c), tf.square(normsWindows)));
    const placed = tf.mul(tf.div(summed, tf.add(spatialNorms(summed), 1e-12)), room);
    const keep = tf.tensor4d(mask1.map((v, k) => (v || mask2[k] ? 0 : 1)), [1, h, w, 1]);
    const padded = tf.pad(placed, [[0, 0], [first[0], h - first[0] - s], [first[1], w - first[1] - s], [0, 0]]);
    const next = tf.add(tf.mul(delta, keep), padded);
    return tf.clipByValue(tf.add(xCurr, tf.mul(tf.div(next, tf.add(l2Norms(next), 1e-12)), eps)), bounds[0], bounds[1]) as tf.Tensor4D;
  });
}
