/**
 * FAB's projections: the smallest Linf, L2 or L1 step from a point onto a hyperplane, staying inside a
 * box (Croce & Hein, ICML 2020, "Minimally distorted adversarial examples with a fast adaptive boundary
 * attack", Section 3 and their `projection_linf` / `projection_l2` / `projection_l1`).
 *
 * Each is found without sorting all coordinates: a quickselect-style bracketing (Kiwiel 2008; Condat
 * 2016, for the L1 ball) narrows down the breakpoint where the solution lies in expected linear time,
 * and the result is then computed with the same floating-point operations, in the same order, as a
 * full sort would (a sorted reference is the oracle of the tests): the same values, bit for bit.
 */

/** Weights this small in magnitude do not move their coordinate in L2 and L1 (the reference's `projection_l2`, `projection_l1`). */
const WEIGHT_FLOOR = 1e-8;

/**
 * Work arrays shared by the calls (grown on demand, never shrunk): the projections run synchronously
 * and do not call each other, so one set serves all of them and no call allocates.
 */
const work = {
  size: 0,
  /** Linf/L2, per moving coordinate in index order: the coordinate, its direction (+1 or -1), |w_i|, its room to the box, its kink `room / speed`. */
  coordinate: new Int32Array(0),
  sign: new Float64Array(0),
  weight: new Float64Array(0),
  room: new Float64Array(0),
  kink: new Float64Array(0),
  /** Linf/L2, the kinks in play, partitioned by the bracketing: the kinks, `|w| room`, `|w| speed`. */
  key: new Float64Array(0),
  full: new Float64Array(0),
  rate: new Float64Array(0),
  /** Linf/L2, the same for the kinks between the two split kinks. */
  keyBetween: new Float64Array(0),
  fullBetween: new Float64Array(0),
  rateBetween: new Float64Array(0),
  /** L1, partitioned by the bracketing: coordinate (|w_i| in `weight`, `|w_i| room_i` in `full`). */
  index: new Int32Array(0),
};

/** The work arrays of doubles. */
const FLOAT_WORK = ['sign', 'weight', 'room', 'kink', 'key', 'full', 'rate', 'keyBetween', 'fullBetween', 'rateBetween'] as const;

function reserve(n: number): void {
  if (n <= work.size) return;
  const size = Math.max(n, 2 * work.size);
  work.size = size;
  for (const name of FLOAT_WORK) work[name] = new Float64Array(size);
  work.coordinate = new Int32Array(size);
  work.index = new Int32Array(size);
}

/** A deterministic pseudo-random position in [l, h) for the pivots and samples (xorshift32; any choice gives the same result). */
let pivotState = 0x9e3779b9;
function randomPosition(l: number, h: number): number {
  pivotState ^= pivotState << 13;
  pivotState ^= pivotState >>> 17;
  pivotState ^= pivotState << 5;
  return l + ((pivotState >>> 0) % (h - l));
}

/**
 * The minimal-Linf step `d` taking `point` onto the hyperplane `w . (point + d) = b` with
 * `lo <= point + d <= hi`, written into `out` (length of `point`).
 *
 * With `c = w . point - b`, moving coordinate `i` by `-sign(w_i) * sign(c) * lambda` changes `w . x` by
 * `-|w_i| lambda`, until the coordinate reaches the box (`room_i`, its distance to the bound in that
 * direction). The solution is the smallest `lambda` with `sum_i |w_i| min(lambda, room_i) = |c|`, found
 * exactly by bracketing the rooms. When even the box corner (`lambda = infinity`) cannot reach the
 * hyperplane, `d` is that corner, the closest the box allows (as the reference does). Coordinates with
 * `w_i = 0` do not move. Returns `lambda` (the Linf norm of `d`, unless the corner was taken).
 */
export function projectLinfOntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  return projectOntoHyperplane(point, w, b, lo, hi, out, false);
}

