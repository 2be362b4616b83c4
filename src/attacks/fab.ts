/**
 * FAB, the Fast Adaptive Boundary attack (Croce & Hein, ICML 2020, "Minimally distorted adversarial
 * examples with a fast adaptive boundary attack"), Linf, L2 and L1, untargeted and targeted (FAB-T), as
 * AutoAttack runs it (github fra31/auto-attack, `FABAttack`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, mulberry32 } from '../data/random.js';
import { prepare, untargetedAttack, type Attack, type Prepared } from './attack.js';
import { projectL1OntoHyperplane, projectL2OntoHyperplane, projectLinfOntoHyperplane } from './fab-projection.js';
import { throwIfNonFinite, type JudgedRows } from './finite.js';
import { gradientWithValues } from './gradient.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNormWithL1, type Norm } from './norms.js';
import { attackRows, classesAtRank, indicesWhere, judgeRowsOf, runCascade, targetClassCount } from './rows.js';
import { checkNumber, checkOptionKeys, checkSeed, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link fab}. */
export interface FabOptions {
  /** Budget (>= 0) in the norm: a point counts as fooled only when its adversarial example is within eps. */
  eps: number;
  /** `'linf'` (default), `'l2'` or `'l1'`: the distance FAB minimises (and its projection, its random start). */
  norm?: Norm;
  /** Iterations per run (>= 1, default 100). */
  steps?: number;
  /**
   * Runs (>= 1, default 1; AutoAttack's `plus` uses 5 for FAB); the first starts at the clean image,
   * later ones at a random point at distance `eps / 2` (Linf: `t / max|t|`, `t ~ U(-1, 1)`; L2:
   * `t / ||t||_2`; L1: `t / ||t||_1`; `t ~ N(0, 1)`), clipped to the bounds. Each attacks only the
   * points still robust.
   */
  restarts?: number;
  /** Largest weight of the step from the clean image, in [0, 1] (default 0.1). */
  alphaMax?: number;
  /** Overshoot of each projection step, >= 1 (default 1.05). */
  eta?: number;
  /** Backward step towards the clean image after a success, in (0, 1] (default 0.9). */
  beta?: number;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
  /** Seed of the random starts of restarts (default 0); run r of target t draws from a seed derived from it. */
  seed?: number;
  /** Called after every iteration with the iterations done and the most there can be. */
  onStep?: (step: number, total: number) => void;
}

/** Options of {@link fabTargeted}. */
export interface FabTargetedOptions extends FabOptions {
  /** Target classes tried, ranked 2, 3, ... by the clean logits (>= 1, at most classes - 1; default 9, or classes - 1 when fewer). */
  targetClasses?: number;
}

/** The option names {@link fab} accepts. */
const FAB_OPTION_KEYS = optionKeys<FabOptions>({
  eps: true,
  norm: true,
  steps: true,
  restarts: true,
  alphaMax: true,
  eta: true,
  beta: true,
  bounds: true,
  seed: true,
  onStep: true,
});

/** The option names {@link fabTargeted} accepts. */
const FAB_TARGETED_OPTION_KEYS: readonly string[] = [...FAB_OPTION_KEYS, 'targetClasses'];

interface FabConfig {
  /** The function reporting errors, e.g. `'fab'`. */
  where: string;
  eps: number;
  norm: Norm;
  steps: number;
  restarts: number;
  alphaMax: number;
  eta: number;
  beta: number;
  seed: number;
  onStep?: (step: number, total: number) => void;
}

function resolve(options: FabOptions, name: string, keys: readonly string[]): FabConfig {
  if (!options || typeof options !== 'object') throw new TypeError(`${name}: options with at least { eps } are required`);
  checkOptionKeys(options, keys, name);
  return {
    where: name,
    eps: checkNumber(options.eps, 'eps', { min: 0 }),
    norm: checkNormWithL1(options.norm),
    steps: checkNumber(options.steps ?? 100, 'steps', { min: 1, integer: true }),
    restarts: checkNumber(options.restarts ?? 1, 'restarts', { min: 1, integer: true }),
    alphaMax: checkNumber(options.alphaMax ?? 0.1, 'alphaMax', { min: 0, max: 1 }),
    eta: checkNumber(options.eta ?? 1.05, 'eta', { min: 1 }),
    beta: checkNumber(options.beta ?? 0.9, 'beta', { min: 0, minExclusive: true, max: 1 }),
    seed: checkSeed(options.seed) ?? 0,
    onStep: options.onStep,
  };
}

/**
 * The linearised boundary FAB steps to at `x`: per row the logit difference `f = z_k - z_y` and its
 * gradient, for `k` the target (targeted) or the class whose linearised boundary is nearest,
 * `|f_k| / ||grad f_k||_q` with `q` the dual norm (Linf: L1; L2: L2; L1: Linf) (untargeted; all classes'
 * gradients from one batched backward pass). `g` is the gradient tensor's own array (read once, not
 * copied) or, untargeted, the picked rows gathered into `gathered` (`[n * dim]`).
 */
