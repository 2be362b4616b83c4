/**
 * Auto-PGD (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks"): APGD-CE, APGD-DLR and the targeted APGD-T of AutoAttack, in
 * Linf and L2, and in L1 as APGD-L1 (Croce & Hein, ICML 2021, "Mind the box"), with the settings of the
 * reference implementation (github fra31/auto-attack).
 */
import * as tf from '@tensorflow/tfjs-core';
import { peekFloat32 } from '../backend/alloc.js';
import { deriveSeed, seededRandomNormal } from '../data/random.js';
import { apgdL2Iterate } from './apgd-l2-step.js';
import { prepare, untargetedAttack, type Attack, type Prepared } from './attack.js';
import { crossEntropy, dlrLoss, dlrTargetedLoss, type LossFn } from './losses.js';
import { logitsOf, type ModelLike } from './model.js';
import { l1ProjectionCorrection, sparseL1Step } from './l1-projection.js';
import { checkNormWithL1, l2Norms, type Norm } from './norms.js';
import { nonFiniteCodes, throwIfNonFinite } from './finite.js';
import { gradientWithValues, type GradientWithValues } from './gradient.js';
import { attackRows, classesAtRank, indicesWhere, runCascade, targetClassCount, takeRows, whereRows } from './rows.js';
import { checkImages, checkNumber, checkOptionKeys, checkSeed, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

/** Options of {@link apgd}. */
export interface ApgdOptions {
  /** Perturbation budget (>= 0) in pixel units, e.g. 8/255 for Linf on [0, 1] images. */
  eps: number;
  /**
   * `'linf'` (default), `'l2'` or `'l1'` (APGD-L1: sparse steps, the L1 ball intersected with the
   * bounds; see {@link apgd}).
   */
  norm?: Norm;
  /** `'ce'` (cross-entropy, APGD-CE, default) or `'dlr'` (Difference of Logits Ratio, APGD-DLR). */
  loss?: 'ce' | 'dlr';
  /** Iterations per run (>= 1, default 100). */
  steps?: number;
  /** Runs from random starts (>= 1, default 1); each restart attacks only the points still robust. */
  restarts?: number;
  /** Step-size halving threshold rho in (0, 1] (default 0.75; not used by L1, as the reference). */
  rho?: number;
  /**
   * The step-size schedule: `'reference'` (default) as the reference code (github fra31/auto-attack)
   * runs it for every `steps` (see {@link apgdCheckpoints}); `'paper'` as Algorithm 1 of the paper
   * writes it. They agree at 100 and 200 iterations (up to the `<=` of the halving test). L1 has its
   * own schedule (see {@link apgd}) and takes only `'reference'`.
   */
  schedule?: ApgdSchedule;
  /**
   * L1 only: the reference's `use_largereps` (what AutoAttack's standard L1 version runs, default
   * false): each run is three runs, at 3 eps for `ceil(0.3 steps)` iterations, at 2 eps for as many, and
   * at eps for the rest, each starting at the best point (highest loss) of the one before projected
   * onto its smaller ball; only the last one's successes count. Needs `steps >= 2`.
   */
  largerEps?: boolean;
  /** Gradients averaged per iteration (Expectation over Transformation, for randomised models; default 1). */
  eotIter?: number;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
  /** Seed of the random starts (default 0, as the reference); run r of target t draws from a seed derived from it. */
  seed?: number;
  /**
   * A start point (NHWC, the shape of `x`) for the first run (of each target) instead of a random one,
   * like the reference's `x_init`; projected onto the eps-ball and the bounds. Later restarts start at
   * random points.
   */
  init?: tf.Tensor4D;
  /** Called after every iteration with the iterations done and the most there can be. */
  onStep?: (step: number, total: number) => void;
  /** Receives sanity warnings (points with an all-zero gradient); default `console.warn`. */
  onWarning?: (message: string) => void;
  /** Per-iteration trace for analysis and tests (costs a read-back per iteration when given). */
  onIteration?: (event: ApgdIteration) => void;
}

/**
 * APGD's step-size schedules (see {@link apgdCheckpoints} and {@link apgdShouldHalve}).
 * `'reference'`: the reference code's integer budgets, its `<=` halving test, and its first-checkpoint
 * bookkeeping (the "halved at the last checkpoint" flags start true; the first iteration's loss is
 * compared with 0, the unfilled row of its loss history, or with itself when `steps` is 1).
 * `'paper'`: the paper's `ceil(p_j steps)`, the strict `<`, and a first window that compares with the
 * start's loss and may halve for no improvement.
 */
export type ApgdSchedule = 'reference' | 'paper';

/** What {@link ApgdOptions.onIteration} receives; arrays hold one value per attacked point of the run. */
export interface ApgdIteration {
  /** Index of the run (restarts, then target classes, in the order they are made). */
  run: number;
  /** Iterations done in this run (0 = the random start; with `largerEps`, counted on across its stages). */
  iteration: number;
  /** Loss at the current iterate (before a restart from the best point). */
  loss: Float32Array;
  /** Best loss so far. */
  bestLoss: Float32Array;
  /** Step size for the next iteration. */
  stepSize: Float32Array;
  /** Linf and L2, set at checkpoints: 1 where the step was halved. */
  halved?: Uint8Array;
  /** L1: the fraction of the coordinates the next sparse step moves (the reference's `topk`). */
  sparsity?: Float32Array;
}

/** Options of {@link apgdTargeted}. */
export interface ApgdTargetedOptions extends Omit<ApgdOptions, 'loss'> {
  /** Target classes tried, ranked 2, 3, ... by the clean logits (>= 1, at most classes - 1; default 9, or classes - 1 when fewer). */
  targetClasses?: number;
}

/** The option names {@link apgd} accepts. */
export const APGD_OPTION_KEYS = optionKeys<ApgdOptions>({
  eps: true,
  norm: true,
  loss: true,
  steps: true,
  restarts: true,
  rho: true,
  schedule: true,
  largerEps: true,
  eotIter: true,
  bounds: true,
  seed: true,
  init: true,
  onStep: true,
  onWarning: true,
  onIteration: true,
});

/** The option names {@link apgdTargeted} accepts. */
export const APGD_TARGETED_OPTION_KEYS: readonly string[] = [...APGD_OPTION_KEYS.filter((k) => k !== 'loss'), 'targetClasses'];

interface ApgdConfig {
  /** The function reporting errors, e.g. `'apgd'`. */
  where: string;
  eps: number;
  norm: Norm;
  steps: number;
  restarts: number;
  rho: number;
  schedule: ApgdSchedule;
  largerEps: boolean;
  eotIter: number;
  seed: number;
  init?: tf.Tensor4D;
  onStep?: (step: number, total: number) => void;
  onWarning: (message: string) => void;
  onIteration?: (event: ApgdIteration) => void;
}

function resolve(options: Omit<ApgdOptions, 'loss'>, name: string, keys: readonly string[]): ApgdConfig {
  if (!options || typeof options !== 'object') throw new TypeError(`${name}: options with at least { eps } are required`);
  checkOptionKeys(options, keys, name);
  const norm = checkNormWithL1(options.norm);
  const largerEps = options.largerEps ?? false;
  if (typeof largerEps !== 'boolean') throw new TypeError(`largerEps = ${JSON.stringify(largerEps)}: must be true or false`);
  if (largerEps && norm !== 'l1') throw new RangeError(`largerEps: only with norm 'l1' (the reference's use_largereps), not '${norm}'`);
  const schedule = checkSchedule(options.schedule);
  if (norm === 'l1' && schedule !== 'reference') throw new RangeError(`schedule = '${schedule}': norm 'l1' follows the reference code only ('reference')`);
  return {
    where: name,
    eps: checkNumber(options.eps, 'eps', { min: 0 }),
    norm,
    steps: checkLargerEpsSteps(checkNumber(options.steps ?? 100, 'steps', { min: 1, integer: true }), largerEps),
    restarts: checkNumber(options.restarts ?? 1, 'restarts', { min: 1, integer: true }),
    rho: checkNumber(options.rho ?? 0.75, 'rho', { min: 0, minExclusive: true, max: 1 }),
    schedule,
    largerEps,
    eotIter: checkNumber(options.eotIter ?? 1, 'eotIter', { min: 1, integer: true }),
    seed: checkSeed(options.seed) ?? 0,
    init: options.init,
    onStep: options.onStep,
    onWarning: options.onWarning ?? ((message) => console.warn(`rmc-robust ${name}: ${message}`)),
    onIteration: options.onIteration,
  };
}

/** The larger-eps schedule needs two iterations (its last stage takes `steps - 2 ceil(0.3 steps)`). */
function checkLargerEpsSteps(steps: number, largerEps: boolean): number {
  if (largerEps && steps < 2) throw new RangeError(`steps = ${steps}: largerEps needs at least 2 (its stages take ceil(0.3 steps), ceil(0.3 steps) and the rest)`);
  return steps;
}

function resolveLossName(loss: unknown): 'ce' | 'dlr' {
  if (loss === undefined || loss === 'ce') return 'ce';
  if (loss === 'dlr') return 'dlr';
  throw new RangeError(`loss = ${JSON.stringify(loss)}: accepted values are 'ce' and 'dlr'`);
}

function checkSchedule(schedule: unknown): ApgdSchedule {
  if (schedule === undefined || schedule === 'reference') return 'reference';
  if (schedule === 'paper') return 'paper';
  throw new RangeError(`schedule = ${JSON.stringify(schedule)}: accepted values are 'reference' and 'paper'`);
}

/**
 * APGD's checkpoints: the iteration counts after which the step size may be halved, strictly
 * increasing and at most `steps`.
 *
 * `'reference'` (default), as the reference code (`APGDAttack`) derives them from integer budgets:
 * the first window is `max(floor(0.22 steps), 1)` iterations, each later one `max(floor(0.03 steps), 1)`
 * shorter than the last but never below `max(floor(0.06 steps), 1)`. For 100 iterations: 22, 41, 57,
 * 70, 80, 87, 93, 99; for 50: 11, 21, 30, 38, 45; for 10: 2, 3, 4, ..., 10.
 *
 * `'paper'`: `w_j = ceil(p_j * steps)` with `p_0 = 0`, `p_1 = 0.22` and
 * `p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)` (Algorithm 1). For 100 iterations the same as the
 * reference's; for 10: 3, 5, 6, 7, 8, 9, 10.
 */
export function apgdCheckpoints(steps: number, schedule: ApgdSchedule = 'reference'): number[] {
  checkNumber(steps, 'steps', { min: 1, integer: true });
  const out: number[] = [];
  if (checkSchedule(schedule) === 'reference') {
    // The reference's float products truncated by int(): the same doubles in JS and Python.
    const budget = (fraction: number) => Math.max(Math.trunc(fraction * steps), 1);
    const decrease = budget(0.03);
    const minimum = budget(0.06);
    for (let window = budget(0.22), at = window; at <= steps; window = Math.max(window - decrease, minimum), at += window) out.push(at);
    return out;
  }
  // p in hundredths, so the schedule is exact integer arithmetic.
  let p = 22;
  let gap = 22;
  for (;;) {
    const w = Math.ceil((p * steps) / 100);
    if (w > steps) return out;
    if (out.length === 0 || w > out[out.length - 1]!) out.push(w);
    gap = Math.max(gap - 3, 6);
    p += gap;
  }
}

/**
 * APGD's step-size rule at a checkpoint, per example: halve when too few of the iterations since the
 * last checkpoint increased the loss, or when the step was not halved at the last checkpoint and the
 * best loss has not improved since (`bestLoss <= bestAtLastCheck`). "Too few" is
 * `increases <= rho * window` in the reference code (`'reference'`, default) and `increases < rho * window`
 * in the paper (`'paper'`); they differ only when `rho * window` is an integer (e.g. the 16-iteration
 * window of 100 steps). Vectorised as {@link apgd} applies it; exported for tests.
 */
export function apgdShouldHalve(increases: number, window: number, rho: number, halvedLast: boolean, bestLoss: number, bestAtLastCheck: number, schedule: ApgdSchedule = 'reference'): boolean {
  // The reference compares in float32 (its threshold is a float32 tensor).
  const tooFew = schedule === 'paper' ? increases < rho * window : increases <= Math.fround(rho * window);
  return tooFew || (!halvedLast && bestLoss <= bestAtLastCheck);
}

/** `init` must be a float batch of `x`'s shape inside the bounds (it is projected onto the ball). */
function checkInit(init: tf.Tensor4D | undefined, p: Prepared): void {
  if (init === undefined) return;
  checkImages(init, p.bounds, 'init');
  if (init.shape.some((size, i) => size !== p.x.shape[i])) {
    throw new RangeError(`init: expected the shape of x [${p.x.shape}], got [${init.shape}]`);
  }
}

/** What one APGD run found: per example, whether some iterate was misclassified, that iterate, and the iterate of highest loss. */
interface RunResult {
  fooled: tf.Tensor1D;
  xAdv: tf.Tensor4D;
  xBest: tf.Tensor4D;
}

/**
 * The iteration's tensors; `codes` keeps per row the largest non-finite code of the logits so far. L1
 * adds `sparsity` (the reference's `topk`) and `sparseCount` (the nonzero coordinates of the best
 * point's perturbation at the last checkpoint, its `sp_old`).
 */
type State = Record<'x' | 'xPrev' | 'grad' | 'xBest' | 'gradBest' | 'lossBest' | 'xBestAdv' | 'fooled' | 'step' | 'increases' | 'prevLoss' | 'bestAtCheck' | 'halvedLast' | 'codes', tf.Tensor> &
  Partial<Record<'sparsity' | 'sparseCount', tf.Tensor>>;

/** Replaces `state` by `next`, disposing the tensors `next` no longer holds. */
function advance(state: State, next: State): State {
  const kept = new Set(Object.values(next));
  for (const t of Object.values(state)) if (!kept.has(t)) t.dispose();
  return next;
}

/** One APGD run's budget and start (each stage of the larger-eps schedule is a run of its own). */
interface RunSpec {
  eps: number;
  steps: number;
  /** Seed of the random start, when there is no `init`. */
  seed: number;
  /** The start point (projected onto the ball and the bounds) instead of a random one. */
  init?: tf.Tensor4D;
  /** Stop once every row is misclassified (not in the larger-eps stages before the last). */
  stopWhenAllFooled: boolean;
  /** Iterations of the same run traced before this one (the larger-eps stages count on); 0 traces the start. */
  iterationOffset: number;
}

/**
 * APGD-L1's checkpoints (the reference's L1 branch): every `max(floor(0.04 steps), 1)` iterations.
 * At each, per example, with `s` the nonzero coordinates of the best point's perturbation: the
 * sparsity becomes `s / size / 1.5`; where `s` fell below 0.95 of its value at the last checkpoint the
 * step size goes back to eps and the example restarts from its best point, elsewhere it is divided by
 * 1.5; then it is clamped to `[eps / 10, eps]`.
 */
function l1Checkpoints(steps: number): number[] {
  const every = Math.max(Math.trunc(0.04 * steps), 1);
  const out: number[] = [];
  for (let at = every; at <= steps; at += every) out.push(at);
  return out;
}

/**
 * The larger-eps schedule (the reference's `use_largereps`): budgets 3 eps, 2 eps and eps for
 * `ceil(0.3 steps)`, `ceil(0.3 steps)` and the remaining iterations (the last stage may get 0).
 */
export function largerEpsStages(eps: number, steps: number): { eps: number; steps: number }[] {
  const first = Math.ceil(0.3 * steps);
  return [
    { eps: 3 * eps, steps: first },
    { eps: 2 * eps, steps: first },
    { eps, steps: steps - 2 * first },
  ];
}

/**
 * One APGD run on validated inputs (every row attacked), from `spec.init` or a random start in the
 * ball. Linf and L2 follow Algorithm 1 of Croce & Hein (2020) and the reference code: first step
 * `2 eps`, momentum 0.75 after the first iteration, step halving at {@link apgdCheckpoints} by
 * {@link apgdShouldHalve} (under `cfg.schedule`), restart from the best point on halving. L1 follows
 * the reference's L1 branch: first step eps, sparse steps ({@link sparseL1Step}) without momentum, the
 * sparsity and step size adapted at the checkpoints of {@link l1Checkpoints}. Stops early once every
 * row is misclassified when `spec.stopWhenAllFooled`.
 */
function apgdRun(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn, bounds: [number, number], cfg: ApgdConfig, spec: RunSpec, runIndex: number, progress: () => void): RunResult {
  const [lo, hi] = bounds;
  const { norm } = cfg;
  const { eps, init } = spec;
  const n = x0.shape[0];
  const size = x0.size / n;
  const l1 = norm === 'l1';
  const reference = cfg.schedule === 'reference';
  const checkpoints = l1 ? l1Checkpoints(spec.steps) : apgdCheckpoints(spec.steps, cfg.schedule);
  const origin = l1 ? (x0.dataSync() as Float32Array) : undefined;
  const [lower, upper] = tf.tidy(() => [tf.maximum(tf.sub(x0, eps), lo), tf.minimum(tf.add(x0, eps), hi)]);
  /** Projection onto the eps-ball around x0 and the bounds (the reference's clamp order). */
  const project = (v: tf.Tensor): tf.Tensor => {
    if (norm === 'linf') return tf.minimum(tf.maximum(v, lower!), upper!);
    const delta = tf.sub(v, x0);
    const length = l2Norms(delta);
    return tf.clipByValue(tf.add(x0, tf.mul(tf.div(delta, tf.add(length, 1e-12)), tf.minimum(length, eps))), lo, hi);
  };
  /** L1: `base` plus the correction projecting the perturbation `delta` onto the L1 ball and the bounds, clipped (the reference's `base + L1_projection(x, delta, eps)`). */
  const correctL1 = (base: tf.Tensor, delta: tf.Tensor): tf.Tensor4D =>
    tf.clipByValue(tf.add(base, tf.tensor(l1ProjectionCorrection(delta.dataSync() as Float32Array, origin!, n, eps, lo, hi), x0.shape)), lo, hi) as tf.Tensor4D;
  const direction = (g: tf.Tensor): tf.Tensor => (norm === 'linf' ? tf.sign(g) : tf.div(g, tf.add(l2Norms(g), 1e-12)));
  /**
   * The loss iteration `i + 1`'s loss `l` is compared with to count an increase: the previous one, but
   * at the first iteration under the reference schedule what the reference's history holds there (its
   * last row, unfilled (0) unless the run has one iteration, when it is `l` itself).
   */
  const previousLoss = (i: number, prev: tf.Tensor, l: tf.Tensor): tf.Tensor => {
    if (i > 0 || !reference) return prev;
    return spec.steps === 1 ? l : tf.zerosLike(l);
  };
  /**
   * Gradient of the summed loss (averaged over eotIter calls), with the last call's misclassified rows
   * and losses and the largest non-finite code of every call's logits; called inside a tidy.
   */
  const evaluate = (x: tf.Tensor4D) => {
    let grad: tf.Tensor | undefined;
    let codes: tf.Tensor | undefined;
    let last: GradientWithValues | undefined;
    for (let e = 0; e < cfg.eotIter; e++) {
      last = gradientWithValues(model, x, (z) => loss(z, labels));
      grad = grad ? tf.add(grad, last.grad) : last.grad;
      codes = codes ? tf.maximum(codes, nonFiniteCodes(last.logits)) : nonFiniteCodes(last.logits);
    }
    if (cfg.eotIter > 1) grad = tf.div(grad!, cfg.eotIter);
    return { grad: grad!, codes: codes!, wrong: tf.notEqual(tf.argMax(last!.logits, 1), labels), loss: last!.value };
  };
  /** L1: per row, the coordinates where `x` differs from x0 (the reference's `L0_norm(x - x0)`), float32. */
  const nonzeroCount = (x: tf.Tensor): tf.Tensor => tf.sum(tf.cast(tf.notEqual(x, x0), 'float32'), [1, 2, 3]);

  // Every tensor of the state is disposed at the end, and when the model or the loss throws.
  let state!: State;
  try {
    state = tf.tidy(() => {
      let x: tf.Tensor4D;
      if (l1) {
        if (init) {
          x = correctL1(init, tf.sub(init, x0));
        } else {
          const t = seededRandomNormal(x0.shape, 0, 1, spec.seed);
          x = correctL1(tf.add(x0, t), t);
        }
      } else if (init) {
        x = project(init) as tf.Tensor4D;
      } else {
        const t = norm === 'linf' ? tf.randomUniform(x0.shape, -1, 1, 'float32', spec.seed) : seededRandomNormal(x0.shape, 0, 1, spec.seed);
        const scale = norm === 'linf' ? tf.max(tf.abs(t), [1, 2, 3], true) : l2Norms(t);
        x = tf.clipByValue(tf.add(x0, tf.mul(tf.div(t, tf.add(scale, 1e-12)), eps)), lo, hi) as tf.Tensor4D;
      }
      const { grad, wrong, loss: l, codes } = evaluate(x);
      if (spec.iterationOffset === 0) {
        const zeroGradients = tf.sum(tf.cast(tf.equal(tf.sum(tf.abs(grad), [1, 2, 3]), 0), 'int32')).dataSync()[0]!;
        if (zeroGradients > 0) {
          cfg.onWarning(`${zeroGradients} of ${n} points have an all-zero gradient at the start; gradient-based attacks are unreliable on them (masked gradients?)`);
        }
      }
      const s: State = {
        x,
        xPrev: x,
        grad,
        xBest: x,
        gradBest: grad,
        lossBest: l,
        xBestAdv: x,
        fooled: wrong,
        step: tf.fill([n, 1, 1, 1], l1 ? eps : 2 * eps),
        increases: tf.zeros([n]),
        prevLoss: l,
        bestAtCheck: l,
        // The reference starts its "reduced at the last check" flags at true: no halving for lack of
        // improvement at the first checkpoint.
        halvedLast: reference ? tf.ones([n], 'bool') : tf.zeros([n], 'bool'),
        codes,
      };
      if (l1) {
        // The reference: a fifth of the coordinates from a random start; from a given start, 1/1.5 of
        // the share its perturbation moves.
        const count = init ? nonzeroCount(x) : tf.fill([n], size);
        s.sparseCount = count;
        s.sparsity = init ? tf.div(tf.div(count, size), 1.5) : tf.fill([n], 0.2);
      }
      return s;
    });
    const trace = (iteration: number, halved?: tf.Tensor) =>
      cfg.onIteration?.({
        run: runIndex,
        iteration,
        loss: Float32Array.from(state.prevLoss.dataSync()),
        bestLoss: Float32Array.from(state.lossBest.dataSync()),
        stepSize: Float32Array.from(state.step.dataSync()),
        halved: halved && Uint8Array.from(halved.dataSync()),
        sparsity: state.sparsity && Float32Array.from(state.sparsity.dataSync()),
      });
    if (spec.iterationOffset === 0) trace(0);
    let lastCheckpoint = 0;
    for (let i = 0; i < spec.steps; i++) {
      const momentum = i > 0 ? 0.75 : 1;
      const next = tf.tidy((): State => {
        const s = state;
        let x: tf.Tensor4D;
        if (l1) {
          const stepped = sparseL1Step({
            x: s.x.dataSync() as Float32Array,
            origin: origin!,
            grad: s.grad.dataSync() as Float32Array,
            stepSize: s.step.dataSync(),
            sparsity: s.sparsity!.dataSync(),
            rows: n,
            eps,
            bounds,
          });
          x = tf.tensor4d(stepped, x0.shape);
        } else if (norm === 'l2' && tf.getBackend() === 'cpu') {
          const values = { x: peekFloat32(s.x), xPrev: peekFloat32(s.xPrev), grad: peekFloat32(s.grad), origin: peekFloat32(x0), step: peekFloat32(s.step) };
          x = tf.tensor4d(apgdL2Iterate(values, n, eps, momentum, bounds), x0.shape);
        } else {
          // The same as apgdL2Iterate in L2 (bit for bit), on any backend.
          const x1 = project(tf.add(s.x, tf.mul(s.step, direction(s.grad))));
          x = project(tf.add(s.x, tf.add(tf.mul(tf.sub(x1, s.x), momentum), tf.mul(tf.sub(s.x, s.xPrev), 1 - momentum)))) as tf.Tensor4D;
        }
        const { grad, wrong, loss: l, codes } = evaluate(x);
        const improved = tf.greater(l, s.lossBest);
        const out: State = {
          ...s,
          x,
          xPrev: s.x,
          grad,
          xBest: whereRows(improved, x, s.xBest),
          gradBest: whereRows(improved, grad, s.gradBest),
          lossBest: tf.where(improved, l, s.lossBest),
          xBestAdv: whereRows(wrong, x, s.xBestAdv),
          fooled: tf.logicalOr(s.fooled, wrong),
          increases: tf.add(s.increases, tf.cast(tf.greater(l, previousLoss(i, s.prevLoss, l)), 'float32')),
          prevLoss: l,
          codes: tf.maximum(s.codes, codes),
        };
        if (!checkpoints.includes(i + 1)) return out;
        if (l1) {
          const count = nonzeroCount(out.xBest);
          const reset = tf.less(tf.div(count, s.sparseCount!), Math.fround(0.95));
          out.sparsity = tf.div(tf.div(count, size), 1.5);
          out.sparseCount = count;
          out.step = tf.clipByValue(tf.where(tf.reshape(reset, [n, 1, 1, 1]), tf.fill([n, 1, 1, 1], eps), tf.div(s.step, 1.5)), eps / 10, eps);
          out.x = whereRows(reset, out.xBest, x);
          out.grad = whereRows(reset, out.gradBest, grad);
          return out;
        }
        const window = i + 1 - lastCheckpoint;
        const halve = tf.logicalOr(
          reference ? tf.lessEqual(out.increases, cfg.rho * window) : tf.less(out.increases, cfg.rho * window),
          tf.logicalAnd(tf.logicalNot(s.halvedLast), tf.lessEqual(out.lossBest, s.bestAtCheck)),
        );
        out.step = tf.where(tf.reshape(halve, [n, 1, 1, 1]), tf.div(s.step, 2), s.step);
        out.x = whereRows(halve, out.xBest, x);
        out.grad = whereRows(halve, out.gradBest, grad);
        out.increases = tf.zerosLike(out.increases);
        out.bestAtCheck = out.lossBest;
        out.halvedLast = halve;
        return out;
      });
      state = advance(state, next);
      const atCheckpoint = checkpoints.includes(i + 1);
      if (atCheckpoint) lastCheckpoint = i + 1;
      trace(spec.iterationOffset + i + 1, atCheckpoint && !l1 ? state.halvedLast : undefined);
      progress();
      // The read-back of the early stop also says whether some logits were not finite.
      const [allFooled, nonFinite] = tf.tidy(() => tf.stack([tf.cast(tf.all(state.fooled), 'int32'), tf.max(state.codes)]).dataSync());
      if (nonFinite) throwIfNonFinite(state.codes.dataSync(), cfg.where);
      if (allFooled && spec.stopWhenAllFooled) break;
    }
    return { fooled: tf.clone(state.fooled) as tf.Tensor1D, xAdv: tf.clone(state.xBestAdv) as tf.Tensor4D, xBest: tf.clone(state.xBest) as tf.Tensor4D };
  } finally {
    if (state !== undefined) tf.dispose([...new Set(Object.values(state))]);
    tf.dispose([lower!, upper!]);
  }
}

/**
 * One APGD run as `cfg` asks for it: a single run at eps, or the larger-eps schedule
 * ({@link largerEpsStages}; the reference's `decr_eps_pgd`), whose first stage starts at `init` or at
 * `x + t` (`t ~ N(0, 1)`) with the perturbation projected onto the 3 eps ball, and each later stage at
 * the best point of the one before. Only the last stage's successes are returned.
 */
function apgdRunAll(model: ModelLike, x0: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn, bounds: [number, number], cfg: ApgdConfig, seed: number, init: tf.Tensor4D | undefined, runIndex: number, progress: () => void): RunResult {
  if (!cfg.largerEps) return apgdRun(model, x0, labels, loss, bounds, cfg, { eps: cfg.eps, steps: cfg.steps, seed, init, stopWhenAllFooled: true, iterationOffset: 0 }, runIndex, progress);
  const stages = largerEpsStages(cfg.eps, cfg.steps);
  const [lo, hi] = bounds;
  let start: tf.Tensor4D =
    init?.clone() ??
    tf.tidy(() => {
      const moved = tf.add(x0, seededRandomNormal(x0.shape, 0, 1, seed));
      const delta = tf.sub(moved, x0).dataSync() as Float32Array;
      return tf.add(moved, tf.tensor(l1ProjectionCorrection(delta, x0.dataSync() as Float32Array, x0.shape[0], stages[0]!.eps, lo, hi), x0.shape)) as tf.Tensor4D;
    });
  try {
    let offset = 0;
    for (let k = 0; ; k++) {
      const last = k === stages.length - 1;
      const stage = stages[k]!;
      const result = apgdRun(model, x0, labels, loss, bounds, cfg, { eps: stage.eps, steps: stage.steps, seed, init: start, stopWhenAllFooled: last, iterationOffset: offset }, runIndex, progress);
      start.dispose();
      start = result.xBest;
      if (last) return result;
      tf.dispose([result.fooled, result.xAdv]);
      offset += stage.steps;
    }
  } catch (e) {
    start.dispose();
    throw e;
  }
}

/** One run to make: which loss, on which rows (given the rows still robust), with which seed. */
interface PlannedRun {
  loss: (rows: number[]) => { fn: LossFn; dispose: () => void };
  seed: number;
  /** Start from `cfg.init` (when given) instead of a random point. */
  fromInit: boolean;
}

/**
 * Runs `runs` in order, each on the rows still classified correctly (clean, then after every earlier
 * run), as AutoAttack's `perturb`. Returns the adversarial examples of the fooled rows and the clean
 * images elsewhere.
 */
function cascade(model: ModelLike, p: Prepared, cfg: ApgdConfig, runs: PlannedRun[]): tf.Tensor4D {
  const total = runs.length * cfg.steps;
  let done = 0;
  const judge = { predict: (t: tf.Tensor4D) => logitsOf(model, t), where: cfg.where };
  return runCascade(judge.predict, p.x, p.labels, cfg.where, (state) => {
    runs.forEach((run, runIndex) => {
      const rows = indicesWhere(state.robust);
      attackRows(state, p.x, p.labels, rows, (xs, ys) => {
        const loss = run.loss(rows);
        const init = run.fromInit && cfg.init ? takeRows(cfg.init, rows) : undefined;
        try {
          const result = apgdRunAll(model, xs, ys, loss.fn, p.bounds, cfg, run.seed, init, runIndex, () => cfg.onStep?.(++done, total));
          const fooled = Uint8Array.from(result.fooled.dataSync());
          tf.dispose([result.fooled, result.xBest]);
          return { examples: result.xAdv, fooled };
        } finally {
          loss.dispose();
          init?.dispose();
        }
      }, judge);
      // A run stopped early (everything fooled) or skipped still counts its full share of the progress.
      done = (runIndex + 1) * cfg.steps;
      cfg.onStep?.(done, total);
    });
  });
}

/**
 * Auto-PGD, untargeted (APGD-CE with `loss: 'ce'`, APGD-DLR with `loss: 'dlr'`), as AutoAttack runs it:
 * only points classified correctly are attacked; each of `restarts` runs starts at a random point of
 * the ball (Linf: `x + eps t / max|t|`, `t ~ U(-1, 1)`; L2: `x + eps t / ||t||_2`, `t ~ N(0, 1)`) and
 * attacks the points no earlier run fooled. The step size starts at `2 eps` and is halved at the
 * checkpoints of {@link apgdCheckpoints} by the rule of {@link apgdShouldHalve}; iterates combine the
 * projected step with momentum 0.75.
 *
 * Where the reference code and the paper differ, this follows the reference code by default
 * (`schedule: 'reference'`: its integer checkpoint budgets, the `<=` of its halving test, and its
 * first-checkpoint bookkeeping) and the paper with `schedule: 'paper'`; see {@link ApgdSchedule}.
 *
 * With `norm: 'l1'` it is APGD-L1 (Croce & Hein, ICML 2021, "Mind the box"), as the reference code's
 * L1 branch: the threat model is the L1 ball intersected with the bounds, and every iterate is the
 * Euclidean projection onto it ({@link projectOntoL1BallInBox}); a random start is `x + t` with
 * `t ~ N(0, 1)` projected; each step moves only the coordinates of largest `|grad|` (a share
 * `sparsity`, a fifth at first) by `stepSize sign(grad) / count`, without momentum; the step size
 * starts at eps. Every `max(floor(0.04 steps), 1)` iterations the sparsity becomes `1/1.5` of the
 * share of coordinates the best point's perturbation moves, and the step size is divided by 1.5
 * (at least eps / 10), or reset to eps with a restart from the best point where that share fell below
 * 0.95 of its last value. `largerEps` runs the reference's `use_largereps` schedule (3 eps, 2 eps,
 * eps), what AutoAttack's standard L1 version does.
 *
 * @param model a `tf.LayersModel` (inference mode) or a function `x => logits`
 * @param x clean images, NHWC, inside `bounds`; not modified
 * @param y true labels `[N]`
 * @returns a new batch: for every fooled point the last misclassified iterate (inside the eps-ball
 *   and the bounds), for every other point the clean image
 * @see Croce & Hein, ICML 2020, Algorithm 1; github.com/fra31/auto-attack (`APGDAttack`)
 */
export function apgd(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: ApgdOptions): tf.Tensor4D {
  const cfg = resolve(options, 'apgd', APGD_OPTION_KEYS);
  const lossName = resolveLossName(options.loss);
  const p = prepare(model, x, y, options.bounds);
  try {
    checkInit(cfg.init, p);
    if (lossName === 'dlr' && p.numClasses < 3) throw new RangeError(`loss = 'dlr': needs at least 3 classes, the model has ${p.numClasses}`);
    const fn = lossName === 'ce' ? crossEntropy : dlrLoss;
    const runs = Array.from({ length: cfg.restarts }, (_, r) => ({ loss: () => ({ fn, dispose: () => {} }), seed: deriveSeed(cfg.seed, 0, r), fromInit: r === 0 }));
    return cascade(model, p, cfg, runs);
  } finally {
    p.labels.dispose();
  }
}

/**
 * APGD-T (AutoAttack's targeted Auto-PGD): for each target rank `t = 2 .. targetClasses + 1` in turn,
 * the class ranked `t` by the clean logits becomes the target of `restarts` APGD runs on the
 * targeted DLR loss ({@link dlrTargetedLoss}), each on the points still robust. Success means
 * misclassification (any class), as in AutoAttack. Needs at least 4 classes. Otherwise as {@link apgd}.
 *
 * @param y true labels `[N]` (the targets are chosen from the clean logits)
 * @returns a new batch: adversarial examples where some run succeeded, clean images elsewhere
 * @see github.com/fra31/auto-attack (`APGDAttack_targeted`)
 */
export function apgdTargeted(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: ApgdTargetedOptions): tf.Tensor4D {
  const cfg = resolve(options, 'apgdTargeted', APGD_TARGETED_OPTION_KEYS);
  const p = prepare(model, x, y, options.bounds);
  try {
    checkInit(cfg.init, p);
    if (p.numClasses < 4) throw new RangeError(`apgdTargeted: the targeted DLR loss needs at least 4 classes, the model has ${p.numClasses}`);
    const targetClasses = targetClassCount(options.targetClasses, p.numClasses);
    // Column r holds the class ranked r + 1 by the clean logits.
    const ranked = tf.tidy(() => tf.topk(logitsOf(model, p.x), targetClasses + 1).indices);
    try {
      const runs: PlannedRun[] = [];
      for (let rank = 2; rank <= targetClasses + 1; rank++) {
        for (let r = 0; r < cfg.restarts; r++) {
          runs.push({
            seed: deriveSeed(cfg.seed, rank, r),
            fromInit: r === 0,
            loss: (rows) => {
              const targets = classesAtRank(ranked, rows, rank);
              return { fn: (z, labels) => dlrTargetedLoss(z, labels, targets), dispose: () => targets.dispose() };
            },
          });
        }
      }
      return cascade(model, p, cfg, runs);
    } finally {
      ranked.dispose();
    }
  } finally {
    p.labels.dispose();
  }
}

/** Options of {@link apgdAttack}: those of {@link apgd} without the budget, plus a display name. */
export type ApgdAttackOptions = Omit<ApgdOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'APGD-CE'`, or `'APGD-DLR'` with the DLR loss). */
  name?: string;
};

/** APGD-CE / APGD-DLR as an {@link Attack} value (fixed-epsilon, untargeted), e.g. for {@link robustAccuracy}. */
export function apgdAttack(options: ApgdAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, APGD_OPTION_KEYS, 'apgdAttack');
  resolve({ ...rest, eps: 0 }, 'apgdAttack', APGD_OPTION_KEYS);
  const loss = resolveLossName(options.loss);
  const norm = checkNormWithL1(options.norm);
  return untargetedAttack(name ?? (loss === 'ce' ? 'APGD-CE' : 'APGD-DLR'), norm, options.bounds, (model, x, labels, eps) => apgd(model, x, labels, { ...rest, eps }));
}

/** Options of {@link apgdTargetedAttack}. */
export type ApgdTargetedAttackOptions = Omit<ApgdTargetedOptions, 'eps'> & {
  /** Display name of the attack in tables and sweeps (default `'APGD-T'`). */
  name?: string;
};

/** APGD-T as an {@link Attack} value (fixed-epsilon; success = misclassification, so `targeted: false`). */
export function apgdTargetedAttack(options: ApgdTargetedAttackOptions = {}): Attack {
  const { name, rest } = factoryOptions(options, APGD_TARGETED_OPTION_KEYS, 'apgdTargetedAttack');
  resolve({ ...rest, eps: 0 }, 'apgdTargetedAttack', APGD_TARGETED_OPTION_KEYS);
  return untargetedAttack(name ?? 'APGD-T', checkNormWithL1(options.norm), options.bounds, (model, x, labels, eps) => apgdTargeted(model, x, labels, { ...rest, eps }));
}
