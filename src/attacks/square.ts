/**
 * Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020, "Square Attack: a
 * query-efficient black-box adversarial attack via random search"), Linf, L2 and L1, as AutoAttack runs it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, mulberry32 } from '../data/random.js';
import { prepare, untargetedAttack, type Attack } from './attack.js';
import { crossEntropy, cwLoss } from './losses.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNormWithL1, type Norm } from './norms.js';
import { squareL1Candidate, squareL1Pattern, squareL1Start } from './square-l1.js';
import { checkSquareL2Height, referenceSideRoot, squareL2Candidate, squareL2Pattern, squareL2Side, squareL2Start } from './square-l2.js';
import { NonFiniteLogitsError, nonFiniteCodes, throwIfNonFinite } from './finite.js';
import { attackRows, indicesWhere, putRows, runCascade, takeRows } from './rows.js';
import { checkNumber, checkOptionKeys, checkSeed, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link square}. */
export interface SquareOptions {
  /** Budget (>= 0) in pixel units, e.g. 8/255 in Linf, 0.5 in L2 or 12 in L1 on [0, 1] CIFAR-10 images. */
  eps: number;
  /**
   * `'linf'` (default), `'l2'` or `'l1'` (the reference's L2 and L1 windows; images at least 5 pixels
   * high).
   */
  norm?: Norm;
  /** Iterations (queries after the initial one) per restart, >= 1 (default 5000, AutoAttack's). */
  queries?: number;
  /** Initial fraction of the pixels a square covers, in (0, 1] (default 0.8). */
  pInit?: number;
  /** Restarts (>= 1, default 1); each attacks only the points still robust. */
  restarts?: number;
  /** `'margin'` (`z_y - max_{j != y} z_j`, default) or `'ce'` (minus the cross-entropy), the loss minimised. */
  loss?: 'margin' | 'ce';
  /**
   * Rescale the iteration counter to a 10000-query schedule of p (the reference's `resc_schedule`;
   * default false, as AutoAttack runs it).
   */
  rescaleSchedule?: boolean;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
  /** Seed of all randomness (default 0, as the reference); restart r draws from a seed derived from it. */
  seed?: number;
  /** Called after every iteration with the iterations done and the most there can be. */
  onStep?: (step: number, total: number) => void;
}

/** The option names {@link square} accepts. */
const SQUARE_OPTION_KEYS = optionKeys<SquareOptions>({
  eps: true,
  norm: true,
  queries: true,
  pInit: true,
  restarts: true,
  loss: true,
  rescaleSchedule: true,
  bounds: true,
  seed: true,
  onStep: true,
});

interface SquareConfig {
  eps: number;
  norm: Norm;
  queries: number;
  pInit: number;
  restarts: number;
  loss: 'margin' | 'ce';
  rescaleSchedule: boolean;
  seed: number;
  onStep?: (step: number, total: number) => void;
}

function resolve(options: SquareOptions, name: string): SquareConfig {
  if (!options || typeof options !== 'object') throw new TypeError(`${name}: options with at least { eps } are required`);
  checkOptionKeys(options, SQUARE_OPTION_KEYS, name);
  const loss = options.loss ?? 'margin';
  if (loss !== 'margin' && loss !== 'ce') throw new RangeError(`loss = ${JSON.stringify(loss)}: accepted values are 'margin' and 'ce'`);
  return {
    eps: checkNumber(options.eps, 'eps', { min: 0 }),
    norm: checkNormWithL1(options.norm),
    queries: checkNumber(options.queries ?? 5000, 'queries', { min: 1, integer: true }),
    pInit: checkNumber(options.pInit ?? 0.8, 'pInit', { min: 0, minExclusive: true, max: 1 }),
    restarts: checkNumber(options.restarts ?? 1, 'restarts', { min: 1, integer: true }),
    loss,
    rescaleSchedule: options.rescaleSchedule ?? false,
    seed: checkSeed(options.seed) ?? 0,
    onStep: options.onStep,
  };
}

/**
 * Square's schedule of p, the fraction of pixels a square covers at (0-based) iteration `iteration`:
 * `pInit` up to iteration 10, then halved after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000
 * and 8000 (`pInit / 512` from 8001 on). With `rescale` the iteration is first mapped to a 10000-query
 * run, `floor(iteration / queries * 10000)`.
 */
export function squareFraction(iteration: number, pInit: number, queries: number, rescale: boolean): number {
  const it = rescale ? Math.floor((iteration / queries) * 10000) : iteration;
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  while (halvings < bounds.length && it > bounds[halvings]!) halvings++;
  return pInit / 2 ** halvings;
}

