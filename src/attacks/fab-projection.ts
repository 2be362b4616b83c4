/**
 * FAB's Linf projection: the smallest Linf step from a point onto a hyperplane, staying inside a box
 * (Croce & Hein, ICML 2020, "Minimally distorted adversarial examples with a fast adaptive boundary
 * attack", Section 3 and their `projection_linf`).
 */

/**
 * The minimal-Linf step `d` taking `point` onto the hyperplane `w . (point + d) = b` with
 * `lo <= point + d <= hi`, written into `out` (length of `point`).
 *
 * With `c = w . point - b`, moving coordinate `i` by `-sign(w_i) * sign(c) * lambda` changes `w . x` by
 * `-|w_i| lambda`, until the coordinate reaches the box (`room_i`, its distance to the bound in that
 * direction). The solution is the smallest `lambda` with `sum_i |w_i| min(lambda, room_i) = |c|`, found
 * exactly by sorting the rooms. When even the box corner (`lambda = infinity`) cannot reach the
 * hyperplane, `d` is that corner, the closest the box allows (as the reference does). Coordinates with
 * `w_i = 0` do not move. Returns `lambda` (the Linf norm of `d`, unless the corner was taken).
 */
export function projectLinfOntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  const n = point.length;
  let c = -b;
  for (let i = 0; i < n; i++) c += w[i]! * point[i]!;
  // Move so that w . x decreases by c (c > 0) or increases by -c (c < 0).
  const direction = c >= 0 ? -1 : 1;
  const target = Math.abs(c);
  const room = new Float64Array(n);
  const weight = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    if (wi === 0) continue;
    // Coordinate i moves along direction * sign(w_i).
    const up = direction * wi > 0;
    room[i] = up ? hi - point[i]! : point[i]! - lo;
    weight[i] = Math.abs(wi);
    total += weight[i]! * room[i]!;
  }
  const move = (i: number, lambda: number) => {
    const wi = w[i]!;
    if (wi === 0) return 0;
    const step = Math.min(lambda, room[i]!);
    return direction * wi > 0 ? step : -step;
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
  // g(lambda) = sum |w_i| min(lambda, room_i) is increasing, concave and piecewise linear with kinks at
  // the rooms: binary-search the sorted rooms for the first kink where g reaches the target, then
  // solve the linear piece before it. (A numeric typed-array sort; no comparator, no index shuffle.)
  const g = (lambda: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) if (weight[i]! > 0) sum += weight[i]! * Math.min(lambda, room[i]!);
    return sum;
  };
  const kinks = room.filter((_, i) => weight[i]! > 0).sort();
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
    if (room[i]! <= start) saturated += weight[i]! * room[i]!;
    else slope += weight[i]!;
  }
  const lambda = slope > 0 ? Math.min((target - saturated) / slope, kinks[low]!) : kinks[low]!;
  for (let i = 0; i < n; i++) out[i] = move(i, lambda);
  return lambda;
}
