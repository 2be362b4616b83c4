/**
 * APGD's L2 iterate on typed arrays, one pass per row and stage instead of about twenty tfjs ops over
 * the whole batch (which, at 200 CIFAR-10 images on a width-1/8 ResNet18, cost a quarter of an
 * iteration). Every operation is rounded to float32 as the tfjs ops round it, so the result is the
 * composite ops' bit for bit (test/apgd-l2-step.test.ts).
 */

const f32 = Math.fround;
/** The `1e-12` the norms are padded with, as the float32 scalar tfjs makes of it. */
const TINY = f32(1e-12);

/** `sqrt(sum(square(v)))` over `v[start, start + size)` as `l2Norms` computes it (float32 squares, float64 sum, float32 result). */
function rowNorm(v: Float32Array, start: number, size: number): number {
  let sum = 0;
  for (let q = start; q < start + size; q++) sum += f32(v[q]! * v[q]!);
  return f32(Math.sqrt(f32(sum)));
}

/** tfjs's `clipByValue` on one value (NaN stays NaN). */
function clip(v: number, lo: number, hi: number): number {
  return v > hi ? hi : v < lo ? lo : v;
}

/** The tensors' values APGD's L2 iterate reads, NHWC flattened, and the per-row step sizes. */
export interface ApgdL2State {
  x: Float32Array;
  xPrev: Float32Array;
  grad: Float32Array;
  origin: Float32Array;
  step: Float32Array;
}

/**
 * APGD's L2 iterate (Croce & Hein 2020, Algorithm 1): `z = P(x + step g / (||g|| + 1e-12))`, then
 * `P(x + momentum (z - x) + (1 - momentum) (x - xPrev))`, where `P(v) = clip(origin + d / (||d|| + 1e-12)
 * min(||d||, eps))`, `d = v - origin`, projects onto the L2 ball of radius `eps` around `origin` and the
 * bounds; per row in four passes (each projection's difference and its norm are formed in the pass
 * before it), with float32 rounding after every operation as the tfjs ops round.
 */
export function apgdL2Iterate(state: ApgdL2State, rows: number, eps: number, momentum: number, bounds: readonly [number, number]): Float32Array {
  const { x, xPrev, grad, origin, step } = state;
  const size = x.length / rows;
  const [lo, hi] = bounds;
  const radius = f32(eps);
  const [keep, carry] = [f32(momentum), f32(1 - momentum)];
  const out = new Float32Array(x.length);
  // The difference to the origin of the point being projected.
  const delta = new Float32Array(size);
  for (let r = 0, start = 0; r < rows; r++, start += size) {
    const gradDenominator = f32(rowNorm(grad, start, size) + TINY);
    const stepSize = step[r]!;
    // The gradient step and the difference to project.
    let sum = 0;
    for (let q = 0; q < size; q++) {
      const moved = f32(x[start + q]! + f32(stepSize * f32(grad[start + q]! / gradDenominator)));
      const d = f32(moved - origin[start + q]!);
      delta[q] = d;
      sum += f32(d * d);
    }
    let length = f32(Math.sqrt(f32(sum)));
    let denominator = f32(length + TINY);
    let scale = Math.min(length, radius);
    // z = P(step), then the momentum combination and its difference to project.
    sum = 0;
    for (let q = 0; q < size; q++) {
      const o = origin[start + q]!;
      const xq = x[start + q]!;
      const z = f32(clip(f32(o + f32(f32(delta[q]! / denominator) * scale)), lo, hi));
      const moved = f32(xq + f32(f32(f32(z - xq) * keep) + f32(f32(xq - xPrev[start + q]!) * carry)));
      const d = f32(moved - o);
      delta[q] = d;
      sum += f32(d * d);
    }
    length = f32(Math.sqrt(f32(sum)));
    denominator = f32(length + TINY);
    scale = Math.min(length, radius);
    for (let q = 0; q < size; q++) out[start + q] = clip(f32(origin[start + q]! + f32(f32(delta[q]! / denominator) * scale)), lo, hi);
  }
  return out;
}