/**
 * The minimal-L2 step `d` taking `point` onto the hyperplane `w . (point + d) = b` with
 * `lo <= point + d <= hi`, written into `out` (length of `point`), as the reference's `projection_l2`.
 *
 * With `c = w . point - b`, the solution is `d_i = clip(-sign(c) lambda w_i, lo - point_i, hi - point_i)`
 * for the smallest `lambda >= 0` with `sum_i w_i d_i = -c` (the KKT conditions of the box-constrained
 * least-norm problem): coordinate `i` moves linearly until it reaches the box at
 * `lambda_i = room_i / |w_i|`. Found exactly by bracketing the `lambda_i`. When even the box corner
 * cannot reach the hyperplane, `d` is that corner (as the reference). Coordinates with
 * `|w_i| < 1e-8` do not move (as the reference). Returns `lambda`.
 */
export function projectL2OntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  return projectOntoHyperplane(point, w, b, lo, hi, out, true);
}

/**
 * Both projections: coordinate `i` moves by `speed_i * lambda` (Linf: 1; L2: `|w_i|`) towards
 * decreasing `|w . x - b|` until it reaches the box (`room_i`, at the kink `lambda_i = room_i / speed_i`);
 * `g(lambda) = sum_i |w_i| min(speed_i lambda, room_i)` is increasing, concave and piecewise linear
 * with kinks at the `lambda_i`. With the kinks sorted, the solution lies on the linear piece ending at
 * the first kink `k` with `g(k) >= |c|` (the last kink if none before it is), and starting at the kink
 * before it (or 0).
 *
 * That kink and its predecessor are found without sorting: a quickselect over the kinks (whose first
 * two pivots, kinks of a small sample around the sample's estimate of the solution, split the kinks in
 * the pass that computes them), each pivot's `g` from the sums of the parts already set aside (Kiwiel
 * 2008), then confirmed with `g` summed over all coordinates in index order, as the sorted reference
 * sums it (rounded, that sum is still monotone in lambda: the confirmation is exact); should rounding
 * have misled the fast sums, the bracketing runs again with the confirmed `g` at every pivot. The
 * piece's solution is then computed over all coordinates in index order.
 */
function projectOntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array, l2: boolean): number {
  const n = point.length;
  let c = -b;
  for (let i = 0; i < n; i++) c += w[i]! * point[i]!;
  // Move so that w . x decreases by c (c > 0) or increases by -c (c < 0).
  const direction = c >= 0 ? -1 : 1;
  const target = Math.abs(c);
  if (target === 0) {
    out.fill(0, 0, n);
    return 0;
  }
  const floor = l2 ? WEIGHT_FLOOR : 0;
  reserve(n);
  const { coordinate, sign, weight, room, kink, key, full, rate, keyBetween, fullBetween, rateBetween } = work;
  chooseSplits(point, w, lo, hi, direction, floor, l2, target);
  const { low, high } = splits;
  // Per moving coordinate: its kink, and the kink sorted into below `low` (key[0, nBelow)), at `low`,
  // between (keyBetween[0, nBetween)), at `high` or above `high` (key[top, n)), with their sums.
  let m = 0;
  let total = 0;
  let nanWeight = false;
  let nBelow = 0;
  let nBetween = 0;
  let top = n;
  let fullBelowLow = 0;
  let fullAtLow = 0;
  let rateAtLow = 0;
  let fullInBetween = 0;
  let rateInBetween = 0;
  let fullAtHigh = 0;
  let rateAtHigh = 0;
  let rateAboveHigh = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    const wt = Math.abs(wi);
    if (!(wt > 0 && wt >= floor)) {
      // Does not move; but a NaN weight moves (by NaN) without a kink, as in the sorted reference.
      if (wt !== wt) nanWeight = true;
      continue;
    }
    // Coordinate i moves along direction * sign(w_i).
    const up = direction * wi > 0;
    const r = up ? hi - point[i]! : point[i]! - lo;
    const k = l2 ? r / wt : r; // room / speed
    const f = wt * r; // |w| room
    const v = l2 ? wt * wt : wt; // |w| speed
    total += f;
    coordinate[m] = i;
    sign[m] = up ? 1 : -1;
    weight[m] = wt;
    room[m] = r;
    kink[m] = k;
    m++;
    if (k < low) {
      key[nBelow] = k;
      full[nBelow] = f;
      rate[nBelow] = v;
      nBelow++;
      fullBelowLow += f;
    } else if (k === low) {
      fullAtLow += f;
      rateAtLow += v;
    } else if (k < high) {
      keyBetween[nBetween] = k;
      fullBetween[nBetween] = f;
      rateBetween[nBetween] = v;
      nBetween++;
      fullInBetween += f;
      rateInBetween += v;
    } else if (k === high) {
      fullAtHigh += f;
      rateAtHigh += v;
    } else {
      // Above high, or NaN, or everything above low when there is no high.
      top--;
      key[top] = k;
      full[top] = f;
      rate[top] = v;
      rateAboveHigh += v;
    }
  }
  if (nanWeight) total = NaN;
  if (total < target) {
    // Infeasible inside the box: go to the corner.
    writeSteps(point, w, lo, hi, out, direction, floor, l2, Infinity);
    return Infinity;
  }
  // The bracketing's first pivots, the split kinks, judged from the sums of that pass.
  const state = bracket;
  state.l = top;
  state.h = n;
  state.below = 0;
  state.above = 0;
  state.found = false;
  state.short = false;
  let settled = false;
  if (low === low) {
    if (fullBelowLow + fullAtLow + low * (rateInBetween + rateAtHigh + rateAboveHigh) >= target) {
      Object.assign(state, { l: 0, h: nBelow, above: rateAtLow + rateInBetween + rateAtHigh + rateAboveHigh, first: low, found: true });
      settled = true;
    } else Object.assign(state, { below: fullBelowLow + fullAtLow, before: low, short: true });
  }
  if (!settled && high === high) {
    if (state.below + fullInBetween + fullAtHigh + high * rateAboveHigh >= target) {
      key.set(keyBetween.subarray(0, nBetween));
      full.set(fullBetween.subarray(0, nBetween));
      rate.set(rateBetween.subarray(0, nBetween));
      Object.assign(state, { l: 0, h: nBetween, above: rateAtHigh + rateAboveHigh, first: high, found: true });
    } else Object.assign(state, { below: state.below + fullInBetween + fullAtHigh, before: high, short: true });
  }
  let piece = bracketKink(m, target, undefined);
  // In one pass over the kinks in index order: g at both ends of the piece (to confirm it) and the
  // saturated sum and the slope of g on it.
  let atStart = 0;
  let atEnd = 0;
  let saturated = 0;
  let slope = 0;
  const { start, end: stop } = piece;
  if (l2) {
    for (let j = 0; j < m; j++) {
      const wt = weight[j]!;
      const r = room[j]!;
      atStart += wt * Math.min(start * wt, r);
      atEnd += wt * Math.min(stop * wt, r);
      if (kink[j]! <= start) saturated += wt * r;
      else slope += wt * wt;
    }
  } else {
    for (let j = 0; j < m; j++) {
      const wt = weight[j]!;
      const r = room[j]!;
      atStart += wt * Math.min(start, r);
      atEnd += wt * Math.min(stop, r);
      if (kink[j]! <= start) saturated += wt * r;
      else slope += wt;
    }
  }
  // Confirmed when g reaches the target at the end (unless the end is the largest kink, which the binary
  // search never evaluates) and not at the start (0 when no kink is below: g(0) <= 0 < target).
  if ((piece.reaches && atEnd < target) || atStart >= target) {
    // Rounding misled the fast sums: bracket all the kinks again with g summed in index order at every pivot.
    const reaches = (lambda: number) => {
      let sum = 0;
      if (l2) for (let j = 0; j < m; j++) sum += weight[j]! * Math.min(lambda * weight[j]!, room[j]!);
      else for (let j = 0; j < m; j++) sum += weight[j]! * Math.min(lambda, room[j]!);
      return sum >= target;
    };
    key.set(kink.subarray(0, m));
    Object.assign(state, { l: 0, h: m, below: 0, above: 0, found: false, short: false });
    piece = bracketKink(m, target, reaches);
    saturated = 0;
    slope = 0;
    for (let j = 0; j < m; j++) {
      if (kink[j]! <= piece.start) saturated += weight[j]! * room[j]!;
      else slope += weight[j]! * (l2 ? weight[j]! : 1);
    }
  }
  if (nanWeight) slope = NaN;
  const lambda = slope > 0 ? Math.min((target - saturated) / slope, piece.end) : piece.end;
  if (nanWeight) {
    writeSteps(point, w, lo, hi, out, direction, floor, l2, lambda);
    return lambda;
  }
  // Each moving coordinate by min(speed lambda, room), in its direction (sign * step is -step or step, exactly).
  out.fill(0, 0, n);
  if (l2) for (let j = 0; j < m; j++) out[coordinate[j]!] = sign[j]! * Math.min(lambda * weight[j]!, room[j]!);
  else for (let j = 0; j < m; j++) out[coordinate[j]!] = sign[j]! * Math.min(lambda, room[j]!);
  return lambda;
}

