/**
 * Non-finite logits: a model whose weights diverged outputs NaN (or Infinity), and `argMax` of a NaN
 * row is 0, a class like any other. Attacks and evaluations detect such rows instead of counting them
 * as predictions.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * What an evaluation does with images whose logits are not finite: `'error'` (the default) stops with
 * a {@link NonFiniteLogitsError}; `'count-as-wrong'` counts them as misclassified (clean, and under
 * every attack) and reports how many there were.
 */
export type NonFiniteMode = 'error' | 'count-as-wrong';

export function checkNonFiniteMode(mode: unknown): NonFiniteMode {
  if (mode === undefined || mode === 'error') return 'error';
  if (mode === 'count-as-wrong') return 'count-as-wrong';
  throw new RangeError(`nonFinite = ${JSON.stringify(mode)}: accepted values are 'error' and 'count-as-wrong'`);
}

/**
 * The model produced NaN or +-Infinity logits for some images, so their predictions mean nothing
 * (usually the weights diverged). `rows` flags those images among the `rows.length` images of the call
 * (or batch) the message names.
 */
export class NonFiniteLogitsError extends Error {
  /** Per image (of the call or batch the message names): 0 finite logits, 1 +-Infinity, 2 NaN. */
  readonly codes: Uint8Array;
  /** 1 for each image whose logits were not finite. */
  readonly rows: Uint8Array;
  /** Number of flagged images. */
  readonly count: number;
  /** `'NaN'`, `'Infinity'` or `'NaN and Infinity'`: what the flagged logits held. */
  readonly kind: string;
  /** Where it happened, as the message says it after the count (e.g. `' in batch 0 (images 0-31), clean'`). */
  readonly detail: string;

  /**
   * The error for images with non-finite logits, its message built from the counts.
   *
   * @param where the function reporting it, e.g. `'pgd'`
   * @param codes per image: 0 finite logits, 1 some logit is +-Infinity (no NaN), 2 some logit is NaN
   * @param detail where it happened, e.g. `' in batch 0 (images 0-31), clean'` (appended to the count)
   */
  constructor(where: string, codes: ArrayLike<number>, detail = '') {
    const own = Uint8Array.from(codes);
    const rows = own.map((c) => (c > 0 ? 1 : 0));
    const count = rows.reduce((sum, v) => sum + v, 0);
    const nan = own.includes(2);
    const kind = nan && own.includes(1) ? 'NaN and Infinity' : nan ? 'NaN' : 'Infinity';
    super(`${where}: the model produced non-finite logits (${kind}) for ${count} of ${rows.length} images${detail}; the weights may have diverged`);
    this.name = 'NonFiniteLogitsError';
    this.codes = own;
    this.rows = rows;
    this.count = count;
    this.kind = kind;
    this.detail = detail;
  }

  /** The same finding within a larger batch of `n` images, of which this error's row `k` is row `rows[k]`. */
  remap(where: string, rows: readonly number[], n: number, detail = ''): NonFiniteLogitsError {
    const codes = new Uint8Array(n);
    rows.forEach((row, k) => (codes[row] = this.codes[k]!));
    return new NonFiniteLogitsError(where, codes, detail);
  }

  /** The same finding, reported by `where` with `detail` (by default this error's). */
  restate(where: string, detail = this.detail): NonFiniteLogitsError {
    return new NonFiniteLogitsError(where, this.codes, detail);
  }
}

/** Per row of `logits` `[N, C]`: int32 code 2 where some logit is NaN, 1 where some is +-Infinity, else 0. */
export function nonFiniteCodes(logits: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const nan = tf.cast(tf.any(tf.isNaN(logits), 1), 'int32');
    const inf = tf.cast(tf.any(tf.isInf(logits), 1), 'int32');
    return tf.maximum(tf.mul(nan, tf.scalar(2, 'int32')), inf) as tf.Tensor1D;
  });
}

/** Throws a {@link NonFiniteLogitsError} when some code is non-zero. */
export function throwIfNonFinite(codes: ArrayLike<number>, where: string, detail = ''): void {
  for (let i = 0; i < codes.length; i++) if (codes[i]) throw new NonFiniteLogitsError(where, codes, detail);
}

/** What the model makes of a batch: per row, classified as the label, and whether its logits are finite. */
export interface JudgedRows {
  /** 1 where the model predicts the label and the logits are finite. */
  correct: Uint8Array;
  /** Per row: 0 finite logits, 1 some logit is +-Infinity (no NaN), 2 some logit is NaN. */
  nonFinite: Uint8Array;
}

/**
 * Per row of `logits` `[N, C]`: predicted as `labels` (never for a row with non-finite logits) and the
 * non-finite code; one read-back.
 */
export function judgeRows(logits: tf.Tensor2D, labels: tf.Tensor1D): JudgedRows {
  const n = logits.shape[0];
  const both = tf.tidy(() => tf.concat([tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'), nonFiniteCodes(logits)]).dataSync());
  const nonFinite = Uint8Array.from(both.subarray(n));
  const correct = Uint8Array.from(both.subarray(0, n), (c, i) => (c && !nonFinite[i] ? 1 : 0));
  return { correct, nonFinite };
}