function linearise(model: ModelLike, x: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, numClasses: number, norm: Norm, gathered: Float32Array): { f: Float32Array; g: Float32Array } {
  if (targets) {
    const [fTensor, gTensor] = tf.tidy(() => {
      const { grad, value } = gradientWithValues(model, x, (z) => tf.sum(tf.mul(z, tf.sub(tf.oneHot(targets, numClasses), tf.oneHot(labels, numClasses))), 1));
      return [value, grad];
    });
    try {
      return { f: fTensor.dataSync() as Float32Array, g: gTensor.dataSync() as Float32Array };
    } finally {
      tf.dispose([fTensor, gTensor]);
    }
  }
  const n = x.shape[0];
  const tensors = tf.tidy(() => {
    // Block k of the tiled batch differentiates z_k - z_y.
    const classes = tf.reshape(tf.tile(tf.reshape(tf.range(0, numClasses, 1, 'int32'), [numClasses, 1]), [1, n]), [-1]);
    const selector = tf.sub(tf.oneHot(classes, numClasses), tf.oneHot(tf.tile(labels, [numClasses]), numClasses));
    const { grad: grads, value: diff } = gradientWithValues(model, tf.tile(x, [numClasses, 1, 1, 1]), (z) => tf.sum(tf.mul(z, selector), 1));
    const f = tf.reshape(diff, [numClasses, n]);
    const flat = tf.reshape(grads, [numClasses, n, -1]);
    // The label's own "difference" is excluded (the reference sets it to 1e10).
    const isLabel = tf.cast(tf.transpose(tf.oneHot(labels, numClasses)), 'bool');
    const dual = norm === 'linf' ? tf.sum(tf.abs(flat), 2) : norm === 'l2' ? tf.sqrt(tf.sum(tf.square(flat), 2)) : tf.max(tf.abs(flat), 2);
    const distance = tf.where(isLabel, tf.fill([numClasses, n], Infinity), tf.div(tf.abs(f), tf.add(dual, 1e-12)));
    const nearest = tf.argMin(distance, 0);
    return { grads, dual, nearest, f: tf.sum(tf.mul(f, tf.transpose(tf.oneHot(nearest, numClasses))), 0) };
  });
  try {
    const grads = tensors.grads.dataSync() as Float32Array;
    const dual = tensors.dual.dataSync() as Float32Array;
    const nearest = tensors.nearest.dataSync() as Int32Array;
    gatherNearest(grads, dual, nearest, numClasses, n, gathered);
    return { f: tensors.f.dataSync() as Float32Array, g: gathered };
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Row `r` of class `nearest[r]`'s block of `grads` (`[classes, n, dim]`) into `out` (`[n, dim]`), as
 * the sum over classes of the gradients times the one-hot pick gave it (in tensors, before): the picked
 * value, with -0 as +0, and NaN where another class's gradient is not finite (0 * Infinity). Only rows
 * whose dual norm (`dual`, `[classes, n]`: infinite or NaN whenever a gradient is) is not finite are
 * searched for those. Exported for the tests.
 */
export function gatherNearest(grads: Float32Array, dual: Float32Array, nearest: Int32Array, numClasses: number, n: number, out: Float32Array): void {
  const dim = out.length / n;
  for (let r = 0; r < n; r++) {
    const k = nearest[r]!;
    const from = (k * n + r) * dim;
    for (let j = 0; j < dim; j++) out[r * dim + j] = grads[from + j]! + 0;
    for (let c = 0; c < numClasses; c++) {
      if (c === k || Number.isFinite(dual[c * n + r]!)) continue;
      const other = (c * n + r) * dim;
      for (let j = 0; j < dim; j++) if (!Number.isFinite(grads[other + j]!)) out[r * dim + j] = NaN;
    }
  }
}

/** The norm of a vector. */
function normOf(v: ArrayLike<number>, norm: Norm): number {
  let t = 0;
  if (norm === 'linf') {
    for (let j = 0; j < v.length; j++) t = Math.max(t, Math.abs(v[j]!));
    return t;
  }
  if (norm === 'l1') {
    for (let j = 0; j < v.length; j++) t += Math.abs(v[j]!);
    return t;
  }
  for (let j = 0; j < v.length; j++) t += v[j]! ** 2;
  return Math.sqrt(t);
}

/** Standard normal draws from a uniform generator (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * One FAB run on validated rows (all classified correctly): returns, per row, the smallest adversarial
 * example found (in `cfg.norm`) and its distance (Infinity where none was found).
 */
function fabRun(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, numClasses: number, bounds: [number, number], cfg: FabConfig, randomStart: boolean, seed: number, progress: () => void) {
  const [lo, hi] = bounds;
  const n = x0.shape[0];
  const dim = x0.size / n;
  const clean = x0.dataSync() as Float32Array; // read only
  const x1 = Float32Array.from(clean);
  if (randomStart) {
    // x + (eps / 2) t / ||t||, clipped (the reference's start with no success yet): Linf t ~ U(-1, 1),
    // L2 and L1 t ~ N(0, 1).
    const random = mulberry32(seed);
    const t = new Float64Array(dim);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dim; j++) t[j] = cfg.norm === 'linf' ? 2 * random() - 1 : gaussian(random);
      const length = normOf(t, cfg.norm);
      for (let j = 0; j < dim; j++) x1[r * dim + j] = Math.min(Math.max(clean[r * dim + j]! + (cfg.eps * t[j]!) / length / 2, lo), hi);
    }
  }
  const projectOntoHyperplane = { linf: projectLinfOntoHyperplane, l2: projectL2OntoHyperplane, l1: projectL1OntoHyperplane }[cfg.norm];
  const best = Float32Array.from(clean);
  const distance = new Float64Array(n).fill(Infinity);
  const d1 = new Float64Array(dim);
  const d2 = new Float64Array(dim);
  const gathered = new Float32Array(targets ? 0 : n * dim);
  const shape = x0.shape;
  for (let step = 0; step < cfg.steps; step++) {
    const current = tf.tensor4d(x1, shape);
    let f: Float32Array;
    let g: Float32Array;
    try {
      ({ f, g } = linearise(model, current, labels, targets, numClasses, cfg.norm, gathered));
    } finally {
      current.dispose();
    }
    for (let r = 0; r < n; r++) {
      const offset = r * dim;
      const w = g.subarray(offset, offset + dim);
      const point = x1.subarray(offset, offset + dim);
      const origin = clean.subarray(offset, offset + dim);
      // Hyperplane w . x' = b through the linearised boundary: f + w . (x' - x1) = 0.
      let b = -f[r]!;
      for (let j = 0; j < dim; j++) b += w[j]! * point[j]!;
      projectOntoHyperplane(point, w, b, lo, hi, d1);
      projectOntoHyperplane(origin, w, b, lo, hi, d2);
      const a1 = Math.max(normOf(d1, cfg.norm), 1e-8);
      const a2 = Math.max(normOf(d2, cfg.norm), 1e-8);
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), cfg.alphaMax);
      for (let j = 0; j < dim; j++) {
        const v = (point[j]! + cfg.eta * d1[j]!) * (1 - alpha) + (origin[j]! + cfg.eta * d2[j]!) * alpha;
        point[j] = Math.min(Math.max(v, lo), hi);
      }
    }
    const moved = tf.tensor4d(x1, shape);
    let judged: JudgedRows;
    try {
      judged = judgeRowsOf((t) => logitsOf(model, t), moved, labels);
    } finally {
      moved.dispose();
    }
    throwIfNonFinite(judged.nonFinite, cfg.where);
    for (let r = 0; r < n; r++) {
      if (judged.correct[r]) continue;
      const offset = r * dim;
      for (let j = 0; j < dim; j++) d1[j] = x1[offset + j]! - clean[offset + j]!;
      const t = normOf(d1, cfg.norm);
      if (t < distance[r]!) {
        distance[r] = t;
        best.set(x1.subarray(offset, offset + dim), offset);
      }
      // Step back towards the clean image to look for a closer boundary point.
      for (let j = 0; j < dim; j++) x1[offset + j] = clean[offset + j]! + (x1[offset + j]! - clean[offset + j]!) * cfg.beta;
    }
    progress();
  }
  return { best, distance };
}