/** How many coordinates {@link chooseSplits} and {@link weightThreshold} sample, and how many sampled kinks (weights) lie between a split kink (the threshold) and the estimate. */
const SAMPLE = 32;
const SPREAD = 3;
const sampleKey = new Float64Array(SAMPLE);
const sampleFull = new Float64Array(SAMPLE);
const sampleRate = new Float64Array(SAMPLE);
/** The split kinks {@link chooseSplits} chose (NaN: none). */
const splits = { low: NaN, high: NaN };

/**
 * Two kinks of `SAMPLE` pseudo-random coordinates, `SPREAD` sampled kinks below and above the first one
 * where the sample's estimate of `g` (scaled to all coordinates) reaches the target, into `splits`:
 * `low < high`, or NaN where the sample has none. Only the work of the bracketing depends on them.
 */
function chooseSplits(point: ArrayLike<number>, w: ArrayLike<number>, lo: number, hi: number, direction: number, floor: number, l2: boolean, target: number): void {
  const n = point.length;
  let count = 0;
  for (let s = 0; s < SAMPLE; s++) {
    const i = randomPosition(0, n);
    const wi = w[i]!;
    const wt = Math.abs(wi);
    if (!(wt > 0 && wt >= floor)) continue;
    // The kink as the pass over all coordinates computes it (so that a split kink is one of them).
    const r = direction * wi > 0 ? hi - point[i]! : point[i]! - lo;
    const k = l2 ? r / wt : r;
    if (k !== k) continue;
    // Insertion sort by kink.
    let j = count++;
    for (; j > 0 && sampleKey[j - 1]! > k; j--) {
      sampleKey[j] = sampleKey[j - 1]!;
      sampleFull[j] = sampleFull[j - 1]!;
      sampleRate[j] = sampleRate[j - 1]!;
    }
    sampleKey[j] = k;
    sampleFull[j] = wt * r;
    sampleRate[j] = l2 ? wt * wt : wt;
  }
  let rateAbove = 0;
  for (let j = 0; j < count; j++) rateAbove += sampleRate[j]!;
  let fullBelow = 0;
  let at = count;
  const scaled = (target * SAMPLE) / n;
  for (let j = 0; j < count; j++) {
    fullBelow += sampleFull[j]!;
    rateAbove -= sampleRate[j]!;
    if (fullBelow + sampleKey[j]! * rateAbove >= scaled) {
      at = j;
      break;
    }
  }
  splits.low = at - SPREAD >= 0 ? sampleKey[at - SPREAD]! : NaN;
  splits.high = at + SPREAD < count ? sampleKey[at + SPREAD]! : NaN;
  if (!(splits.low < splits.high)) splits.low = NaN;
}

