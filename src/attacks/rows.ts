/**
 * Row (example) bookkeeping for attacks that work on the points still robust: pick rows of a batch
 * and put attacked rows back in place.
 */
import * as tf from '@tensorflow/tfjs-core';
import { floatValues, uninitializedFloat32, type CpuBackend } from '../backend/alloc.js';
import { oncePerProcess } from '../io/once.js';
import { judgeRows, NonFiniteLogitsError, throwIfNonFinite, type JudgedRows } from './finite.js';
import { checkNumber } from './validate.js';

/** Indices `i` with `flags[i]` set. */
export function indicesWhere(flags: ArrayLike<number | boolean>): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) out.push(i);
  return out;
}

/** Rows `rows` of `t` (a new tensor). */
export function takeRows<T extends tf.Tensor>(t: T, rows: readonly number[]): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(rows as number[], 'int32')) as T);
}

/**
 * Per row `r` (the first axis), `a`'s row where `condition[r]` holds, else `b`'s: `tf.where` with the
 * 1-D `condition` broadcast over each row. `a` and `b` have the same shape. A new tensor.
 */
export function whereRows<T extends tf.Tensor>(condition: tf.Tensor, a: T, b: T): T {
  return tf.tidy(() => {
    const flags = tf.cast(condition, 'bool');
    if (tf.getBackend() === 'cpu' && a.dtype === 'float32' && b.dtype === 'float32' && tf.util.arraysEqual(a.shape, b.shape) && a.rank > 0 && condition.size === a.shape[0]) {
      return tf.engine().runKernel(SELECT_ROWS_KERNEL, { condition: flags, t: a, e: b }) as T;
    }
    return tf.where(tf.reshape(flags, [a.shape[0]!, ...a.shape.slice(1).map(() => 1)]), a, b) as T;
  });
}

/**
 * The cpu kernel behind {@link whereRows}: whole rows copied from `t` or `e` by a 1-D bool `condition`
 * (what `tf.where` does after tiling the condition to the images' shape: a Tile and a Select over every
 * element, about 2.5 ms per call on 200 CIFAR-10 images, where the row copies take a tenth of that).
 */
const SELECT_ROWS_KERNEL = 'RmcSelectRows';

// Registered once per process, however many copies of the package load (ESM and CommonJS builds).
oncePerProcess('select-rows-kernel', () => {
  tf.registerKernel({
    kernelName: SELECT_ROWS_KERNEL,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackend;
      const flags = cpu.data.get(inputs['condition']!.dataId).values as ArrayLike<number>;
      const values = (x: tf.TensorInfo) => floatValues(cpu, x) ?? Float32Array.from(cpu.readSync(x.dataId) as ArrayLike<number>);
      const t = values(inputs['t']!);
      const e = values(inputs['e']!);
      const size = flags.length > 0 ? t.length / flags.length : 0;
      const out = uninitializedFloat32(t.length, cpu);
      for (let r = 0; r < flags.length; r++) out.set((flags[r] ? t : e).subarray(r * size, (r + 1) * size), r * size);
      return cpu.makeTensorInfo(inputs['t']!.shape, 'float32', out);
    },
  });
  tf.registerGradient({
    kernelName: SELECT_ROWS_KERNEL,
    inputsToSave: ['condition'],
    gradFunc: (dy, saved) => {
      const [condition] = saved as [tf.Tensor];
      const grad = dy as tf.Tensor;
      const zeros = () => tf.zerosLike(grad);
      return {
        condition: () => tf.zerosLike(condition),
        t: () => whereRows(condition, grad, zeros()),
        e: () => whereRows(condition, zeros(), grad),
      };
    },
  });
});

/**
 * A copy of `full` whose rows `rows[k]` are replaced by `values[k]` for every `k` with `replace[k]`
 * (all of them when `replace` is omitted).
 */
export function putRows<T extends tf.Tensor>(full: T, rows: readonly number[], values: T, replace?: ArrayLike<number | boolean>): T {
  return tf.tidy(() => {
    const n = full.shape[0];
    if (rows.length === 0 || (replace !== undefined && !Array.from(replace).some(Boolean))) return tf.clone(full);
    const position = new Int32Array(n);
    const mask = new Uint8Array(n);
    rows.forEach((row, k) => {
      if (replace === undefined || replace[k]) {
        position[row] = k;
        mask[row] = 1;
      }
    });
    const taken = tf.gather(values, tf.tensor1d(position, 'int32'));
    return whereRows(tf.tensor1d(mask, 'bool'), taken, full);
  });
}

/**
 * Per row: 1 where the model classifies the row of `x` as `labels`. Throws a
 * {@link NonFiniteLogitsError} reported by `where` when some row's logits are not finite.
 */
export function correctRows(predict: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, labels: tf.Tensor1D, where: string): Uint8Array {
  const { correct, nonFinite } = judgeRowsOf(predict, x, labels);
  throwIfNonFinite(nonFinite, where);
  return correct;
}

