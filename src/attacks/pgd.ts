/**
 * Projected gradient descent (Madry et al. 2018) with foolbox 3.3.1's semantics, in Linf and L2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { prepare, type Attack } from './attack.js';
import { nonFiniteCodes, throwIfNonFinite } from './finite.js';
import { gradientWithValues } from './gradient.js';
import { resolveLoss, type LossFn, type LossOption } from './losses.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNorm, normalizeGradient, projectToBall, randomInBall, type LinfOrL2 } from './norms.js';
import { checkNumber, checkOptionKeys, checkSeed, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link pgd}. */
export interface PgdOptions {
  /** Perturbation budget (>= 0) in the units of the pixels, e.g. 8/255 for Linf on [0, 1] images. */
  eps: number;
  /** `'linf'` (default) or `'l2'`. */
  norm?: LinfOrL2;
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

/** The option names {@link pgd} accepts. */
export const PGD_OPTION_KEYS = optionKeys<PgdOptions>({
  eps: true,
  norm: true,
  steps: true,
  stepSize: true,
  relStepSize: true,
  randomStart: true,
  restarts: true,
  loss: true,
  targeted: true,
  bounds: true,
  seed: true,
});

interface PgdConfig {
  eps: number;
  norm: LinfOrL2;
  steps: number;
  stepSize: number;
  randomStart: boolean;
  restarts: number;
  loss: LossFn;
  targeted: boolean;
  seed?: number;
}

function resolve(options: PgdOptions, name: string, keys: readonly string[] = PGD_OPTION_KEYS): PgdConfig {
  if (!options || typeof options !== 'object') throw new TypeError(`${name}: options with at least { eps } are required`);
  checkOptionKeys(options, keys, name);
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

/** Keeps, per row, the largest non-finite code seen so far in `seen.codes` (see {@link nonFiniteCodes}). */
function noteNonFinite(seen: { codes: tf.Tensor1D }, logits: tf.Tensor2D): void {
  const next = tf.tidy(() => tf.maximum(seen.codes, nonFiniteCodes(logits)) as tf.Tensor1D);
  seen.codes.dispose();
  seen.codes = next;
}

/** One PGD run from a (random) start; returns the last iterate. Notes the non-finite logits of every step in `seen`. */
function run(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: PgdConfig, seen: { codes: tf.Tensor1D }, seed?: number): tf.Tensor4D {
  const [lo, hi] = bounds;
  const direction = cfg.targeted ? -cfg.stepSize : cfg.stepSize;
  let x = cfg.randomStart
    ? tf.tidy(() => tf.clipByValue(randomInBall(x0, cfg.eps, cfg.norm, seed), lo, hi) as tf.Tensor4D)
    : tf.clone(x0);
  try {
    for (let i = 0; i < cfg.steps; i++) {
      const { grad, logits, value } = gradientWithValues(model, x, (z) => cfg.loss(z, labels));
      try {
        noteNonFinite(seen, logits);
        const current = x;
        const next = tf.tidy(() => {
          const step = tf.mul(normalizeGradient(grad, cfg.norm), direction);
          return tf.clipByValue(projectToBall(tf.add(current, step), x0, cfg.eps, cfg.norm), lo, hi) as tf.Tensor4D;
        });
        x = next;
        current.dispose();
      } finally {
        tf.dispose([grad, logits, value]);
      }
    }
    return x;
  } catch (e) {
    x.dispose();
    throw e;
  }
}

/** Per-example score of a run's result for picking the worst case over restarts. */
interface Score {
  success: tf.Tensor;
  signed: tf.Tensor;
}

/**
 * PGD on validated inputs, with restarts. Throws a {@link NonFiniteLogitsError} (reported by `where`)
 * when the model gave non-finite logits at some iterate; one read-back per call.
 */
export function pgdCore(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: PgdConfig, where = 'pgd'): tf.Tensor4D {
  const seen = { codes: tf.zeros([x0.shape[0]], 'int32') as tf.Tensor1D };
  // Every tensor held between steps, disposed when anything throws.
  const held = new Set<tf.Tensor>();
  const hold = <T extends tf.Tensor>(t: T): T => (held.add(t), t);
  const release = (...ts: tf.Tensor[]) => ts.forEach((t) => (held.delete(t), t.dispose()));
  // Worst case per example: a successful run beats an unsuccessful one; among equals the higher
  // (untargeted) or lower (targeted) loss wins.
  const score = (xAdv: tf.Tensor4D): Score => {
    const logits = tf.tidy(() => logitsOf(model, xAdv));
    try {
      noteNonFinite(seen, logits);
      const s = tf.tidy(() => {
        const loss = cfg.loss(logits, labels);
        const predicted = tf.argMax(logits, 1);
        return { success: cfg.targeted ? tf.equal(predicted, labels) : tf.notEqual(predicted, labels), signed: cfg.targeted ? tf.neg(loss) : loss };
      });
      return { success: hold(s.success), signed: hold(s.signed) };
    } finally {
      logits.dispose();
    }
  };
  try {
    let best = hold(run(model, x0, labels, bounds, cfg, seen, cfg.seed));
    if (cfg.restarts > 1) {
      let bestScore = score(best);
      for (let r = 1; r < cfg.restarts; r++) {
        const candidate = hold(run(model, x0, labels, bounds, cfg, seen, cfg.seed === undefined ? undefined : cfg.seed + r));
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
        release(best, candidate, bestScore.success, bestScore.signed, candScore.success, candScore.signed);
        best = hold(merged.x);
        bestScore = { success: hold(merged.success), signed: hold(merged.signed) };
      }
      release(bestScore.success, bestScore.signed);
    }
    throwIfNonFinite(seen.codes.dataSync(), where);
    held.delete(best);
    return best;
  } finally {
    tf.dispose([seen.codes, ...held]);
  }
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
 * Unknown option keys are rejected. When the model's logits are NaN or infinite at some iterate (its
 * weights diverged), it throws a {@link NonFiniteLogitsError} instead of returning a result. When the
 * model or a custom `loss` throws, every tensor of the call is released, including those tf.grad
 * saves for its backward pass (see docs/attacks.md).
 *
 * @param model a `tf.LayersModel` or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds` (of the model's input shape when it has one); not modified
 * @param y true labels (untargeted) or targets (`targeted: true`), int32 `[N]`
 * @returns adversarial images inside the eps-ball and the bounds (the caller owns them)
 */
export function pgd(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: PgdOptions): tf.Tensor4D {
  return pgdAs('pgd', model, x, y, options);
}

/** {@link pgd}, with errors reported by `where` (e.g. `'fgsm'`). */
export function pgdAs(where: string, model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: PgdOptions): tf.Tensor4D {
  const cfg = resolve(options, where);
  const p = prepare(model, x, y, options.bounds);
  try {
    return pgdCore(model, p.x, p.labels, p.bounds, cfg, where);
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
  const { name, rest: attackOptions } = factoryOptions(options, PGD_OPTION_KEYS, 'pgdAttack');
  resolve({ ...attackOptions, eps: 0 }, 'pgdAttack'); // validate early
  const norm = checkNorm(options.norm);
  const steps = options.steps ?? (norm === 'linf' ? 40 : 50);
  return {
    name: name ?? `PGD-${steps}${norm === 'l2' ? '-L2' : ''}`,
    norm,
    kind: 'fixed-epsilon',
    targeted: options.targeted ?? false,
    bounds: options.bounds ?? [0, 1],
    run: (model, x, labels, eps) => pgd(model, x, labels, { ...attackOptions, eps }),
  };
}

