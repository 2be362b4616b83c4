/**
 * The sorting implementation of FAB's hyperplane projections that src/attacks/fab-projection.ts had
 * before its projections found the breakpoint by selection (kept verbatim as the tests' oracle: the
 * fast projections must return the same values, bit for bit): the Linf and L2 projections sort all
 * kinks and binary-search them; the L1 projection sorts all coordinates by decreasing |w|.
 */
/** The minimal-Linf step onto the hyperplane inside the box, by sorting (see projectLinfOntoHyperplane). */
export function sortedProjectLinfOntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  return sortedProjectOntoHyperplane(point, w, b, lo, hi, out, 'linf');
}

/**
 * The minimal-L2 step `d` taking `point` onto the hyperplane `w . (point + d) = b` with
 * `lo <= point + d <= hi`, written into `out` (length of `point`), as the reference's `projection_l2`.
 *
 * With `c = w . point - b`, the solution is `d_i = clip(-sign(c) lambda w_i, lo - point_i, hi - point_i)`
 * for the smallest `lambda >= 0` with `sum_i w_i d_i = -c` (the KKT conditions of the box-constrained
 * least-norm problem): coordinate `i` moves linearly until it reaches the box at
 * `lambda_i = room_i / |w_i|`. Found exactly by sorting the `lambda_i`. When even the box corner
 * cannot reach the hyperplane, `d` is that corner (as the reference). Coordinates with
 * `|w_i| < 1e-8` do not move (as the reference). Returns `lambda`.
 */
export function sortedProjectL2OntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  return sortedProjectOntoHyperplane(point, w, b, lo, hi, out, 'l2');
}

/** Weights this small in magnitude do not move their coordinate in L2 and L1 (the reference's `projection_l2`, `projection_l1`). */
const WEIGHT_FLOOR = 1e-8;

/**
 * The minimal-L1 step `d` taking `point` onto the hyperplane `w . (point + d) = b` with
 * `lo <= point + d <= hi`, written into `out` (length of `point`), as the reference's `projection_l1`.
 *
 * With `c = w . point - b`, a unit of L1 spent on coordinate `i` changes `w . x` by `|w_i|`, until the
 * coordinate reaches the box (`room_i`, its distance to the bound in the direction that decreases
 * `|w . x - b|`): the cheapest step (a fractional knapsack) moves the coordinates in order of
 * decreasing `|w_i|` fully to the box, and the last one needed only as far as the plane. Ties go to the
 * lower index. When even the box corner cannot reach the hyperplane, `d` is that corner (as the
 * reference). Coordinates with `|w_i| <= 1e-8` do not move (the reference's mask). Returns the L1 norm
 * of `d` (Infinity when the corner was taken).
 */
export function sortedProjectL1OntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  const n = point.length;
  let c = -b;
  for (let i = 0; i < n; i++) c += w[i]! * point[i]!;
  const direction = c >= 0 ? -1 : 1;
  out.fill(0, 0, n);
  let remaining = Math.abs(c);
  if (remaining === 0) return 0;
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (Math.abs(w[i]!) > WEIGHT_FLOOR) order.push(i);
  order.sort((i, j) => Math.abs(w[j]!) - Math.abs(w[i]!) || i - j);
  let length = 0;
  for (const i of order) {
    // Coordinate i moves along direction * sign(w_i) (so that w . x moves towards b).
    const up = direction * w[i]! > 0;
    const room = Math.max(up ? hi - point[i]! : point[i]! - lo, 0);
    const weight = Math.abs(w[i]!);
    const reaches = weight * room >= remaining;
    const step = reaches ? remaining / weight : room;
    out[i] = up ? step : -step;
    length += step;
    if (reaches) return length;
    remaining -= weight * step;
  }
  return Infinity;
}

/**
 * Both projections: coordinate `i` moves by `speed_i * lambda` (Linf: 1; L2: `|w_i|`) towards
 * decreasing `|w . x - b|` until it reaches the box (`room_i`, at `lambda_i = room_i / speed_i`);
 * `g(lambda) = sum_i |w_i| min(speed_i lambda, room_i)` is increasing, concave and piecewise linear
 * with kinks at the `lambda_i`: the smallest `lambda` with `g(lambda) = |c|` is found exactly by a
 * binary search of the sorted kinks and the linear piece before the one reached.
 */
function sortedProjectOntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array, norm: 'linf' | 'l2'): number {
  const n = point.length;
  let c = -b;
  for (let i = 0; i < n; i++) c += w[i]! * point[i]!;
  // Move so that w . x decreases by c (c > 0) or increases by -c (c < 0).
  const direction = c >= 0 ? -1 : 1;
  const target = Math.abs(c);
  const floor = norm === 'l2' ? WEIGHT_FLOOR : 0;
  const room = new Float64Array(n);
  const weight = new Float64Array(n); // |w_i|, 0 for coordinates that do not move
  const speed = new Float64Array(n);
  const kink = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    if (wi === 0 || Math.abs(wi) < floor) continue;
    // Coordinate i moves along direction * sign(w_i).
    room[i] = direction * wi > 0 ? hi - point[i]! : point[i]! - lo;
    weight[i] = Math.abs(wi);
    speed[i] = norm === 'l2' ? weight[i]! : 1;
    kink[i] = room[i]! / speed[i]!;
    total += weight[i]! * room[i]!;
  }
  const move = (i: number, lambda: number) => {
    if (weight[i] === 0) return 0;
    const step = Math.min(lambda * speed[i]!, room[i]!);
    return direction * w[i]! > 0 ? step : -step;
  };
  if (target === 0) {
    out.fill(0, 0, n);
    return 0;
  }
  if (total < target) {
    // Infeasible inside the box: go to the corner.
    for (let i = 0; i < n; i++) out[i] = move(i, Infinity);
    return Infinity;
  }
  const g = (lambda: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) if (weight[i]! > 0) sum += weight[i]! * Math.min(lambda * speed[i]!, room[i]!);
    return sum;
  };
  // A numeric typed-array sort; no comparator, no index shuffle.
  const kinks = kink.filter((_, i) => weight[i]! > 0).sort();
  let low = 0;
  let high = kinks.length - 1; // g(kinks[last]) = total >= target
  while (low < high) {
    const mid = (low + high) >> 1;
    if (g(kinks[mid]!) >= target) high = mid;
    else low = mid + 1;
  }
  const start = low > 0 ? kinks[low - 1]! : 0;
  let saturated = 0;
  let slope = 0;
  for (let i = 0; i < n; i++) {
    if (weight[i]! === 0) continue;
    if (kink[i]! <= start) saturated += weight[i]! * room[i]!;
    else slope += weight[i]! * speed[i]!;
  }
  const lambda = slope > 0 ? Math.min((target - saturated) / slope, kinks[low]!) : kinks[low]!;
  for (let i = 0; i < n; i++) out[i] = move(i, lambda);
  return lambda;
}