/**
 * Runs FAB on the rows still robust, once per (target rank, restart), as the reference's `perturb`:
 * a row counts as fooled when its example is misclassified and within eps.
 */
function fabCascade(model: ModelLike, p: Prepared, cfg: FabConfig, targetRanks: number[] | undefined): tf.Tensor4D {
  const predict = (t: tf.Tensor4D) => logitsOf(model, t);
  const runs = (targetRanks ?? [0]).flatMap((rank) => Array.from({ length: cfg.restarts }, (_, r) => ({ rank, restart: r })));
  const total = runs.length * cfg.steps;
  let done = 0;
  return runCascade(predict, p.x, p.labels, cfg.where, (state) => {
    const ranked = targetRanks ? tf.tidy(() => tf.topk(logitsOf(model, p.x), Math.max(...targetRanks)).indices) : undefined;
    try {
      runs.forEach(({ rank, restart }, index) => {
        const rows = indicesWhere(state.robust);
        attackRows(state, p.x, p.labels, rows, (xs, ys) => {
          const targets = ranked ? classesAtRank(ranked, rows, rank) : undefined;
          try {
            const { best, distance } = fabRun(model, xs, ys, targets, p.numClasses, p.bounds, cfg, restart > 0, deriveSeed(cfg.seed, rank, restart), () => cfg.onStep?.(++done, total));
            return { examples: tf.tensor4d(best, xs.shape), withinBudget: Array.from(distance, (d) => d <= cfg.eps) };
          } finally {
            targets?.dispose();
          }
        }, { predict, where: cfg.where });
        done = (index + 1) * cfg.steps;
        cfg.onStep?.(done, total);
      });
    } finally {
      ranked?.dispose();
    }
  });
}

