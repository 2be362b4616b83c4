/**
 * AutoAttack (Croce & Hein, ICML 2020): the parameter-free ensemble APGD-CE, APGD-T, FAB-T and Square,
 * each run only on the points still robust, and its `plus`, `rand` and `custom` versions, in Linf, L2
 * and L1, with the settings of the reference implementation (github fra31/auto-attack).
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed } from '../data/random.js';
import { prepare, untargetedAttack, type Attack } from './attack.js';
import { apgd, apgdTargeted } from './apgd.js';
import { checkProbabilities, checkRandomized, checkSquareSuccess, checkZeroGradients } from './autoattack-checks.js';
import { fab, fabTargeted } from './fab.js';
import { checkNonFiniteMode, NonFiniteLogitsError, throwIfNonFinite, type NonFiniteMode } from './finite.js';
import { logitsOf, type ModelLike } from './model.js';
import { checkNormWithL1, projectToBall, type Norm } from './norms.js';
import { attackRows, indicesWhere, judgeRowsOf, runCascadeFrom, type RowsAttacked } from './rows.js';
import { square } from './square.js';
import { checkSquareL2Height } from './square-l2.js';
import { checkNumber, checkOptionKeys, checkSeed, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** The attacks AutoAttack combines, by the reference's names. */
export type AutoAttackComponent = 'apgd-ce' | 'apgd-dlr' | 'apgd-t' | 'fab' | 'fab-t' | 'square';

/** The reference's versions: which attacks run, in which order, with how many restarts. */
export type AutoAttackVersion = 'standard' | 'plus' | 'rand' | 'custom';

const COMPONENTS: readonly AutoAttackComponent[] = ['apgd-ce', 'apgd-dlr', 'apgd-t', 'fab', 'fab-t', 'square'];

/** Display names, as the reference logs them. */
const DISPLAY: Record<AutoAttackComponent, string> = {
  'apgd-ce': 'APGD-CE',
  'apgd-dlr': 'APGD-DLR',
  'apgd-t': 'APGD-T',
  fab: 'FAB',
  'fab-t': 'FAB-T',
  square: 'Square',
};

/** Options of {@link autoAttack}. */
export interface AutoAttackOptions {
  /** Perturbation budget (>= 0) in pixel units, e.g. 8/255 for Linf on [0, 1] images. */
  eps: number;
  /**
   * `'linf'` (default), `'l2'` or `'l1'`: every attack runs in that norm, as the reference (L2 and L1
   * Square need images at least 5 pixels high).
   */
  norm?: Norm;
  /**
   * `'standard'` (default): APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5000 queries), one
   * restart each. In L1, as the reference's standard L1 version: APGD-CE with 5 restarts and APGD-T with
   * 5 targets, both on the larger-eps schedule (`largerEps` of {@link apgd}), then FAB-T and Square as
   * above. `'plus'`: APGD-CE and APGD-DLR with 5 restarts, FAB with 5 restarts, Square, APGD-T, FAB-T
   * (Linf and L2 only). `'rand'` (randomised models): APGD-CE and APGD-DLR with 20-sample
   * Expectation over Transformation. `'custom'`: the `attacks` given, with the reference's default
   * settings (APGD-CE, APGD-DLR and FAB with 5 restarts; APGD-T, FAB-T and Square with 1).
   */
  version?: AutoAttackVersion;
  /** The attacks of version `'custom'`, in order (only with `'custom'`). */
  attacks?: readonly AutoAttackComponent[];
  /** Seed of every attack's randomness (default 0); attack a on batch b draws from a seed derived from it. */
  seed?: number;
  /** Points attacked at once (default 128). */
  batchSize?: number;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
  /**
   * Iterations of APGD and FAB (default 100). Other values make the evaluation non-standard
   * (`result.standard` is false); meant for quick checks and the CPU-scale experiments.
   */
  steps?: number;
  /** Queries of Square (default 5000); other values make the evaluation non-standard. */
  queries?: number;
  /**
   * Target classes of APGD-T and FAB-T (default 9, and 5 for APGD-T in the standard L1 version; capped
   * at classes - 1 with a warning); other values make it non-standard.
   */
  targetClasses?: number;
  /** Progress, after every batch of every attack and as each batch's iterations advance. */
  onProgress?: (event: AutoAttackProgress) => void;
  /** Receives the sanity warnings (also returned in `result.warnings`); default `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * Points whose logits are NaN or infinite, clean or at an attack's iterate: `'error'` (default)
   * throws a {@link NonFiniteLogitsError}; `'count-as-wrong'` counts them as misclassified (clean, or
   * fooled by that attack) and reports them in `result.nonFinite`.
   */
  nonFinite?: NonFiniteMode;
}

