/**
 * The selections attack loops make every iteration (keep a row or take the new one; clamp to a box),
 * with typed-array paths on the CPU backend: there tfjs's `where` with a per-row condition tiles the
 * condition over every element and `minimum`/`maximum` run a generic broadcasting loop (each ~40-50 ms
 * on 200 CIFAR-10 images, against ~1 ms for a row copy or a clamp loop). Other backends use the tfjs
 * ops. Results are identical either way (the same float32 values are copied or compared).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Whether the typed-array paths apply: the CPU backend, where reading a tensor costs no transfer. */
function onCpu(...tensors: tf.Tensor[]): boolean {
  return tf.getBackend() === 'cpu' && tensors.every((t) => t.dtype === 'float32');
}

/**
 * Per row `r` (the first axis), `a`'s row where `condition[r]` holds, else `b`'s: `tf.where` with the
 * 1-D `condition` broadcast over the rows. `a` and `b` have the same shape. A new tensor.
 */
export function whereRows<T extends tf.Tensor>(condition: tf.Tensor, a: T, b: T): T {
  const n = a.shape[0]!;
  if (!onCpu(a, b)) {
    return tf.tidy(() => tf.where(tf.broadcastTo(tf.reshape(tf.cast(condition, 'bool'), [n, ...a.shape.slice(1).map(() => 1)]), a.shape), a, b)) as T;
  }
  const take = condition.dataSync();
  const av = a.dataSync() as Float32Array;
  const bv = b.dataSync() as Float32Array;
  const size = a.size / n;
  const out = new Float32Array(a.size);
  for (let r = 0; r < n; r++) out.set((take[r] ? av : bv).subarray(r * size, (r + 1) * size), r * size);
  return tf.tensor(out, a.shape, 'float32') as T;
}

/**
 * A copy of `full` with row `rows[k]` replaced by `values`' row `k` wherever `replace[k]`; `undefined`
 * off the CPU backend (the caller then gathers and selects with tfjs ops).
 */
export function replaceRowsOnCpu<T extends tf.Tensor>(full: T, rows: readonly number[], values: T, replace?: ArrayLike<number | boolean>): T | undefined {
  if (!onCpu(full, values)) return undefined;
  const size = full.size / full.shape[0]!;
  const out = Float32Array.from(full.dataSync() as Float32Array);
  const vv = values.dataSync() as Float32Array;
  rows.forEach((row, k) => {
    if (replace === undefined || replace[k]) out.set(vv.subarray(k * size, (k + 1) * size), row * size);
  });
  return tf.tensor(out, full.shape, 'float32') as T;
}

/** `min(max(v, lower), upper)` element-wise (tensors of one shape), as `tf.minimum(tf.maximum(...))`. A new tensor. */
export function clampBetween<T extends tf.Tensor>(v: T, lower: tf.Tensor, upper: tf.Tensor): T {
  if (!onCpu(v, lower, upper) || lower.size !== v.size || upper.size !== v.size) return tf.tidy(() => tf.minimum(tf.maximum(v, lower), upper)) as T;
  const vv = v.dataSync() as Float32Array;
  const lo = lower.dataSync() as Float32Array;
  const hi = upper.dataSync() as Float32Array;
  const out = new Float32Array(v.size);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(vv[i]!, lo[i]!), hi[i]!);
  return tf.tensor(out, v.shape, 'float32') as T;
}
