/** DeepFool (Moosavi-Dezfooli et al. 2016) with foolbox 3.3.1's semantics, Linf and L2. */
import * as tf from '@tensorflow/tfjs-core';
import { prepare, type Attack } from './attack.js';
import { nonFiniteCodes, throwIfNonFinite } from './finite.js';
import { gradientWithValues } from './gradient.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNorm, l2Norms, projectToBall, type LinfOrL2 } from './norms.js';
import { checkNumber, checkOptionKeys, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link deepfool}. */
export interface DeepFoolOptions {
  /** Budget the result is clipped to (>= 0); DeepFool itself is a minimization attack. */
  eps: number;
  /** `'linf'` (default, the paper's) or `'l2'`. */
  norm?: LinfOrL2;
  /** Maximum number of steps (default 50). */
  steps?: number;
  /** Number of top classes (by clean logit) considered, at least 2 (default 10; capped by the classes). */
  candidates?: number;
  /** Relative overshoot of the accumulated perturbation (default 0.02). */
  overshoot?: number;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
}

type Config = Required<Omit<DeepFoolOptions, 'eps' | 'bounds'>>;

const DEEPFOOL_OPTION_KEYS = optionKeys<DeepFoolOptions>({ eps: true, norm: true, steps: true, candidates: true, overshoot: true, bounds: true });

function resolve(options: Omit<DeepFoolOptions, 'eps'>): Config {
  return {
    norm: checkNorm(options.norm),
    steps: checkNumber(options.steps ?? 50, 'steps', { min: 1, integer: true }),
    candidates: checkNumber(options.candidates ?? 10, 'candidates', { min: 2, integer: true }),
    overshoot: checkNumber(options.overshoot ?? 0.02, 'overshoot', { min: 0 }),
  };
}

/**
 * DeepFool's raw result on validated inputs: repeatedly linearise the logit differences
 * `z_k - z_0` between the clean top class `0` and the next `candidates - 1` classes, step to the
 * nearest linearised boundary (`(|dz| / ||grad||_dual + 1e-4)` along `sign(grad)` for Linf,
 * along `grad / ||grad||_2` for L2), and return `x0 + (1 + overshoot) * total`, clipped to the bounds;
 * points already misclassified are frozen. All candidate gradients come from one batched backward pass.
 * Throws a {@link NonFiniteLogitsError} when the logits of some step are not finite (checked in the
 * read-back each step already makes).
 */