const AUTOATTACK_OPTION_KEYS = optionKeys<AutoAttackOptions>({
  eps: true,
  norm: true,
  version: true,
  attacks: true,
  seed: true,
  batchSize: true,
  bounds: true,
  steps: true,
  queries: true,
  targetClasses: true,
  onProgress: true,
  onWarning: true,
  nonFinite: true,
});

/** A progress event of {@link autoAttack}. */
export interface AutoAttackProgress {
  /** Display name of the attack running, e.g. `'APGD-T'`. */
  attack: string;
  /** Its position in the cascade, 0-based. */
  attackIndex: number;
  /** Number of attacks in the cascade (4 for the standard version: APGD-CE, APGD-T, FAB-T, Square). */
  attackCount: number;
  /** Points this attack has finished. */
  done: number;
  /** Points this attack runs on: those still robust when it started. */
  total: number;
  /** Fraction of the current batch's iterations done, in [0, 1]. */
  batchFraction: number;
  /** Points robust so far (of all `n`). */
  robust: number;
}

/** Result of {@link autoAttack}; accuracies are fractions of all points in [0, 1]. */
export interface AutoAttackResult {
  /**
   * Adversarial examples: for every point some attack fooled, the first attack's example (inside the
   * eps-ball and the bounds); the clean image for the rest. The caller owns (disposes) it.
   */
  adversarial: tf.Tensor4D;
  /** Per point: classified correctly clean and under every attack. */
  robustMask: Uint8Array;
  /** Number of points. */
  n: number;
  /** Clean accuracy. */
  clean: number;
  /** Robust accuracy after each attack, cumulative over the attacks so far (as the reference logs it), by display name. */
  afterAttack: Record<string, number>;
  /** Points each attack fooled that every earlier attack had missed, by display name. */
  fooledBy: Record<string, number>;
  /** The final robust accuracy: the point-wise worst case over all attacks. */
  robust: number;
  /** The attacks that ran, in order (display names). */
  attacks: string[];
  /** True when the version's settings were used unchanged (no `steps`, `queries` or `targetClasses` override). */
  standard: boolean;
  /** Sanity warnings raised during the run. */
  warnings: string[];
  /**
   * Points counted as misclassified because the model's logits were NaN or infinite (clean or at an
   * attack's iterate; included in `clean`, `afterAttack` and `fooledBy`); 0 unless `nonFinite: 'count-as-wrong'`.
   */
  nonFinite: number;
}

interface Plan {
  component: AutoAttackComponent;
  restarts: number;
  eotIter: number;
  /** APGD in L1: the reference's `use_largereps` schedule. */
  largerEps: boolean;
  /** Target classes of APGD-T and FAB-T unless `targetClasses` is given. */
  targetClasses: number;
}