/**
 * The bracketing in progress: the kinks in play at `work.key[l, h)` (with `work.full`, `work.rate`); the
 * sums of `|w| room` of the kinks set aside below them and of `|w| speed` of those set aside above; the
 * smallest pivot reaching the target (`first`, when `found`) and the largest short of it (`before`,
 * when `short`). Each pivot is one of the kinks, and after it is judged, no kink equal to it stays in play.
 */
const bracket = { l: 0, h: 0, below: 0, above: 0, first: NaN, before: NaN, found: false, short: false };

/**
 * The linear piece of `g` holding the solution, from `start` (a kink, or 0 when no kink is below `end`)
 * to the kink `end`; `reaches`: whether `g(end) >= target` (else `end` is the largest kink).
 */
interface Piece {
  start: number;
  end: number;
  reaches: boolean;
}

/**
 * The piece a binary search over the `m` sorted kinks would find: the first kink `k` with
 * `g(k) >= target` among all but the last, else the last; by continuing the bracketing in `bracket`.
 * Quickselect: each pivot `p` (the median of three kinks in play) splits the kinks in play into `< p`,
 * `= p` and `> p`; `g(p)` is `reaches(p)` when given, else the sum of the saturated terms below `p` and
 * `p` times the slope above `p`, each part summed once as it is set aside (fast, but rounded otherwise
 * than the binary search's: the caller confirms the piece). All kinks below the smallest pivot reaching
 * the target were set aside by pivots short of it: the largest of those is the kink sorted just before.
 */
function bracketKink(m: number, target: number, reaches: ((lambda: number) => boolean) | undefined): Piece {
  const { key, full, rate, kink } = work;
  let { l, h, below, above, first, before, found, short } = bracket;
  while (l < h) {
    const a = key[randomPosition(l, h)]!;
    const b = key[randomPosition(l, h)]!;
    const c = key[randomPosition(l, h)]!;
    const p = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // Three-way partition of [l, h): [l, lt) < p, [lt, i) = p (or NaN), [gt, h) > p.
    let lt = l;
    let i = l;
    let gt = h;
    let fullLess = 0;
    let fullEqual = 0;
    let rateEqual = 0;
    let rateGreater = 0;
    while (i < gt) {
      const k = key[i]!;
      if (k < p) {
        swap(i, lt);
        fullLess += full[lt]!;
        lt++;
        i++;
      } else if (k > p) {
        gt--;
        swap(i, gt);
        rateGreater += rate[gt]!;
      } else {
        fullEqual += full[i]!;
        rateEqual += rate[i]!;
        i++;
      }
    }
    const reached = reaches ? reaches(p) : below + fullLess + fullEqual + p * (above + rateGreater) >= target;
    if (reached) {
      first = p;
      found = true;
      above += rateEqual + rateGreater;
      h = lt;
    } else {
      before = p;
      short = true;
      below += fullLess + fullEqual;
      l = gt;
    }
  }
  if (found) return { start: short ? before : 0, end: first, reaches: true };
  // No kink reaches the target (short of rounding): the binary search, which never evaluates the last
  // kink, ends at the largest, on the piece from the kink sorted just before it (itself when repeated).
  let largest = -Infinity;
  let secondLargest = -Infinity;
  for (let j = 0; j < m; j++) {
    const k = kink[j]!;
    if (k > largest) {
      secondLargest = largest;
      largest = k;
    } else if (k > secondLargest) secondLargest = k;
  }
  return m >= 2 ? { start: secondLargest, end: largest, reaches: false } : { start: 0, end: largest, reaches: false };
}

/** Swaps kinks `i` and `j` in play (with their sums' terms). */
function swap(i: number, j: number): void {
  swapAt(work.key, i, j);
  swapAt(work.full, i, j);
  swapAt(work.rate, i, j);
}

