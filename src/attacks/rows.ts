/**
 * Row (example) bookkeeping for attacks that work on the points still robust: pick rows of a batch
 * and put attacked rows back in place.
 */
import * as tf from '@tensorflow/tfjs-core';
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
    const shape = [n, ...new Array<number>(full.rank - 1).fill(1)];
    const m = tf.broadcastTo(tf.reshape(tf.tensor1d(mask, 'bool'), shape), full.shape);
    return tf.where(m, taken, full) as T;
  });
}

/** Per row: 1 where the model classifies the row of `x` as `labels`. */
export function correctRows(predict: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, labels: tf.Tensor1D): Uint8Array {
  return tf.tidy(() => Uint8Array.from(tf.equal(tf.argMax(predict(x), 1), labels).dataSync()));
}

/** What an attack made of the rows it was given: candidate examples (owned by the caller of `attackRows`) and per-row success. */
export interface RowsAttacked {
  examples: tf.Tensor4D;
  fooled: ArrayLike<number | boolean>;
}

/**
 * The bookkeeping of attacks that work on the points still robust (AutoAttack and its components):
 * runs `attack` on rows `rows` of `x`/`labels`, writes the examples of the rows it fooled into
 * `state.adv` (replacing and disposing the previous tensor) and clears their `state.robust` flags.
 * Returns how many rows were fooled.
 */
export function attackRows(
  state: { adv: tf.Tensor4D; robust: Uint8Array },
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  rows: readonly number[],
  attack: (xs: tf.Tensor4D, ys: tf.Tensor1D) => RowsAttacked,
): number {
  if (rows.length === 0) return 0;
  const xs = takeRows(x, rows);
  const ys = takeRows(labels, rows);
  try {
    const { examples, fooled } = attack(xs, ys);
    try {
      const merged = putRows(state.adv, rows, examples, fooled);
      state.adv.dispose();
      state.adv = merged;
    } finally {
      examples.dispose();
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
