/**
 * Proposition 1 of Xu & Yang: sufficient conditions for
 * `P(|Pool(g(x + delta)) - Pool(g(x))| >= gamma) <= p`, where the feature disturbances
 * `d_ij = g_ij(x + delta) - g_ij(x)` lie in `[a, b]`, have zero mean and are independent, and the map
 * is `H x W`.
 *
 * - average pooling (Hoeffding): the probability is at most `2 exp(-2 HW gamma^2 / (b - a)^2)`;
 * - max pooling (Hoeffding's lemma, Jensen, Markov): at most `(b - a) sqrt(log sqrt(2 HW)) / gamma`.
 *
 * The first falls as HW grows, the second rises: enlarge the feature map before average pooling.
 * Logarithms are natural.
 */

/** The inputs of a bound. */
export interface BoundInput {
  /** Feature map height `H`, in feature-map pixels (a positive integer). */
  height: number;
  /** Feature map width `W`, in feature-map pixels (a positive integer). */
  width: number;
  /** Lower end of the feature disturbances `d_ij` (finite, < b; in the units of the features). */
  a: number;
  /** Upper end of the feature disturbances `d_ij` (finite, > a). */
  b: number;
  /** The disturbance level (> 0). */
  gamma: number;
}

/** A bound on the probability, as computed and as a probability. */
export interface BoundResult {
  /** The raw value of the bound (may exceed 1). */
  value: number;
  /** `min(value, 1)`. */
  probability: number;
  /** True when the bound says nothing (value >= 1). */
  vacuous: boolean;
}

function checkSize(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${name} = ${String(v)}: must be a positive integer`);
  return v;
}

function checkRange(a: unknown, b: unknown): number {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || !(b > a)) {
    throw new RangeError(`a = ${String(a)}, b = ${String(b)}: need finite numbers with b > a`);
  }
  return b - a;
}

function checkPositive(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${name} = ${String(v)}: must be a finite number > 0`);
  return v;
}

function checkP(p: unknown): number {
  if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw new RangeError(`p = ${String(p)}: must satisfy 0 < p <= 1`);
  return p;
}

const result = (value: number): BoundResult => ({ value, probability: Math.min(1, value), vacuous: value >= 1 });

/** Average pooling: `2 exp(-2 HW gamma^2 / (b - a)^2)` (III.6). */
export function avgPoolingBound(input: BoundInput): BoundResult {
  const hw = checkSize(input.height, 'height') * checkSize(input.width, 'width');
  const range = checkRange(input.a, input.b);
  const gamma = checkPositive(input.gamma, 'gamma');
  return result(2 * Math.exp((-2 * hw * gamma * gamma) / (range * range)));
}

/** Max pooling: `(b - a) sqrt(log sqrt(2 HW)) / gamma` (III.7). */
export function maxPoolingBound(input: BoundInput): BoundResult {
  const hw = checkSize(input.height, 'height') * checkSize(input.width, 'width');
  const range = checkRange(input.a, input.b);
  const gamma = checkPositive(input.gamma, 'gamma');
  return result((range * Math.sqrt(Math.log(Math.sqrt(2 * hw)))) / gamma);
}

/** Inputs of the inverse forms for a given probability `p`. */
export interface GammaInput {
  /** Feature map height `H`, as in {@link BoundInput.height}. */
  height: number;
  /** Feature map width `W`, as in {@link BoundInput.width}. */
  width: number;
  /** Lower end of the disturbances, as in {@link BoundInput.a}. */
  a: number;
  /** Upper end of the disturbances, as in {@link BoundInput.b}. */
  b: number;
  /** The probability to guarantee (0 < p <= 1). */
  p: number;
}

/** Smallest gamma for which the average-pooling bound is <= p: `(b - a) sqrt(log(2 / p) / (2 HW))`. */
export function avgPoolingGamma(input: GammaInput): number {
  const hw = checkSize(input.height, 'height') * checkSize(input.width, 'width');
  const range = checkRange(input.a, input.b);
  const p = checkP(input.p);
  return range * Math.sqrt(Math.log(2 / p) / (2 * hw));
}

/** Smallest gamma for which the max-pooling bound is <= p: `(b - a) sqrt(log sqrt(2 HW)) / p`. */
export function maxPoolingGamma(input: GammaInput): number {
  const hw = checkSize(input.height, 'height') * checkSize(input.width, 'width');
  const range = checkRange(input.a, input.b);
  const p = checkP(input.p);
  return (range * Math.sqrt(Math.log(Math.sqrt(2 * hw)))) / p;
}

/** Inputs of the feature-size forms. */
export interface SizeInput {
  /** Lower end of the disturbances, as in {@link BoundInput.a}. */
  a: number;
  /** Upper end of the disturbances, as in {@link BoundInput.b}. */
  b: number;
  /** The disturbance level of the pooled output to stay below (> 0, in the units of the features). */
  gamma: number;
  /** The probability to guarantee (0 < p <= 1). */
  p: number;
}

/**
 * Average pooling: the smallest feature size `HW` whose bound is <= p for this gamma,
 * `(b - a)^2 log(2 / p) / (2 gamma^2)` (as a real number; a square map needs `ceil(sqrt(.))` per side).
 */
export function avgPoolingFeatureSize(input: SizeInput): number {
  const range = checkRange(input.a, input.b);
  const gamma = checkPositive(input.gamma, 'gamma');
  const p = checkP(input.p);
  return (range * range * Math.log(2 / p)) / (2 * gamma * gamma);
}

/**
 * Max pooling: the largest feature size `HW` whose bound is <= p for this gamma,
 * `exp(2 (gamma p / (b - a))^2) / 2` (below 1 when no map qualifies).
 */
export function maxPoolingFeatureSize(input: SizeInput): number {
  const range = checkRange(input.a, input.b);
  const gamma = checkPositive(input.gamma, 'gamma');
  const p = checkP(input.p);
  const t = (gamma * p) / range;
  return Math.exp(2 * t * t) / 2;
}
