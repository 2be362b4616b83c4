/**
 * Projected gradient descent (Madry et al. 2018) with foolbox 3.3.1's semantics, in Linf and L2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { prepare, type Attack } from './attack.js';
import { resolveLoss, type LossFn, type LossOption } from './losses.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNorm, normalizeGradient, projectToBall, randomInBall, type Norm } from './norms.js';
import { checkNumber, checkSeed, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link pgd}. */
export interface PgdOptions {
  /** Perturbation budget (>= 0) in the units of the pixels, e.g. 8/255 for Linf on [0, 1] images. */
  eps: number;
  /** `'linf'` (default) or `'l2'`. */
  norm?: Norm;
  /** Number of steps (>= 1). Default as foolbox: 40 for Linf, 50 for L2. */
  steps?: number;
  /** Absolute step size; overrides `relStepSize`. */
  stepSize?: number;
  /** Step size relative to eps: `step = relStepSize * eps`. Default as foolbox: 0.01 / 0.3 (Linf), 0.025 (L2). */
  relStepSize?: number;
  /** Start at a uniform random point of the eps-ball, clipped to the bounds (default true). */
  randomStart?: boolean;
  /** Independent runs (>= 1, default 1); each example keeps its worst case: a successful run, else the highest loss. */
  restarts?: number;
  /** Loss to ascend: `'ce'` (summed cross-entropy, default), `'cw'` (margin), `'dlr'`, or a per-example function. */
  loss?: LossOption;
  /** Treat `y` as target classes and descend the loss towards them (default false). */
  targeted?: boolean;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
  /** Seed of the random start; restart r uses seed + r. Default: random. */
  seed?: number;
}

interface PgdConfig {
  eps: number;
  norm: Norm;
  steps: number;
  stepSize: number;
  randomStart: boolean;
  restarts: number;
  loss: LossFn;
  targeted: boolean;
  seed?: number;
}

function resolve(options: PgdOptions, name: string): PgdConfig {
  if (!options || typeof options !== 'object') throw new TypeError(`${name}: options with at least { eps } are required`);
  const norm = checkNorm(options.norm);
  const eps = checkNumber(options.eps, 'eps', { min: 0 });
  const steps = checkNumber(options.steps ?? (norm === 'linf' ? 40 : 50), 'steps', { min: 1, integer: true });
  let stepSize: number;
  if (options.stepSize !== undefined) {
    stepSize = checkNumber(options.stepSize, 'stepSize', { min: 0, minExclusive: true });
  } else {
    const rel = checkNumber(options.relStepSize ?? (norm === 'linf' ? 0.01 / 0.3 : 0.025), 'relStepSize', { min: 0, minExclusive: true });
    stepSize = rel * eps;
  }
  return {
    eps,
    norm,
    steps,
    stepSize,
    randomStart: options.randomStart ?? true,
    restarts: checkNumber(options.restarts ?? 1, 'restarts', { min: 1, integer: true }),
    loss: resolveLoss(options.loss),
    targeted: options.targeted ?? false,
    seed: checkSeed(options.seed),
  };
}

/** One PGD run from a (random) start; returns the last iterate. */
function run(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: PgdConfig, seed?: number): tf.Tensor4D {
  const [lo, hi] = bounds;
  const direction = cfg.targeted ? -cfg.stepSize : cfg.stepSize;
  const lossSum = (x: tf.Tensor) => tf.sum(cfg.loss(logitsOf(model, x as tf.Tensor4D), labels)) as tf.Scalar;
  const gradient = tf.grad(lossSum);
  let x = cfg.randomStart
    ? tf.tidy(() => tf.clipByValue(randomInBall(x0, cfg.eps, cfg.norm, seed), lo, hi) as tf.Tensor4D)
    : tf.clone(x0);
  for (let i = 0; i < cfg.steps; i++) {
    const next = tf.tidy(() => {
      const step = tf.mul(normalizeGradient(gradient(x), cfg.norm), direction);
      return tf.clipByValue(projectToBall(tf.add(x, step), x0, cfg.eps, cfg.norm), lo, hi) as tf.Tensor4D;
    });
    x.dispose();
    x = next;
  }
  return x;
}

