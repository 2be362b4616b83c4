import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from './layer-args.js';

/** Interpolation of {@link Upsample}, with PyTorch's `F.interpolate` semantics. */
export type UpsampleMode = 'nearest' | 'bilinear';

/** Input upsampling: output size `floor(size * scale)` per spatial axis. */
export interface UpsampleOptions {
  /** Scale factor > 0 (the paper uses 2, 3, 4). */
  scale: number;
  /** `'nearest'` (default) or `'bilinear'` (`align_corners=False`). */
  mode?: UpsampleMode;
}

/** Constructor arguments of {@link Upsample}. */
export interface UpsampleArgs extends UpsampleOptions, LayerArgs {}

/**
 * Spatial upsampling of NHWC images exactly as PyTorch's `F.interpolate(x, scale_factor=scale, mode)`
 * (the reference code's input upsampling): output size `floor(H * scale)`, source coordinates computed
 * with the ratio `1 / scale`, `'nearest'` taking `floor(dst / scale)` and `'bilinear'` using
 * half-pixel centres (`align_corners=False`).
 *
 * The values come from gathers and weighted sums; the input gradient is the exact adjoint, one matrix
 * product per axis with the interpolation weights (tfjs-backend-cpu's own `ResizeBilinearGrad` ignores
 * `halfPixelCenters`, and the gather's own gradient, `UnsortedSegmentSum`, is quadratic there and made
 * adversarial training of upsampled networks impractically slow). Registered for serialization as
 * `Upsample`.
 */
export class Upsample extends tfl.layers.Layer {
  /**
   * Name under which the class is registered for tfjs serialization (`'Upsample'`, the `class_name` in
   * a saved model's topology).
   * @nocollapse
   */
  static className = 'Upsample';
  /** Scale factor of both spatial axes (> 0; PyTorch's `scale_factor`). */
  readonly scale: number;
  /** Interpolation, `'nearest'` (default) or `'bilinear'`. */
  readonly mode: UpsampleMode;

  /**
   * Creates the layer (PyTorch: `nn.Upsample(scale_factor=scale, mode=mode)`).
   *
   * @param args `scale` (finite, > 0), optional `mode` (default `'nearest'`) and the usual tfjs layer
   *   options; the layer has no weights. Throws on an invalid scale or mode.
   */
  constructor(args: UpsampleArgs) {
    const { scale: _scale, mode: _mode, ...base } = args;
    super({ ...base, trainable: false });
    validateUpsample(args, 'upsample');
    this.scale = args.scale;
    this.mode = args.mode ?? 'nearest';
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const [n, h, w, c] = shape;
    return [n ?? null, h == null ? null : upsampledSize(h, this.scale), w == null ? null : upsampledSize(w, this.scale), c ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (x.rank !== 4) throw new RangeError(`upsample: expected a rank-4 NHWC tensor, got rank ${x.rank}`);
      const rows = resizeAxis(x, 1, this.scale, this.mode);
      return resizeAxis(rows, 2, this.scale, this.mode);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, mode: this.mode };
  }
}
tf.serialization.registerClass(Upsample);

/** Output length of an axis of length `size` upsampled by `scale` (PyTorch: `floor(size * scale)`). */
export function upsampledSize(size: number, scale: number): number {
  return Math.floor(size * scale);
}

/** Validates upsample options, naming `option` in errors. */
export function validateUpsample(options: UpsampleOptions, option: string): void {
  if (!options || typeof options !== 'object') {
    throw new TypeError(`${option}: expected { scale: number > 0, mode?: 'nearest' | 'bilinear' }`);
  }
  if (typeof options.scale !== 'number' || !Number.isFinite(options.scale) || options.scale <= 0) {
    throw new RangeError(`${option}.scale = ${String(options.scale)}: must be a finite number > 0`);
  }
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') {
    throw new RangeError(`${option}.mode = '${String(mode)}': accepted values are 'nearest' and 'bilinear'`);
  }
}

/** Source indices and weights along one axis, as PyTorch computes them (float32 arithmetic). */
function axisPlan(inSize: number, scale: number, mode: UpsampleMode) {
  const outSize = upsampledSize(inSize, scale);
  if (outSize < 1) throw new RangeError(`upsample: scale ${scale} maps size ${inSize} to ${outSize} (< 1)`);
  const ratio = Math.fround(1 / scale);
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const weightHi = new Float32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    if (mode === 'nearest') {
      lo[d] = Math.min(Math.floor(Math.fround(d * ratio)), inSize - 1);
    } else {
      const src = Math.max(Math.fround(Math.fround(ratio * (d + 0.5)) - 0.5), 0);
      const i0 = Math.min(Math.floor(src), inSize - 1);
      lo[d] = i0;
      hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
      weightHi[d] = Math.fround(src - i0);
    }
  }
  return { outSize, lo, hi, weightHi };
}

function resizeAxis(x: tf.Tensor, axis: 1 | 2, scale: number, mode: UpsampleMode): tf.Tensor {
  const plan = axisPlan(x.shape[axis]!, scale, mode);
  const inSize = x.shape[axis]!;
  const resize = tf.customGrad(((input: tf.Tensor) => {
    const value = tf.tidy(() => {
      const low = tf.gather(input, tf.tensor1d(plan.lo, 'int32'), axis);
      if (mode === 'nearest') return low;
      const high = tf.gather(input, tf.tensor1d(plan.hi, 'int32'), axis);
      const shape = axis === 1 ? [1, plan.outSize, 1, 1] : [1, 1, plan.outSize, 1];
      const w = tf.tensor(plan.weightHi, shape);
      // low + w * (high - low) == (1 - w) * low + w * high
      return tf.add(low, tf.mul(w, tf.sub(high, low)));
    });
    // d input[i] = sum over outputs d of A[d, i] * dy[d], A the interpolation matrix [out, in]:
    // one matrix product with the resized axis moved to the front.
    const gradFunc = (dy: tf.Tensor) =>
      tf.tidy(() => {
        const adjoint = new Float32Array(inSize * plan.outSize);
        for (let d = 0; d < plan.outSize; d++) {
          if (mode === 'nearest') {
            adjoint[plan.lo[d]! * plan.outSize + d] = 1;
          } else {
            const low = plan.lo[d]! * plan.outSize + d;
            const high = plan.hi[d]! * plan.outSize + d;
            adjoint[low] = adjoint[low]! + Math.fround(1 - plan.weightHi[d]!);
            adjoint[high] = adjoint[high]! + plan.weightHi[d]!;
          }
        }
        const order = axis === 1 ? [1, 0, 2, 3] : [2, 0, 1, 3];
        const inverse = axis === 1 ? [1, 0, 2, 3] : [1, 2, 0, 3];
        const moved = tf.transpose(dy, order);
        const rest = moved.shape.slice(1);
        const flat = tf.reshape(moved, [plan.outSize, -1]) as tf.Tensor2D;
        const summed = tf.matMul(tf.tensor2d(adjoint, [inSize, plan.outSize]), flat);
        return tf.transpose(tf.reshape(summed, [inSize, ...rest]), inverse);
      });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return resize(x);
}
