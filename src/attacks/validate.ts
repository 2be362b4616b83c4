/** Input checks shared by the attacks: every error names the argument and the accepted range. */
import * as tf from '@tensorflow/tfjs-core';

/** Valid pixel range `[min, max]` of the images. */
export type Bounds = readonly [number, number];

/** Labels as an int32 tensor of shape `[N]`, an array or an `Int32Array`. */
export type LabelsLike = tf.Tensor1D | readonly number[] | Int32Array;

export function checkBounds(bounds: Bounds | undefined): [number, number] {
  const b = bounds ?? [0, 1];
  if (!Array.isArray(b) || b.length !== 2 || !Number.isFinite(b[0]) || !Number.isFinite(b[1]) || !(b[0] < b[1])) {
    throw new RangeError(`bounds = ${JSON.stringify(bounds)}: must be [min, max] with finite min < max`);
  }
  return [b[0], b[1]];
}

/** Throws when `t` has been disposed (tfjs would fail later with "reading 'backend'"). */
export function checkNotDisposed(t: tf.Tensor, name: string): void {
  if (t.isDisposed) throw new TypeError(`${name}: the tensor has been disposed; pass a live tensor (dispose it only after the call)`);
}

/**
 * The keys of an options type, as a list checked at compile time: `keys` must name every key of `T`
 * and nothing else, so the list cannot drift from the interface.
 */
export function optionKeys<T extends object>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}

/**
 * The options of an attack's factory (`pgdAttack`, ...) checked against the attack's keys without
 * `eps` (and any of `omit`), plus `name`; returns the display name apart from the attack's options.
 */
export function factoryOptions<T extends { name?: string }>(options: T, keys: readonly string[], where: string, omit: readonly string[] = []): { name: string | undefined; rest: Omit<T, 'name'> } {
  if (!options || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  checkOptionKeys(options, [...keys.filter((k) => k !== 'eps' && !omit.includes(k)), 'name'], where);
  const { name, ...rest } = options;
  return { name, rest };
}

/**
 * Rejects option keys outside `accepted` (typos such as `epsilon` for `eps` would otherwise fall back
 * to the defaults without a word). `where` names the function, e.g. `'pgd'`.
 */
export function checkOptionKeys(options: object, accepted: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!accepted.includes(key)) {
      throw new RangeError(`${where}: unknown option '${key}'; accepted options: ${accepted.join(', ')}`);
    }
  }
}

/** Checks `x` is a rank-4 float tensor without NaN inside `bounds` (one small synchronous read). */
export function checkImages(x: tf.Tensor, bounds: readonly [number, number], name = 'x'): asserts x is tf.Tensor4D {
  if (!(x instanceof tf.Tensor)) throw new TypeError(`${name}: expected a tf.Tensor4D of NHWC images`);
  checkNotDisposed(x, name);
  if (x.rank !== 4) throw new RangeError(`${name}: expected a rank-4 NHWC batch, got shape [${x.shape}]`);
  if (x.dtype !== 'float32') throw new RangeError(`${name}: expected dtype float32, got ${x.dtype}`);
  if (x.shape[0] === 0) throw new RangeError(`${name}: the batch is empty`);
  const [nan, min, max] = tf.tidy(() => tf.stack([tf.cast(tf.any(tf.isNaN(x)), 'float32'), tf.min(x), tf.max(x)]).dataSync());
  if (nan) throw new RangeError(`${name}: contains NaN pixels`);
  if (min! < bounds[0] || max! > bounds[1]) {
    throw new RangeError(`${name}: pixel values span [${min}, ${max}], outside bounds [${bounds[0]}, ${bounds[1]}]`);
  }
}

/** Labels as a new int32 tensor `[n]` after checking length and range `[0, numClasses)`. */
export function toLabels(y: LabelsLike, n: number, numClasses: number, name = 'y'): tf.Tensor1D {
  let values: ArrayLike<number>;
  if (y instanceof tf.Tensor) {
    checkNotDisposed(y, name);
    if (y.rank !== 1) throw new RangeError(`${name}: expected a rank-1 tensor of class indices, got shape [${y.shape}]`);
    values = y.dataSync();
  } else if (Array.isArray(y) || y instanceof Int32Array) {
    values = y;
  } else {
    throw new TypeError(`${name}: expected class indices as a tf.Tensor1D, number[] or Int32Array`);
  }
  if (values.length !== n) throw new RangeError(`${name}: has ${values.length} labels for ${n} images`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(`${name}[${i}] = ${v}: labels must be integers in [0, ${numClasses - 1}] (the model has ${numClasses} classes)`);
    }
  }
  return tf.tensor1d(Array.from(values), 'int32');
}

export function checkNumber(value: unknown, name: string, range: { min?: number; minExclusive?: boolean; integer?: boolean; max?: number }): number {
  const { min, max, integer, minExclusive } = range;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || value <= max);
  if (!ok) {
    const kind = integer ? 'an integer' : 'a finite number';
    const lower = min === undefined ? '' : minExclusive ? ` > ${min}` : ` >= ${min}`;
    const upper = max === undefined ? '' : `${lower ? ' and' : ''} <= ${max}`;
    throw new RangeError(`${name} = ${String(value)}: must be ${kind}${lower}${upper}`);
  }
  return value as number;
}

export function checkSeed(seed: unknown, name = 'seed'): number | undefined {
  if (seed === undefined) return undefined;
  return checkNumber(seed, name, { min: 0, integer: true });
}