/**
 * Side (pixels) of the Linf square at fraction `p` of an `height x width x channels` image, as the
 * reference (AutoAttack's `square.py`) computes it: `max(int(round(sqrt(p * n_features / c))), 1)` with
 * `n_features = c h w`, in the same float operations and with Python's `round` (halves to even:
 * `p h w = 6.25` gives 2, not 3). No cap at `h - 1` (that is the original Square Attack code's, not
 * AutoAttack's): a side equal to the image's fills it. `channels` defaults to 1.
 */
export function squareSide(p: number, height: number, width: number, channels = 1): number {
  return Math.max(referenceSideRoot(p, height, width, channels), 1);
}

/**
 * Per-example margin `z_y - max_{j != y} z_j` (<= 0: misclassified) and the loss Square minimises, in
 * one read-back with the non-finite codes of the logits; a {@link NonFiniteLogitsError} (rows of `x`)
 * when some are not finite.
 */
function marginAndLoss(model: ModelLike, x: tf.Tensor4D, labels: tf.Tensor1D, loss: 'margin' | 'ce') {
  const n = x.shape[0];
  const all = tf.tidy(() => {
    const z = logitsOf(model, x);
    const margin = tf.neg(cwLoss(z, labels));
    const value = loss === 'margin' ? margin : tf.neg(crossEntropy(z, labels));
    return tf.stack([margin, value, tf.cast(nonFiniteCodes(z), 'float32')]).dataSync();
  });
  throwIfNonFinite(all.subarray(2 * n), 'square');
  return { margin: Float32Array.from(all.subarray(0, n)), loss: Float32Array.from(all.subarray(n, 2 * n)) };
}

/** One Square run on validated rows (all classified correctly); returns the best points found. */
function squareRun(model: ModelLike, x: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: SquareConfig, seed: number, progress: () => void): tf.Tensor4D {
  const [lo, hi] = bounds;
  const [n, h, w, c] = x.shape;
  const { eps } = cfg;
  const random = mulberry32(seed);
  const sign = () => (random() < 0.5 ? -1 : 1);
  let best: tf.Tensor4D;
  if (cfg.norm === 'l2') {
    best = squareL2Start(x, eps, bounds, random, sign);
  } else if (cfg.norm === 'l1') {
    best = squareL1Start(x, eps, bounds, random, sign);
  } else {
    // Vertical stripes: one random sign per image, column and channel.
    const stripes = new Float32Array(n * w * c);
    for (let i = 0; i < stripes.length; i++) stripes[i] = eps * sign();
    best = tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(stripes, [n, 1, w, c])), lo, hi) as tf.Tensor4D);
  }
  /** The clean images and best points of the active rows (no copy while every row is active). */
  const rowsOf = (active: number[]): [tf.Tensor4D, tf.Tensor4D] =>
    active.length === n ? [x, best] : [takeRows(x, active), takeRows(best, active)];
  // The reference draws a corner from [0, side - s) (and 0 when the square fills the side).
  const corner = (s: number): [number, number] => [Math.floor(random() * (h - s)), Math.floor(random() * (w - s))];
  /** Linf: one window of the batch moved to a vertex of the eps-box, one random sign per channel. */
  const linfCandidate = (p: number, active: number[]) => {
    // At most the image's smaller side: the reference's corner draw assumes the square fits (a wider than
    // high image can ask for more).
    const s = Math.min(squareSide(p, h, w, c), h, w);
    const [top, left] = corner(s);
    const signs = Array.from({ length: c }, () => 2 * eps * sign());
    const window = new Float32Array(h * w * c);
    for (let i = top; i < top + s; i++) for (let j = left; j < left + s; j++) for (let k = 0; k < c; k++) window[(i * w + j) * c + k] = signs[k]!;
    return tf.tidy(() => {
      const [xCurr, bestCurr] = rowsOf(active);
      const moved = tf.add(bestCurr, tf.tensor4d(window, [1, h, w, c]));
      return tf.clipByValue(tf.minimum(tf.maximum(moved, tf.sub(xCurr, eps)), tf.add(xCurr, eps)), lo, hi) as tf.Tensor4D;
    });
  };
  /** L2 and L1: the reference's two windows, its pattern (transposed at random) and a sign per row and channel. */
  const windowsCandidate = (p: number, active: number[]) => {
    const s = squareL2Side(p, h, w, c);
    const first = corner(s);
    const second = corner(s);
    const pattern = (cfg.norm === 'l1' ? squareL1Pattern : squareL2Pattern)(s, random() > 0.5);
    const signs = Float32Array.from({ length: active.length * c }, sign);
    const candidate = cfg.norm === 'l1' ? squareL1Candidate : squareL2Candidate;
    return tf.tidy(() => candidate(...rowsOf(active), { s, first, second, pattern, signs }, eps, bounds));
  };
  try {
    const { margin, loss } = marginAndLoss(model, best, labels, cfg.loss);
    for (let iteration = 0; iteration < cfg.queries; iteration++) {
      const active = indicesWhere(Array.from(margin, (m) => (m > 0 ? 1 : 0)));
      if (active.length === 0) break;
      const p = squareFraction(iteration, cfg.pInit, cfg.queries, cfg.rescaleSchedule);
      const yCurr = takeRows(labels, active);
      const candidate = cfg.norm === 'linf' ? linfCandidate(p, active) : windowsCandidate(p, active);
      try {
        let next: ReturnType<typeof marginAndLoss>;
        try {
          next = marginAndLoss(model, candidate, yCurr, cfg.loss);
        } catch (e) {
          throw e instanceof NonFiniteLogitsError ? e.remap('square', active, n) : e;
        }
        const accept = new Uint8Array(active.length);
        active.forEach((row, k) => {
          const improved = next.loss[k]! < loss[row]!;
          if (improved) loss[row] = next.loss[k]!;
          if (improved || next.margin[k]! <= 0) {
            accept[k] = 1;
            margin[row] = next.margin[k]!;
          }
        });
        if (accept.some(Boolean)) {
          const merged = putRows(best, active, candidate, accept);
          best.dispose();
          best = merged;
        }
      } finally {
        tf.dispose([yCurr, candidate]);
      }
      progress();
    }
    return best;
  } catch (e) {
    best.dispose();
    throw e;
  }
}