function resolvePlan(version: AutoAttackVersion, attacks: readonly AutoAttackComponent[] | undefined, norm: Norm): Plan[] {
  if (version !== 'custom' && attacks !== undefined) {
    throw new RangeError(`attacks: only version 'custom' takes a list of attacks (version is '${version}')`);
  }
  const one = (component: AutoAttackComponent, restarts = 1, eotIter = 1, largerEps = false, targetClasses = 9): Plan => ({ component, restarts, eotIter, largerEps, targetClasses });
  switch (version) {
    case 'standard':
      // The reference's set_version('standard'): in L1, APGD with use_largereps, 5 restarts of APGD-CE
      // and 5 target classes of APGD-T.
      if (norm === 'l1') return [one('apgd-ce', 5, 1, true), one('apgd-t', 1, 1, true, 5), one('fab-t'), one('square')];
      return [one('apgd-ce'), one('apgd-t'), one('fab-t'), one('square')];
    case 'plus':
      if (norm === 'l1') throw new RangeError("version = 'plus': not for norm 'l1' (the reference defines it for Linf and L2 and warns when it runs in L1); use 'standard' or 'custom'");
      return [one('apgd-ce', 5), one('apgd-dlr', 5), one('fab', 5), one('square'), one('apgd-t'), one('fab-t')];
    case 'rand':
      return [one('apgd-ce', 1, 20), one('apgd-dlr', 1, 20)];
    case 'custom': {
      if (!Array.isArray(attacks) || attacks.length === 0) {
        throw new RangeError(`attacks: version 'custom' needs a non-empty list of ${COMPONENTS.join(', ')}`);
      }
      const unknown = attacks.find((a) => !COMPONENTS.includes(a));
      if (unknown !== undefined) throw new RangeError(`attacks: unknown attack ${JSON.stringify(unknown)}; accepted values are ${COMPONENTS.join(', ')}`);
      const twice = attacks.find((a, i) => attacks.indexOf(a) !== i);
      if (twice !== undefined) throw new RangeError(`attacks: '${twice}' is listed twice`);
      return attacks.map((a) => one(a, a === 'apgd-ce' || a === 'apgd-dlr' || a === 'fab' ? 5 : 1));
    }
    default:
      throw new RangeError(`version = ${JSON.stringify(version)}: accepted values are 'standard', 'plus', 'rand' and 'custom'`);
  }
}

/**
 * AutoAttack: runs its attacks in order, each only on the points still classified correctly (clean
 * and after every earlier attack), and reports the clean accuracy, the robust accuracy after each
 * attack and the final point-wise worst case, the number reviewers and RobustBench report.
 *
 * Before attacking it runs the reference's sanity checks on the first batch and warns (through
 * `onWarning`, and in `result.warnings`) when the model looks randomised (outputs differ between
 * identical calls; skipped for `'rand'`), outputs probabilities instead of logits, has points with an
 * all-zero gradient, or when Square fools more than 0.2% of the points the gradient attacks missed (a
 * sign of gradient masking). It also warns when fewer classes exist than target classes asked for.
 *
 * With `norm: 'l1'` the standard version is the reference's standard L1 version: APGD-CE (5 restarts)
 * and APGD-T (5 target classes) as APGD-L1 on the larger-eps schedule (30% of the iterations at 3 eps,
 * 30% at 2 eps, the rest at eps), then FAB-T (9 targets) and Square (5000 queries) in L1.
 *
 * Logits that are NaN or infinite (diverged weights), clean or at an attack's iterate, throw a
 * {@link NonFiniteLogitsError} before anything is counted, unless `nonFinite: 'count-as-wrong'`.
 * Unknown option keys are rejected.
 *
 * @param model a `tf.LayersModel` (inference mode) or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds`; not modified
 * @param y true labels `[N]`
 * @see Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 *   parameter-free attacks", ICML 2020; github.com/fra31/auto-attack (`AutoAttack.run_standard_evaluation`)
 * @example const r = autoAttack(model, x, y, { eps: 8 / 255 }); console.log(r.robust); r.adversarial.dispose();
 * @example const r = autoAttack(model, x, y, { eps: 12, norm: 'l1' }); // the standard L1 version
 */
