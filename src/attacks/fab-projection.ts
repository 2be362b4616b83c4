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
  // g(lambda) = sum |w_i| min(lambda, room_i), increasing and piecewise linear; its kinks are the rooms.
  const order = Array.from({ length: n }, (_, i) => i).filter((i) => weight[i]! > 0);
  order.sort((p, q) => room[p]! - room[q]!);
  let reached = 0; // sum of |w_i| room_i over saturated coordinates
  let slope = 0;
  for (const i of order) slope += weight[i]!;
  let lambda = 0;
  let found = false;
  for (const i of order) {
    // On [previous room, room_i] g(lambda) = reached + slope * lambda.
    const atKink = reached + slope * room[i]!;
    if (atKink >= target) {
      lambda = (target - reached) / slope;
      found = true;
      break;
    }
    reached += weight[i]! * room[i]!;
    slope -= weight[i]!;
  }
  if (!found) lambda = order.length ? room[order[order.length - 1]!]! : 0;
  for (let i = 0; i < n; i++) out[i] = move(i, lambda);
  return lambda;
}