/**
 * Square Attack, Linf, L2 or L1, as AutoAttack runs it: a black-box random search that uses forward passes
 * only (so it works where gradients are masked). Linf: it starts from vertical stripes of `+-eps`;
 * each iteration draws one square window (its side from the schedule of {@link squareFraction}, one
 * random position for the batch) and a random sign per channel, moves the window of every point still
 * classified correctly to that vertex of its eps-box. L2 (the current reference's L2 version): it starts
 * from a grid of signed two-lobe patterns (each transposed at random, a random sign per point and
 * channel) on the eps-sphere; each iteration draws two windows of odd side (at least 3) and, per
 * channel, moves the perturbation's mass of both into the first as a signed two-lobe pattern (random
 * sign per point and channel), then rescales to norm eps. L1 (the reference's L1 version): the same
 * with patterns of unit L1 norm (rectangles weighted `1 / (k + 1)^4`) and the projection onto the L1
 * ball in the bounds after every move. The
 * move is kept where the loss (margin by default) decreases or the point becomes misclassified. Points
 * are dropped once misclassified.
 *
 * @param model a `tf.LayersModel` (inference mode) or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds`; not modified
 * @param y true labels `[N]`
 * @returns a new batch: the adversarial example (inside the eps-ball and the bounds) where a restart
 *   succeeded, the clean image elsewhere (including points misclassified to begin with)
 * @see Andriushchenko et al., ECCV 2020; github.com/fra31/auto-attack (`SquareAttack`)
 */
export function square(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: SquareOptions): tf.Tensor4D {
  const cfg = resolve(options, 'square');
  const p = prepare(model, x, y, options.bounds);
  try {
    if (cfg.norm !== 'linf') checkSquareL2Height(x.shape[1], 'square', cfg.norm);
    const predict = (t: tf.Tensor4D) => logitsOf(model, t);
    const total = cfg.restarts * cfg.queries;
    return runCascade(predict, p.x, p.labels, 'square', (state) => {
      for (let r = 0; r < cfg.restarts; r++) {
        let done = r * cfg.queries;
        attackRows(state, p.x, p.labels, indicesWhere(state.robust), (xs, ys) => {
          return { examples: squareRun(model, xs, ys, p.bounds, cfg, deriveSeed(cfg.seed, r), () => cfg.onStep?.(++done, total)) };
        }, { predict, where: 'square' });
        cfg.onStep?.((r + 1) * cfg.queries, total);
      }
    });
  } finally {
    p.labels.dispose();
  }
}

/** Options of {@link squareAttack}: those of {@link square} without the budget, plus a display name. */
export type SquareAttackOptions = Omit<SquareOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'Square'`). */
  name?: string;
};

/** Square as an {@link Attack} value (fixed-epsilon, untargeted; Linf, L2 or L1), e.g. for {@link robustAccuracy}. */
export function squareAttack(options: SquareAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, SQUARE_OPTION_KEYS, 'squareAttack');
  resolve({ ...rest, eps: 0 }, 'squareAttack');
  return untargetedAttack(name ?? 'Square', checkNormWithL1(options.norm), options.bounds, (model, x, labels, eps) => square(model, x, labels, { ...rest, eps }));
}
