/**
 * Row (example) bookkeeping for attacks that work on the points still robust: pick rows of a batch
 * and put attacked rows back in place.
 */
import * as tf from '@tensorflow/tfjs-core';

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