/** PGD on validated inputs, with restarts. */
export function pgdCore(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: PgdConfig): tf.Tensor4D {
  let best = run(model, x0, labels, bounds, cfg, cfg.seed);
  if (cfg.restarts === 1) return best;
  // Worst case per example: a successful run beats an unsuccessful one; among equals the higher
  // (untargeted) or lower (targeted) loss wins.
  const score = (xAdv: tf.Tensor4D) =>
    tf.tidy(() => {
      const logits = logitsOf(model, xAdv);
      const loss = cfg.loss(logits, labels);
      const signed = cfg.targeted ? tf.neg(loss) : loss;
      const predicted = tf.argMax(logits, 1);
      const success = cfg.targeted ? tf.equal(predicted, labels) : tf.notEqual(predicted, labels);
      return { success, signed };
    });
  let bestScore = score(best);
  for (let r = 1; r < cfg.restarts; r++) {
    const candidate = run(model, x0, labels, bounds, cfg, cfg.seed === undefined ? undefined : cfg.seed + r);
    const candScore = score(candidate);
    const merged = tf.tidy(() => {
      const better = tf.logicalOr(
        tf.logicalAnd(candScore.success, tf.logicalNot(bestScore.success)),
        tf.logicalAnd(tf.equal(candScore.success, bestScore.success), tf.greater(candScore.signed, bestScore.signed)),
      );
      const mask4 = tf.reshape(better, [-1, 1, 1, 1]);
      return {
        x: tf.where(tf.broadcastTo(mask4, best.shape), candidate, best) as tf.Tensor4D,
        success: tf.where(better, candScore.success, bestScore.success),
        signed: tf.where(better, candScore.signed, bestScore.signed),
      };
    });
    tf.dispose([best, candidate, bestScore.success, bestScore.signed, candScore.success, candScore.signed]);
    best = merged.x;
    bestScore = { success: merged.success, signed: merged.signed };
  }
  tf.dispose([bestScore.success, bestScore.signed]);
  return best;
}

/**
 * Projected gradient descent: `steps` steps of `x += stepSize * direction(grad of the summed loss)`
 * (sign for Linf, unit-L2 gradient for L2), each followed by projection to the eps-ball around `x` and
 * clipping to `bounds`, from a uniform random start in the ball (clipped); the last iterate is
 * returned, as in foolbox 3.3.1 (`LinfPGD`, `L2PGD`). No early stop.
 *
 * The paper's settings: PGD-10/20 with `relStepSize: 0.25`, PGD-50 with `relStepSize: 0.033333`
 * (see {@link paperAttacks}). The model is called in inference mode.
 *
 * @param model a `tf.LayersModel` or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds`; not modified
 * @param y true labels (untargeted) or targets (`targeted: true`), int32 `[N]`
 * @returns adversarial images inside the eps-ball and the bounds (the caller owns them)
 */
export function pgd(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: PgdOptions): tf.Tensor4D {
  const cfg = resolve(options, 'pgd');
  const p = prepare(model, x, y, options.bounds);
  try {
    return pgdCore(model, p.x, p.labels, p.bounds, cfg);
  } finally {
    p.labels.dispose();
  }
}

/** Options of {@link pgdAttack}: those of {@link pgd} without the budget, plus a display name. */
export type PgdAttackOptions = Omit<PgdOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'PGD-<steps>'`, `'PGD-<steps>-L2'` for L2). */
  name?: string;
};

/** PGD as an {@link Attack} value (fixed-epsilon), for sweeps and suites. */
export function pgdAttack(options: PgdAttackOptions = {}): Attack {
  resolve({ ...options, eps: 0 }, 'pgdAttack'); // validate early
  const norm = checkNorm(options.norm);
  const steps = options.steps ?? (norm === 'linf' ? 40 : 50);
  return {
    name: options.name ?? `PGD-${steps}${norm === 'l2' ? '-L2' : ''}`,
    norm,
    kind: 'fixed-epsilon',
    targeted: options.targeted ?? false,
    bounds: options.bounds ?? [0, 1],
    run: (model, x, labels, eps) => pgd(model, x, labels, { ...options, eps }),
  };
}