/** {@link judgeRows} of the logits `predict` gives for `x`. */
export function judgeRowsOf(predict: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, labels: tf.Tensor1D): JudgedRows {
  const logits = tf.tidy(() => predict(x) as tf.Tensor2D);
  try {
    return judgeRows(logits, labels);
  } finally {
    logits.dispose();
  }
}

/** What attacks that work on the points still robust carry from one run to the next. */
export interface CascadeState {
  /** The batch so far: adversarial examples of the rows fooled, clean images elsewhere. */
  adv: tf.Tensor4D;
  /** Per row: 1 while no run has fooled it (0 for rows misclassified clean). */
  robust: Uint8Array;
}

/**
 * Runs `body` on a {@link CascadeState} that starts at the clean images `x` with the rows `predict`
 * classifies correctly (a {@link NonFiniteLogitsError} reported by `where` when some row's logits are
 * not finite), and returns its final `adv` (the caller owns it); nothing is left when `body` throws.
 */
export function runCascade(predict: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, labels: tf.Tensor1D, where: string, body: (state: CascadeState) => void): tf.Tensor4D {
  const robust = correctRows(predict, x, labels, where);
  return runCascadeFrom({ adv: tf.clone(x), robust }, body);
}

/** Runs `body` on `state` and returns its final `adv` (the caller owns it); disposes it when `body` throws. */
export function runCascadeFrom(state: CascadeState, body: (state: CascadeState) => void): tf.Tensor4D {
  try {
    body(state);
    return state.adv;
  } catch (e) {
    state.adv.dispose();
    throw e;
  }
}

/**
 * What an attack made of the rows it was given: candidate examples (owned by the caller of
 * `attackRows`) and per-row success; without `fooled`, a row is fooled where the model misclassifies
 * its example (and `withinBudget`, when given, holds).
 */
export interface RowsAttacked {
  examples: tf.Tensor4D;
  fooled?: ArrayLike<number | boolean>;
  withinBudget?: ArrayLike<boolean>;
}

/** How {@link attackRows} judges examples: the model's logits, and the function reporting errors. */
export interface RowsJudge {
  predict: (x: tf.Tensor4D) => tf.Tensor;
  where: string;
}

/**
 * The bookkeeping of attacks that work on the points still robust (AutoAttack and its components):
 * runs `attack` on rows `rows` of `x`/`labels`, writes the examples of the rows it fooled into
 * `state.adv` (replacing and disposing the previous tensor) and clears their `state.robust` flags.
 * Returns how many rows were fooled. A {@link NonFiniteLogitsError} (of `attack`, or of the model on
 * the examples) is rethrown with its rows mapped to those of `x`, reported by `judge.where`.
 */
export function attackRows(
  state: CascadeState,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  rows: readonly number[],
  attack: (xs: tf.Tensor4D, ys: tf.Tensor1D) => RowsAttacked,
  judge: RowsJudge,
): number {
  if (rows.length === 0) return 0;
  const xs = takeRows(x, rows);
  const ys = takeRows(labels, rows);
  try {
    let fooled: ArrayLike<number | boolean>;
    try {
      const attacked = attack(xs, ys);
      try {
        fooled = attacked.fooled ?? misclassified(judge, attacked.examples, ys, attacked.withinBudget);
        const merged = putRows(state.adv, rows, attacked.examples, fooled);
        state.adv.dispose();
        state.adv = merged;
      } finally {
        attacked.examples.dispose();
      }
    } catch (e) {
      throw e instanceof NonFiniteLogitsError ? e.remap(judge.where, rows, x.shape[0]) : e;
    }
    let count = 0;
    rows.forEach((row, k) => {
      if (fooled[k]) {
        state.robust[row] = 0;
        count++;
      }
    });
    return count;
  } finally {
    tf.dispose([xs, ys]);
  }
}

/** Per row of `examples`: 1 where the model misclassifies it (and `withinBudget` holds). */
function misclassified(judge: RowsJudge, examples: tf.Tensor4D, labels: tf.Tensor1D, withinBudget?: ArrayLike<boolean>): Uint8Array {
  return correctRows(judge.predict, examples, labels, judge.where).map((ok, k) => (!ok && (withinBudget?.[k] ?? true) ? 1 : 0));
}

/**
 * The number of target classes of a targeted AutoAttack component: `requested`, or AutoAttack's 9
 * capped at `numClasses - 1` (the classes other than the true one); checked to lie in [1, numClasses - 1].
 */
export function targetClassCount(requested: number | undefined, numClasses: number): number {
  return checkNumber(requested ?? Math.min(9, numClasses - 1), 'targetClasses', { min: 1, max: numClasses - 1, integer: true });
}

/** For rows `rows`, the class ranked `rank` (1 = the top class) in `ranked`, the classes sorted by clean logit `[N, k]`. */
export function classesAtRank(ranked: tf.Tensor2D, rows: readonly number[], rank: number): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(tf.slice(takeRows(ranked, rows), [0, rank - 1], [rows.length, 1]), [-1]) as tf.Tensor1D);
}