export function autoAttack(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: AutoAttackOptions): AutoAttackResult {
  if (!options || typeof options !== 'object') throw new TypeError('autoAttack: options with at least { eps } are required');
  checkOptionKeys(options, AUTOATTACK_OPTION_KEYS, 'autoAttack');
  const nonFiniteMode = checkNonFiniteMode(options.nonFinite);
  const eps = checkNumber(options.eps, 'eps', { min: 0 });
  const norm = checkNormWithL1(options.norm);
  const version = options.version ?? 'standard';
  const plan = resolvePlan(version, options.attacks, norm);
  const seed = checkSeed(options.seed) ?? 0;
  const batchSize = checkNumber(options.batchSize ?? 128, 'batchSize', { min: 1, integer: true });
  const steps = checkNumber(options.steps ?? 100, 'steps', { min: 1, integer: true });
  const queries = checkNumber(options.queries ?? 5000, 'queries', { min: 1, integer: true });
  const requestedTargets = options.targetClasses === undefined ? undefined : checkNumber(options.targetClasses, 'targetClasses', { min: 1, integer: true });
  const standard = options.steps === undefined && options.queries === undefined && options.targetClasses === undefined;
  const warnings: string[] = [];
  const report = options.onWarning ?? ((message: string) => console.warn(`rmc-robust autoAttack: ${message}`));
  const warn = (message: string | undefined) => {
    if (message === undefined) return;
    warnings.push(message);
    report(message);
  };

  const p = prepare(model, x, y, options.bounds);
  const n = p.x.shape[0];
  const [lo, hi] = p.bounds;
  const names = plan.map((s) => DISPLAY[s.component]);
  try {
    const targeted = plan.some((s) => s.component === 'apgd-t' || s.component === 'fab-t');
    const needs = (component: AutoAttackComponent, classes: number) => {
      if (plan.some((s) => s.component === component) && p.numClasses < classes) {
        throw new RangeError(`${DISPLAY[component]} needs at least ${classes} classes; the model has ${p.numClasses}`);
      }
    };
    needs('apgd-dlr', 3);
    needs('apgd-t', 4);
    needs('fab-t', 2);
    if (norm !== 'linf' && plan.some((s) => s.component === 'square')) checkSquareL2Height(p.x.shape[1], 'autoAttack', norm);
    // Per step, the target classes it runs: the request or the version's, at most the other classes.
    const targetsOf = plan.map((s) => Math.min(requestedTargets ?? s.targetClasses, p.numClasses - 1));
    if (targeted) {
      const asked = new Set(plan.filter((s) => s.component === 'apgd-t' || s.component === 'fab-t').map((s) => requestedTargets ?? s.targetClasses));
      for (const count of asked) {
        if (count > p.numClasses - 1) warn(`${count} target classes asked for, but the model has only ${p.numClasses - 1} other classes; using ${p.numClasses - 1}`);
      }
    }

    // Clean predictions first: logits that are not finite stop the run (or count as errors) before anything else.
    const predict = (t: tf.Tensor4D) => logitsOf(model, t);
    const robust = new Uint8Array(n);
    const cleanCodes = new Uint8Array(n);
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const xs = tf.slice(p.x, start, size) as tf.Tensor4D;
      const ys = tf.slice(p.labels, start, size) as tf.Tensor1D;
      try {
        const judged = judgeRowsOf(predict, xs, ys);
        robust.set(judged.correct, start);
        cleanCodes.set(judged.nonFinite, start);
      } finally {
        tf.dispose([xs, ys]);
      }
    }
    if (nonFiniteMode === 'error') throwIfNonFinite(cleanCodes, 'autoAttack', ', clean');
    let nonFinite = cleanCodes.reduce((sum, c) => sum + (c ? 1 : 0), 0);

    // Sanity checks on the first batch, as the reference does.
    {
      const first = Math.min(batchSize, n);
      const xs = tf.slice(p.x, 0, first) as tf.Tensor4D;
      const ys = tf.slice(p.labels, 0, first) as tf.Tensor1D;
      try {
        if (version !== 'rand') warn(checkRandomized(model, xs, ys));
        warn(checkProbabilities(model, xs));
        if (plan.some((s) => s.component !== 'square')) warn(checkZeroGradients(model, xs, ys));
      } finally {
        tf.dispose([xs, ys]);
      }
    }

    const count = () => robust.reduce((sum, v) => sum + v, 0);
    const clean = count() / n;
    const afterAttack: Record<string, number> = {};
    const fooledBy: Record<string, number> = {};
    const silent = () => {};
    const judge = { predict, where: 'autoAttack' };

    const adversarial = runCascadeFrom({ adv: tf.clone(p.x), robust }, (state) => {
      plan.forEach((step, attackIndex) => {
        const name = DISPLAY[step.component];
        const rows = indicesWhere(state.robust);
        let fooled = 0;
        for (let start = 0, batchIndex = 0; start < rows.length; start += batchSize, batchIndex++) {
          const report = (done: number, batchFraction: number) =>
            options.onProgress?.({ attack: name, attackIndex, attackCount: plan.length, done, total: rows.length, batchFraction, robust: count() });
          const common = { eps, norm, bounds: p.bounds, seed: deriveSeed(seed, attackIndex, batchIndex), onStep: (i: number, total: number) => report(start, i / total) };
          const attack = (xs: tf.Tensor4D, ys: tf.Tensor1D): RowsAttacked => {
            let raw: tf.Tensor4D;
            switch (step.component) {
              case 'apgd-ce':
              case 'apgd-dlr':
                raw = apgd(model, xs, ys, { ...common, loss: step.component === 'apgd-ce' ? 'ce' : 'dlr', steps, restarts: step.restarts, eotIter: step.eotIter, largerEps: step.largerEps, onWarning: silent });
                break;
              case 'apgd-t':
                raw = apgdTargeted(model, xs, ys, { ...common, steps, restarts: step.restarts, targetClasses: targetsOf[attackIndex], largerEps: step.largerEps, onWarning: silent });
                break;
              case 'fab':
                raw = fab(model, xs, ys, { ...common, steps, restarts: step.restarts });
                break;
              case 'fab-t':
                raw = fabTargeted(model, xs, ys, { ...common, steps, restarts: step.restarts, targetClasses: targetsOf[attackIndex] });
                break;
              case 'square':
                raw = square(model, xs, ys, { ...common, norm, queries, pInit: 0.8, restarts: step.restarts, loss: 'margin', rescaleSchedule: false });
                break;
            }
            // Held to the threat model whatever the attack returned, then judged by the model itself.
            const examples = tf.tidy(() => tf.clipByValue(projectToBall(raw, xs, eps, norm), lo, hi) as tf.Tensor4D);
            raw.dispose();
            return { examples };
          };
          // Rows whose logits turn non-finite under the attack count as fooled ('count-as-wrong'); the rest are attacked again.
          let pending = rows.slice(start, start + batchSize);
          while (pending.length > 0) {
            try {
              fooled += attackRows(state, p.x, p.labels, pending, attack, judge);
              pending = [];
            } catch (e) {
              if (!(e instanceof NonFiniteLogitsError)) throw e;
              const flagged = pending.filter((row) => e.rows[row]);
              if (nonFiniteMode === 'error' || flagged.length === 0) throw e.restate('autoAttack', ` under ${name}`);
              flagged.forEach((row) => (state.robust[row] = 0));
              fooled += flagged.length;
              nonFinite += flagged.length;
              pending = pending.filter((row) => !e.rows[row]);
            }
          }
          report(start + Math.min(batchSize, rows.length - start), 1);
        }
        afterAttack[name] = count() / n;
        fooledBy[name] = fooled;
      });
    });

    const squareIndex = plan.findIndex((s) => s.component === 'square');
    if (squareIndex > 0) warn(checkSquareSuccess(fooledBy['Square']!, n));

    return { adversarial, robustMask: robust, n, clean, afterAttack, fooledBy, robust: count() / n, attacks: names, standard, warnings, nonFinite };
  } finally {
    p.labels.dispose();
  }
}

/** Options of {@link autoAttackAttack}: those of {@link autoAttack} without the budget, plus a display name. */
export type AutoAttackAttackOptions = Omit<AutoAttackOptions, 'eps' | 'batchSize'> & {
  /** Display name of the attack in tables and sweeps (default `'AutoAttack'`). */
  name?: string;
};

/**
 * AutoAttack as an {@link Attack} value (fixed-epsilon, untargeted), for {@link robustAccuracy} and the
 * command line's `eval`: each batch runs the whole cascade and yields its adversarial examples, so the
 * accuracy robustAccuracy reports for it is AutoAttack's final robust accuracy. Default name `'AutoAttack'`.
 * `onProgress` reports within each batch (`done` and `total` count the batch's points).
 */
export function autoAttackAttack(options: AutoAttackAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, AUTOATTACK_OPTION_KEYS, 'autoAttackAttack', ['batchSize']);
  const norm = checkNormWithL1(options.norm);
  resolvePlan(options.version ?? 'standard', options.attacks, norm);
  return untargetedAttack(name ?? 'AutoAttack', norm, options.bounds, (model, x, labels, eps) => autoAttack(model, x, labels, { ...rest, eps, batchSize: x.shape[0] }).adversarial);
}