/**
 * FAB, untargeted, Linf, L2 or L1: a minimal-perturbation attack that repeatedly linearises the classifier
 * at the current iterate, takes the nearest linearised decision boundary (the class `k` minimising
 * `|z_k - z_y| / ||grad (z_k - z_y)||_q`, `q` the dual norm: L1 for Linf, L2 for L2, Linf for L1), projects
 * both the iterate and the clean image onto it inside the box ({@link projectLinfOntoHyperplane},
 * {@link projectL2OntoHyperplane}, {@link projectL1OntoHyperplane}: the reference's `projection_linf` /
 * `projection_l2` / `projection_l1`), and moves to the biased combination
 * `(x1 + eta d1)(1 - alpha) + (x + eta d2) alpha` with `alpha = min(||d1|| / (||d1|| + ||d2||), alphaMax)`;
 * after each success it keeps the smallest adversarial example so far and steps back towards the clean
 * image by `beta`. As in AutoAttack, a point counts as fooled only when that example is within eps.
 * Each iteration needs the gradients of every logit difference (one backward pass on a batch tiled
 * `classes` times), so FAB is costly for many classes; {@link fabTargeted} needs one.
 *
 * @param model a `tf.LayersModel` (inference mode) or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds`; not modified
 * @param y true labels `[N]`
 * @returns a new batch: the adversarial example where one within eps was found, the clean image elsewhere
 * @see Croce & Hein, ICML 2020; github.com/fra31/auto-attack (`FABAttack`)
 */
export function fab(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: FabOptions): tf.Tensor4D {
  const cfg = resolve(options, 'fab', FAB_OPTION_KEYS);
  const p = prepare(model, x, y, options.bounds);
  try {
    return fabCascade(model, p, cfg, undefined);
  } finally {
    p.labels.dispose();
  }
}

/**
 * FAB-T, AutoAttack's targeted FAB: for each target rank `t = 2 .. targetClasses + 1` in turn, FAB
 * towards the class ranked `t` by the clean logits (the linearised boundary between the true class and
 * the target), on the points still robust; success means misclassification within eps. Otherwise as
 * {@link fab}, with one gradient per iteration.
 *
 * @param y true labels `[N]` (the targets are chosen from the clean logits)
 */
export function fabTargeted(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: FabTargetedOptions): tf.Tensor4D {
  const cfg = resolve(options, 'fabTargeted', FAB_TARGETED_OPTION_KEYS);
  const p = prepare(model, x, y, options.bounds);
  try {
    const targetClasses = targetClassCount(options.targetClasses, p.numClasses);
    return fabCascade(model, p, cfg, Array.from({ length: targetClasses }, (_, i) => i + 2));
  } finally {
    p.labels.dispose();
  }
}

/** Options of {@link fabAttack}: those of {@link fab} without the budget, plus a display name. */
export type FabAttackOptions = Omit<FabOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'FAB'`). */
  name?: string;
};

/** FAB as an {@link Attack} value (fixed-epsilon: success within eps, untargeted; Linf, L2 or L1). */
export function fabAttack(options: FabAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, FAB_OPTION_KEYS, 'fabAttack');
  resolve({ ...rest, eps: 0 }, 'fabAttack', FAB_OPTION_KEYS);
  return untargetedAttack(name ?? 'FAB', checkNormWithL1(options.norm), options.bounds, (model, x, labels, eps) => fab(model, x, labels, { ...rest, eps }));
}

/** Options of {@link fabTargetedAttack}. */
export type FabTargetedAttackOptions = Omit<FabTargetedOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'FAB-T'`). */
  name?: string;
};

/** FAB-T as an {@link Attack} value (fixed-epsilon; success = misclassification within eps, so `targeted: false`). */
export function fabTargetedAttack(options: FabTargetedAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, FAB_TARGETED_OPTION_KEYS, 'fabTargetedAttack');
  resolve({ ...rest, eps: 0 }, 'fabTargetedAttack', FAB_TARGETED_OPTION_KEYS);
  return untargetedAttack(name ?? 'FAB-T', checkNormWithL1(options.norm), options.bounds, (model, x, labels, eps) => fabTargeted(model, x, labels, { ...rest, eps }));
}