export function deepfoolCore(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, bounds: [number, number], cfg: Config, numClasses: number): tf.Tensor4D {
  const [lo, hi] = bounds;
  const n = x0.shape[0];
  const k = Math.min(cfg.candidates, numClasses);
  if (k < 2) throw new RangeError(`candidates: the model has ${numClasses} classes; DeepFool needs at least 2`);
  const others = k - 1;
  // classes[n, 0] is the clean top class, classes[n, 1..k-1] the next candidates.
  const classes = tf.tidy(() => tf.topk(logitsOf(model, x0), k).indices);
  const rows = tf.tidy(() => tf.range(0, n, 1, 'int32'));
  // One-hot selectors of shape [others * n, classes] for the tiled batch (block j holds candidate j + 1).
  const [selectTop, selectOther] = tf.tidy(() => {
    const top = tf.oneHot(tf.tile(tf.reshape(tf.slice(classes, [0, 0], [n, 1]), [-1]), [others]), numClasses);
    const other = tf.oneHot(tf.reshape(tf.transpose(tf.slice(classes, [0, 1], [n, others])), [-1]), numClasses);
    return [top, other];
  });
  let x: tf.Tensor4D = tf.clone(x0);
  let total: tf.Tensor4D = tf.zerosLike(x0);
  let done = false;
  try {
    for (let step = 0; step < cfg.steps; step++) {
      const { grads, logits } = tf.tidy(() => {
        const out = gradientWithValues(model, tf.tile(x, [others, 1, 1, 1]), (z) => tf.mul(z, tf.sub(selectOther, selectTop)));
        return { grads: out.grad, logits: tf.slice(out.logits, [0, 0], [n, numClasses]) as tf.Tensor2D };
      });
      const isAdv = tf.tidy(() => tf.notEqual(tf.argMax(logits, 1), labels));
      try {
        // One read-back: which rows are adversarial, and which logits are not finite.
        const flags = tf.tidy(() => tf.concat([tf.cast(isAdv, 'int32'), nonFiniteCodes(logits)]).dataSync());
        throwIfNonFinite(flags.subarray(n), 'deepfool');
        if (flags.subarray(0, n).every(Boolean)) break;
        const next = tf.tidy(() => {
          // Logit differences [others, n] and gradients [others, n, d].
          const z = logits;
          const zTop = tf.sum(tf.mul(z, tf.slice(selectTop, [0, 0], [n, numClasses])), 1);
          const zOther = tf.reshape(tf.sum(tf.mul(tf.tile(z, [others, 1]), selectOther), 1), [others, n]);
          const losses = tf.sub(zOther, zTop);
          const flat = tf.reshape(grads, [others, n, -1]);
          const dual = cfg.norm === 'linf' ? tf.sum(tf.abs(flat), 2) : tf.sqrt(tf.sum(tf.square(flat), 2));
          const distances = tf.div(tf.abs(losses), tf.add(dual, 1e-8));
          const best = tf.argMin(distances, 0); // [n]
          const pick = tf.add(tf.mul(best, tf.scalar(n, 'int32')), rows);
          const bestDistance = tf.add(tf.gather(tf.reshape(distances, [-1]), pick), 1e-4);
          const bestGrad = tf.reshape(tf.gather(tf.reshape(grads, [others * n, -1]), pick), x0.shape);
          const dist4 = tf.reshape(bestDistance, [-1, 1, 1, 1]);
          const stepPerturbation =
            cfg.norm === 'linf'
              ? tf.mul(dist4, tf.sign(bestGrad))
              : tf.mul(tf.div(dist4, tf.add(l2Norms(bestGrad), 1e-8)), bestGrad);
          const newTotal = tf.add(total, stepPerturbation);
          const candidate = tf.add(x0, tf.mul(newTotal, 1 + cfg.overshoot));
          const frozen = tf.broadcastTo(tf.reshape(isAdv, [-1, 1, 1, 1]), x0.shape);
          return { total: newTotal as tf.Tensor4D, x: tf.clipByValue(tf.where(frozen, x, candidate), lo, hi) as tf.Tensor4D };
        });
        tf.dispose([x, total]);
        x = next.x;
        total = next.total;
      } finally {
        tf.dispose([grads, logits, isAdv]);
      }
    }
    done = true;
  } finally {
    tf.dispose([classes, rows, selectTop, selectOther, total]);
    if (!done) x.dispose();
  }
  return x;
}

/**
 * DeepFool, the paper's minimal-perturbation attack (Table I: Linf, 50 steps, overshoot 0.02, 10
 * candidate classes, logit-difference loss), with foolbox 3.3.1's semantics; the result is clipped to
 * the eps-ball for reporting, as foolbox's `clipped` output. Use {@link attackSweep} with
 * {@link deepfoolAttack} to get the unclipped (`raw`) result and several budgets from one run.
 *
 * @returns adversarial images inside the eps-ball and the bounds (the caller owns them)
 */
export function deepfool(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: DeepFoolOptions): tf.Tensor4D {
  if (!options || typeof options !== 'object') throw new TypeError('deepfool: options with at least { eps } are required');
  checkOptionKeys(options, DEEPFOOL_OPTION_KEYS, 'deepfool');
  const eps = checkNumber(options.eps, 'eps', { min: 0 });
  const cfg = resolve(options);
  const p = prepare(model, x, y, options.bounds);
  try {
    const raw = deepfoolCore(model, p.x, p.labels, p.bounds, cfg, p.numClasses);
    const clipped = tf.tidy(() => projectToBall(raw, p.x, eps, cfg.norm) as tf.Tensor4D);
    raw.dispose();
    return clipped;
  } finally {
    p.labels.dispose();
  }
}

/** DeepFool as an {@link Attack} value (a minimization attack: `run` returns the raw result). */
export function deepfoolAttack(options: Omit<DeepFoolOptions, 'eps'> & { name?: string } = {}): Attack {
  const { name } = factoryOptions(options, DEEPFOOL_OPTION_KEYS, 'deepfoolAttack');
  const cfg = resolve(options);
  return {
    name: name ?? `DeepFool${cfg.norm === 'l2' ? '-L2' : ''}`,
    norm: cfg.norm,
    kind: 'minimization',
    targeted: false,
    bounds: options.bounds ?? [0, 1],
    run: (model, x, labels) => {
      const p = prepare(model, x, labels, options.bounds);
      try {
        return deepfoolCore(model, p.x, p.labels, p.bounds, cfg, p.numClasses);
      } finally {
        p.labels.dispose();
      }
    },
  };
}
