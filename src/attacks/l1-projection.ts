/**
 * The L1 threat model of APGD (Croce & Hein, ICML 2021, "Mind the box: l1-APGD for sparse adversarial
 * attacks on image classifiers"): the Euclidean projection onto the L1 ball intersected with the pixel
 * box, and APGD-L1's sparse step, as the reference code (github fra31/auto-attack, `L1_projection` and
 * the L1 branch of `APGDAttack.attack_single_run`) computes them.
 */

/**
 * The Euclidean projection of a perturbation `delta` onto `{d : ||d||_1 <= eps, lo <= origin + d <= hi}`
 * (the L1 ball around `origin` intersected with the box; `origin` inside the box), written into `out`
 * (the length of `delta`). Returns the soft threshold `lambda` (0 when the box alone keeps `d` in the ball).
 *
 * Coordinate `i` keeps its sign and has magnitude `clip(|delta_i| - lambda, 0, m_i)`, where
 * `m_i = min(|delta_i|, room_i)` and `room_i` is the distance from `origin_i` to the bound in the
 * direction of `delta_i`: the box clips first, then every coordinate shrinks by the same `lambda >= 0`,
 * the smallest that brings the L1 norm down to `eps` (the KKT conditions of the problem; the reference's
 * `L1_projection` solves the same by sorting). `lambda` is found exactly by sweeping the sorted points
 * where a coordinate starts to shrink (`|delta_i| - m_i`) and where it reaches 0 (`|delta_i|`), between
 * which the L1 norm falls linearly. Computed in float64.
 */
export function projectOntoL1BallInBox(delta: ArrayLike<number>, origin: ArrayLike<number>, eps: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  const n = delta.length;
  const magnitude = new Float64Array(n);
  const limit = new Float64Array(n);
  let total = 0;
  let moving = 0;
  for (let i = 0; i < n; i++) {
    const v = delta[i]!;
    const room = v > 0 ? hi - origin[i]! : v < 0 ? origin[i]! - lo : 0;
    magnitude[i] = Math.abs(v);
    limit[i] = Math.max(Math.min(magnitude[i]!, room), 0);
    total += limit[i]!;
    if (limit[i]! > 0) moving++;
  }
  let lambda = 0;
  if (total > eps) {
    // Breakpoints of h(lambda) = sum_i clip(|delta_i| - lambda, 0, m_i): coordinate i shrinks on
    // [|delta_i| - m_i, |delta_i|]; h is total at 0, 0 beyond the last end, linear in between.
    const starts = new Float64Array(moving);
    const ends = new Float64Array(moving);
    for (let i = 0, k = 0; i < n; i++) {
      if (limit[i]! <= 0) continue;
      starts[k] = magnitude[i]! - limit[i]!;
      ends[k++] = magnitude[i]!;
    }
    starts.sort();
    ends.sort();
    let value = total;
    let slope = 0;
    let s = 0;
    let e = 0;
    for (;;) {
      const next = Math.min(s < moving ? starts[s]! : Infinity, e < moving ? ends[e]! : Infinity);
      if (next === Infinity || value - slope * (next - lambda) <= eps) {
        if (slope > 0) lambda += (value - eps) / slope;
        break;
      }
      value -= slope * (next - lambda);
      lambda = next;
      while (s < moving && starts[s] === next) {
        slope++;
        s++;
      }
      while (e < moving && ends[e] === next) {
        slope--;
        e++;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const size = Math.min(Math.max(magnitude[i]! - lambda, 0), limit[i]!);
    out[i] = delta[i]! > 0 ? size : delta[i]! < 0 ? -size : 0;
  }
  return lambda;
}

/**
 * Per row of the flattened `[rows, size]` arrays: the correction `c` with `delta + c` the projection
 * ({@link projectOntoL1BallInBox}) of `delta` around `origin`, in float32. Callers add it as the
 * reference does (`x + delta + c`, or `x_init + c`), so that coordinates the projection zeroes come back
 * to the same float32 values as the reference's (whether they equal `origin` exactly decides APGD-L1's
 * sparsity counts).
 */
export function l1ProjectionCorrection(delta: Float32Array, origin: Float32Array, rows: number, eps: number, lo: number, hi: number): Float32Array {
  const size = delta.length / rows;
  const out = new Float32Array(delta.length);
  const projected = new Float64Array(size);
  for (let r = 0; r < rows; r++) {
    const d = delta.subarray(r * size, (r + 1) * size);
    projectOntoL1BallInBox(d, origin.subarray(r * size, (r + 1) * size), eps, lo, hi, projected);
    for (let j = 0; j < size; j++) out[r * size + j] = projected[j]! - d[j]!;
  }
  return out;
}

/** What {@link sparseL1Step} reads: flattened `[rows, size]` float32 arrays and per-row values. */
export interface SparseL1StepInput {
  /** The current iterate. */
  x: Float32Array;
  /** The clean images (the centre of the ball), inside the bounds. */
  origin: Float32Array;
  /** The gradient of the loss at `x`. */
  grad: Float32Array;
  /** Per row, the step size (the L1 length of the step before projection). */
  stepSize: ArrayLike<number>;
  /** Per row, the fraction of coordinates the step moves (the reference's `topk`). */
  sparsity: ArrayLike<number>;
  rows: number;
  eps: number;
  bounds: [number, number];
}

/**
 * APGD-L1's step from `x`, as the reference: per row, the coordinates whose `|grad|` is at least the
 * value ranked `floor((1 - sparsity) size)` in ascending order (clamped to `[0, size - 1]`) move by
 * `stepSize sign(grad) / count` (`count` of them, with a nonzero gradient), and the result is projected
 * onto the L1 ball intersected with the box ({@link l1ProjectionCorrection}), then clipped to the bounds
 * (which only rounding can leave). Every operation rounds to float32 in the reference's order, so the
 * thresholds and the counts of moved coordinates are the reference's. Returns the new iterate.
 */
export function sparseL1Step(input: SparseL1StepInput): Float32Array {
  const { x, origin, grad, rows, eps } = input;
  const [lo, hi] = input.bounds;
  const size = x.length / rows;
  const delta = new Float32Array(x.length);
  const magnitudes = new Float32Array(size);
  for (let r = 0; r < rows; r++) {
    const offset = r * size;
    for (let j = 0; j < size; j++) magnitudes[j] = Math.abs(grad[offset + j]!);
    magnitudes.sort();
    const rank = Math.min(Math.max(Math.trunc(Math.fround(Math.fround(1 - Math.fround(input.sparsity[r]!)) * size)), 0), size - 1);
    const threshold = magnitudes[rank]!;
    let count = 0;
    for (let j = 0; j < size; j++) if (grad[offset + j] !== 0 && Math.abs(grad[offset + j]!) >= threshold) count++;
    const increment = Math.fround(Math.fround(input.stepSize[r]!) / Math.fround(count + 1e-10));
    for (let j = 0; j < size; j++) {
      const g = grad[offset + j]!;
      const moved = g !== 0 && Math.abs(g) >= threshold ? Math.fround(x[offset + j]! + (g > 0 ? increment : -increment)) : x[offset + j]!;
      delta[offset + j] = moved - origin[offset + j]!;
    }
  }
  const correction = l1ProjectionCorrection(delta, origin, rows, eps, lo, hi);
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(Math.fround(Math.fround(origin[i]! + delta[i]!) + correction[i]!), lo), hi);
  return out;
}