/** Swaps entries `i` and `j` of `a`. */
function swapAt(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/** `out_i`: coordinate `i` moved by `min(speed_i lambda, room_i)` along `direction * sign(w_i)` (0 when it does not move), for every coordinate (NaN weights included). */
function writeSteps(point: ArrayLike<number>, w: ArrayLike<number>, lo: number, hi: number, out: Float32Array | Float64Array, direction: number, floor: number, l2: boolean, lambda: number): void {
  for (let i = 0, n = point.length; i < n; i++) {
    const wi = w[i]!;
    if (wi === 0 || Math.abs(wi) < floor) {
      out[i] = 0;
      continue;
    }
    const up = direction * wi > 0;
    const r = up ? hi - point[i]! : point[i]! - lo;
    const step = Math.min(l2 ? lambda * Math.abs(wi) : lambda, r);
    out[i] = up ? step : -step;
  }
}

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
 *
 * Only the coordinates up to the one reaching the plane are sorted: a quickselect by decreasing `|w_i|`
 * finds the fewest largest weights whose rooms reach it, those are walked in order, and the rest only
 * when rounding makes the walk fall short.
 */
export function projectL1OntoHyperplane(point: ArrayLike<number>, w: ArrayLike<number>, b: number, lo: number, hi: number, out: Float32Array | Float64Array): number {
  const n = point.length;
  let c = -b;
  for (let i = 0; i < n; i++) c += w[i]! * point[i]!;
  const direction = c >= 0 ? -1 : 1;
  out.fill(0, 0, n);
  const target = Math.abs(c);
  if (target === 0) return 0;
  reserve(n);
  const { index, weight, full } = work;
  // The coordinates with |w_i| >= a threshold from a sample (a first part of the walk's order that
  // likely reaches the plane) at index[0, front), the others at index[top, n).
  const threshold = weightThreshold(point, w, lo, hi, direction, target);
  let front = 0;
  let top = n;
  let frontCapacity = 0;
  for (let i = 0; i < n; i++) {
    const wt = Math.abs(w[i]!);
    if (!(wt > WEIGHT_FLOOR)) continue;
    const up = direction * w[i]! > 0;
    const capacity = wt * Math.max(up ? hi - point[i]! : point[i]! - lo, 0); // |w_i| room_i
    const at = wt >= threshold ? front++ : --top;
    index[at] = i;
    weight[at] = wt;
    full[at] = capacity;
    if (wt >= threshold) frontCapacity += capacity;
  }
  // Rounding aside, the walk reaches the plane once the moved coordinates' |w_i| room_i add up to |c|:
  // select the fewest coordinates first in order that do (all of them when none do).
  let count = front;
  if (frontCapacity >= target) count = firstReaching(front, target);
  const m = front + n - top;
  index.copyWithin(front, top, n);
  if (frontCapacity < target && m > front) {
    weight.copyWithin(front, top, n);
    full.copyWithin(front, top, n);
    count = firstReaching(m, target);
  }
  const walk = { remaining: target, length: 0 };
  if (walkInOrder(point, w, lo, hi, out, direction, 0, count, walk)) return walk.length;
  if (walkInOrder(point, w, lo, hi, out, direction, count, m, walk)) return walk.length;
  return Infinity;
}

/**
 * A weight from `SAMPLE` pseudo-random coordinates: `SPREAD` sampled weights below the largest one at which
 * the sample's estimate of the coordinates' `|w| room` (scaled to all coordinates), taken in order of
 * decreasing |w|, reaches `target`; 0 (every coordinate) when the sample does not get there. Only the
 * work of the selection depends on it.
 */
function weightThreshold(point: ArrayLike<number>, w: ArrayLike<number>, lo: number, hi: number, direction: number, target: number): number {
  const n = point.length;
  let count = 0;
  for (let s = 0; s < SAMPLE; s++) {
    const i = randomPosition(0, n);
    const wt = Math.abs(w[i]!);
    if (!(wt > WEIGHT_FLOOR)) continue;
    const up = direction * w[i]! > 0;
    const capacity = wt * Math.max(up ? hi - point[i]! : point[i]! - lo, 0);
    // Insertion sort by decreasing weight.
    let j = count++;
    for (; j > 0 && sampleKey[j - 1]! < wt; j--) {
      sampleKey[j] = sampleKey[j - 1]!;
      sampleFull[j] = sampleFull[j - 1]!;
    }
    sampleKey[j] = wt;
    sampleFull[j] = capacity;
  }
  const scaled = (target * SAMPLE) / n;
  let sum = 0;
  for (let j = 0; j < count; j++) {
    sum += sampleFull[j]!;
    if (sum >= scaled) return j + SPREAD < count ? sampleKey[j + SPREAD]! : 0;
  }
  return 0;
}

/**
 * The number of coordinates, first in order (decreasing |w|, then increasing index), whose `|w| room`
 * (`work.full`) first add up to at least `target`, with those coordinates moved to the front of
 * `work.index` (unordered), by quickselect.
 */
function firstReaching(m: number, target: number): number {
  if (m === 0) return 0;
  const { index, weight, full } = work;
  /** Whether position `a` comes before position `b` in the walk's order. */
  const precedes = (a: number, b: number) => weight[a]! > weight[b]! || (weight[a] === weight[b] && index[a]! < index[b]!);
  let l = 0;
  let h = m;
  let taken = 0; // sum of |w| room over [0, l), all ahead of [l, h)
  let count = m;
  while (l < h) {
    // The median of three pseudo-random positions, moved to h - 1.
    const a = randomPosition(l, h);
    const b = randomPosition(l, h);
    const c = randomPosition(l, h);
    const median = precedes(a, b) ? (precedes(b, c) ? b : precedes(a, c) ? c : a) : precedes(a, c) ? a : precedes(b, c) ? c : b;
    swapL1(median, h - 1);
    let s = l;
    let ahead = 0;
    for (let j = l; j < h - 1; j++) {
      if (precedes(j, h - 1)) {
        swapL1(j, s);
        ahead += full[s]!;
        s++;
      }
    }
    swapL1(s, h - 1);
    // The pivot is at s; [l, s) precede it.
    if (taken + ahead + full[s]! >= target) {
      count = s + 1;
      h = s;
    } else {
      taken += ahead + full[s]!;
      l = s + 1;
    }
  }
  return count;
}

/** Swaps coordinates `i` and `j` of the L1 selection (with their weights and `|w| room`). */
function swapL1(i: number, j: number): void {
  const { index } = work;
  const t = index[i]!;
  index[i] = index[j]!;
  index[j] = t;
  swapAt(work.weight, i, j);
  swapAt(work.full, i, j);
}

/**
 * Sorts `work.index[from, to)` into the walk's order and moves those coordinates fully to the box until
 * one reaches the plane (moved only that far): true when one did.
 */
function walkInOrder(point: ArrayLike<number>, w: ArrayLike<number>, lo: number, hi: number, out: Float32Array | Float64Array, direction: number, from: number, to: number, walk: { remaining: number; length: number }): boolean {
  const order = work.index.subarray(from, to).sort((i, j) => Math.abs(w[j]!) - Math.abs(w[i]!) || i - j);
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    // Coordinate i moves along direction * sign(w_i) (so that w . x moves towards b).
    const up = direction * w[i]! > 0;
    const room = Math.max(up ? hi - point[i]! : point[i]! - lo, 0);
    const weight = Math.abs(w[i]!);
    const reaches = weight * room >= walk.remaining;
    const step = reaches ? walk.remaining / weight : room;
    out[i] = up ? step : -step;
    walk.length += step;
    if (reaches) return true;
    walk.remaining -= weight * step;
  }
  return false;
}
