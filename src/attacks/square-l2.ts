/**
 * Square Attack's L2 updates (Andriushchenko et al., ECCV 2020, Section 3.2; github fra31/auto-attack,
 * `SquareAttack` with `norm='L2'`, as its current version, the one with the L1 branch): the two-lobe
 * window patterns, the start from a grid of them, and the per-channel move of two windows' mass that
 * keeps the perturbation on the eps-sphere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { peekFloat32 } from '../backend/alloc.js';
import { l2Norms } from './norms.js';

/**
 * `round(sqrt(p * n_features / c))` with `n_features = c h w`, as the reference computes its window
 * sides: the same float operations in the same order (`p h w` can differ from it in the last bit, which
 * decides the rounding of a root near a half), and Python's `round`, which takes halves to the even
 * neighbour (2.5 to 2, where `Math.round` gives 3).
 */
export function referenceSideRoot(p: number, height: number, width: number, channels: number): number {
  const v = Math.sqrt((p * (channels * height * width)) / channels);
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Concentric rectangles around the centre of a `rows x cols` grid, the k-th (k = 0, 1, ...) adding
 * `1 / (k + 1)^power` (the reference's `eta_rectangles` before its scaling: power 2 in L2, 4 in L1);
 * row-major.
 */
export function concentricRectangles(rows: number, cols: number, power: number): Float64Array {
  const delta = new Float64Array(rows * cols);
  let r0 = Math.floor(rows / 2);
  let c0 = Math.floor(cols / 2);
  const rings = Math.max(Math.floor(rows / 2) + 1, Math.floor(cols / 2) + 1);
  for (let k = 0; k < rings; k++) {
    for (let i = Math.max(r0, 0); i < Math.min(r0 + 2 * k + 1, rows); i++) {
      for (let j = Math.max(c0, 0); j < Math.min(c0 + 2 * k + 1, cols); j++) delta[i * cols + j]! += 1 / (k + 1) ** power;
    }
    r0--;
    c0--;
  }
  return delta;
}

/** `v` divided by its L2 norm. */
function scaleToUnit(v: Float64Array): Float64Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const length = Math.sqrt(sum);
  return v.map((x) => x / length);
}

/** The reference's L2 `eta_rectangles(rows, cols)`: {@link concentricRectangles} (power 2) scaled to unit L2 norm. */
export function squareRectangles(rows: number, cols: number): Float64Array {
  return scaleToUnit(concentricRectangles(rows, cols, 2));
}

/**
 * The reference's `eta(s)`: an `s x s` pattern, the upper `floor(s / 2)` rows `lobe(floor(s / 2), s)`
 * and the lower rows `-lobe(s - floor(s / 2), s)`, scaled by `scale`, transposed when `transpose`;
 * row-major.
 */
export function twoLobePattern(s: number, transpose: boolean, lobe: (rows: number, cols: number) => Float64Array, scale: (v: Float64Array) => Float64Array): Float64Array {
  const half = Math.floor(s / 2);
  const bottom = lobe(s - half, s);
  const delta = new Float64Array(s * s);
  delta.set(lobe(half, s), 0);
  for (let i = 0; i < bottom.length; i++) delta[half * s + i] = -bottom[i]!;
  const unit = scale(delta);
  if (!transpose) return unit;
  return unit.map((_, k) => unit[(k % s) * s + Math.floor(k / s)]!);
}

/** The reference's L2 `eta(s)`: {@link twoLobePattern} of {@link squareRectangles}, unit L2 norm; row-major. */
export function squareL2Pattern(s: number, transpose: boolean): Float64Array {
  return twoLobePattern(s, transpose, squareRectangles, scaleToUnit);
}

/**
 * Side of the L2 and L1 windows at fraction `p` of an `height x width x channels` image, as the
 * reference computes it: `max(round(sqrt(p n / channels)), 3)` with `n = channels height width` and
 * Python's half-to-even `round`, made odd; at most the image's smaller side (the reference needs
 * images larger than the window).
 */
export function squareL2Side(p: number, height: number, width: number, channels: number): number {
  let s = Math.max(referenceSideRoot(p, height, width, channels), 3);
  if (s % 2 === 0) s++;
  return Math.min(s, height, width);
}

/**
 * The reference's start grid: `floor(h / 5)`-pixel windows (offset `(h - 5 s) / 2`), row by row, each
 * filled with `patternOf(s)` (called once per window, before the window's signs) times a random sign
 * per image and channel (`n * c` draws of `sign`, image by image); windows past the image edge draw
 * too and are cut off, as the reference's slices. The perturbation, NHWC.
 */
export function squareStartGrid(shape: [number, number, number, number], sign: () => number, patternOf: (s: number) => Float64Array): Float32Array {
  const [n, h, w, c] = shape;
  const s = Math.floor(h / 5);
  const start = Math.floor((h - 5 * s) / 2);
  const delta = new Float32Array(n * h * w * c);
  for (let a = 0, top = start; a < Math.floor(h / s); a++, top += s) {
    for (let b = 0, left = start; b < Math.floor(w / s); b++, left += s) {
      const pattern = patternOf(s);
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
  return delta;
}

/**
 * The reference's L2 start: the {@link squareStartGrid} whose windows hold {@link squareL2Pattern}
 * (the reference's `eta(s)`, each transposed at random: one draw of `random` per window, before its
 * signs), scaled to L2 norm eps and clipped to the bounds.
 */
export function squareL2Start(x: tf.Tensor4D, eps: number, bounds: [number, number], random: () => number, sign: () => number): tf.Tensor4D {
  checkSquareL2Height(x.shape[1], 'square');
  const delta = squareStartGrid(x.shape, sign, (s) => squareL2Pattern(s, random() > 0.5));
  return tf.tidy(() => {
    const d = tf.tensor4d(delta, x.shape);
    return tf.clipByValue(tf.add(x, tf.mul(tf.div(d, tf.add(l2Norms(d), 1e-12)), eps)), bounds[0], bounds[1]) as tf.Tensor4D;
  });
}

/**
 * Square in L2 and L1 starts from a grid of `floor(h / 5)`-pixel windows, so it needs images at least 5
 * pixels high (the reference divides by `floor(h / 5)`).
 */
export function checkSquareL2Height(height: number, where: string, norm: 'l2' | 'l1' = 'l2'): void {
  if (height < 5) throw new RangeError(`${where} (norm '${norm}'): Square needs images at least 5 pixels high, got ${height}`);
}

/** Where one L2 or L1 iteration moves mass: from the window at `second` to the window at `first`, side `s`. */
export interface SquareL2Move {
  s: number;
  first: [number, number];
  second: [number, number];
  /** The `s x s` pattern ({@link squareL2Pattern}, or `squareL1Pattern` in L1). */
  pattern: Float64Array;
  /** One sign per (row, channel), row-major `[m, c]`. */
  signs: Float32Array;
}

/**
 * The reference's L2 candidate for rows `xCurr` (clean) at `bestCurr` (their best points). Per row and
 * channel k: the first window becomes the signed pattern plus the old window divided by its L2 norm,
 * rescaled to L2 norm `sqrt(room / c + m_k^2)`, where `room = max(eps^2 - ||delta||_2^2, 0)` and `m_k` is
 * channel k's L2 mass in the two windows; the second window is emptied (where it does not overlap the
 * first); the whole perturbation is scaled to norm eps and clipped to the bounds. A new tensor.
 * Computed row by row on the typed arrays (a few passes over each image; as tfjs ops the per-row and
 * per-window broadcasts cost ~50 ms each on 200 CIFAR-10 images).
 */
export function squareL2Candidate(xCurr: tf.Tensor4D, bestCurr: tf.Tensor4D, move: SquareL2Move, eps: number, bounds: [number, number]): tf.Tensor4D {
  const [m, h, w, c] = xCurr.shape;
  const { s, first, second, pattern, signs } = move;
  // Read in place (dataSync would mark the buffers as seen outside, which keeps the buffer pool from recycling them).
  const xs = peekFloat32(xCurr);
  const bs = peekFloat32(bestCurr);
  const out = new Float32Array(xCurr.size);
  const pixels = h * w;
  const size = pixels * c;
  // The pixels of either window (the same two windows for every row).
  const windowed = new Uint8Array(pixels);
  for (const [top, left] of [first, second]) for (let i = 0; i < s; i++) windowed.fill(1, (top + i) * w + left, (top + i) * w + left + s);
  /** Offset of channel 0 of pixel (i, j) of the first window. */
  const firstAt = (i: number, j: number) => ((first[0] + i) * w + first[1] + j) * c;
  const delta = new Float64Array(size);
  const placed = new Float64Array(s * s * c);
  const channelNorms = new Float64Array(c);
  const windows = new Float64Array(c);
  // Per channel: the old window's norm (+ 1e-12), the row's sign, the new window's norm (+ 1e-12) and mass.
  const [oldNorms, rowSigns, newNorms, masses] = [new Float64Array(c), new Float64Array(c), new Float64Array(c), new Float64Array(c)];
  for (let r = 0; r < m; r++) {
    const offset = r * size;
    let image = 0;
    windows.fill(0);
    for (let pixel = 0, q = 0; pixel < pixels; pixel++) {
      const inWindow = windowed[pixel] === 1;
      for (let k = 0; k < c; k++, q++) {
        const d = bs[offset + q]! - xs[offset + q]!;
        delta[q] = d;
        const squared = d * d;
        image += squared;
        if (inWindow) windows[k]! += squared;
      }
    }
    // Per channel: the old window's norm, then the pattern plus the normalised old window. The window's
    // elements are visited in the same order in every pass: window row i, then column j, then channel k.
    channelNorms.fill(0);
    for (let i = 0; i < s; i++) {
      for (let j = 0, at = firstAt(i, 0); j < s; j++) {
        for (let k = 0; k < c; k++, at++) channelNorms[k]! += delta[at]! * delta[at]!;
      }
    }
    for (let k = 0; k < c; k++) {
      oldNorms[k] = Math.sqrt(channelNorms[k]!) + 1e-12;
      rowSigns[k] = signs[r * c + k]!;
    }
    channelNorms.fill(0);
    for (let i = 0, e = 0; i < s; i++) {
      for (let j = 0, at = firstAt(i, 0); j < s; j++) {
        const weight = pattern[i * s + j]!;
        for (let k = 0; k < c; k++, at++, e++) {
          const v = weight * rowSigns[k]! + delta[at]! / oldNorms[k]!;
          placed[e] = v;
          channelNorms[k]! += v * v;
        }
      }
    }
    const roomPerChannel = Math.max(eps * eps - image, 0) / c;
    for (let k = 0; k < c; k++) {
      newNorms[k] = Math.sqrt(channelNorms[k]!) + 1e-12;
      masses[k] = Math.sqrt(roomPerChannel + windows[k]!);
    }
    // Empty both windows, then fill the first.
    for (let pixel = 0, q = 0; pixel < pixels; pixel++, q += c) if (windowed[pixel] === 1) for (let k = 0; k < c; k++) delta[q + k] = 0;
    for (let i = 0, e = 0; i < s; i++) {
      for (let j = 0, at = firstAt(i, 0); j < s; j++) {
        for (let k = 0; k < c; k++, at++, e++) delta[at] = (placed[e]! / newNorms[k]!) * masses[k]!;
      }
    }
    let length = 0;
    for (let q = 0; q < size; q++) length += delta[q]! * delta[q]!;
    const scale = eps / (Math.sqrt(length) + 1e-12);
    for (let q = 0; q < size; q++) out[offset + q] = Math.min(Math.max(xs[offset + q]! + delta[q]! * scale, bounds[0]), bounds[1]);
  }
  return tf.tensor4d(out, xCurr.shape);
}
