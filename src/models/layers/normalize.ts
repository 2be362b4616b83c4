import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from './layer-args.js';

/** Per-channel statistics for {@link Normalize}: `(x - mean) / std`, one entry per input channel. */
export interface NormalizeStats {
  /** Per-channel mean in input units (pixels in [0, 1]), finite; as many entries as `std`. */
  mean: readonly number[];
  /** Per-channel standard deviation in input units, each finite and > 0. */
  std: readonly number[];
}

/** CIFAR-10 channel mean and std (reference code, RGB). */
export const CIFAR10_STATS: NormalizeStats = Object.freeze({
  mean: Object.freeze([0.4914, 0.4824, 0.4467]),
  std: Object.freeze([0.2471, 0.2435, 0.2617]),
});

/** CIFAR-100 channel mean and std (reference code, RGB). */
export const CIFAR100_STATS: NormalizeStats = Object.freeze({
  mean: Object.freeze([0.5071, 0.4867, 0.4408]),
  std: Object.freeze([0.2675, 0.2565, 0.2761]),
});

/** Constructor arguments of {@link Normalize}. */
export interface NormalizeArgs extends NormalizeStats, LayerArgs {}

/**
 * A layer computing `(x - mean) / std` per channel (NHWC, last axis), so models take raw [0, 1] pixels
 * and attacks work in pixel space, as in the reference code's model wrapper. It has no weights.
 * Registered for serialization as `Normalize`.
 */
export class Normalize extends tfl.layers.Layer {
  /**
   * Name under which the class is registered for tfjs serialization (`'Normalize'`, the `class_name` in
   * a saved model's topology).
   * @nocollapse
   */
  static className = 'Normalize';
  /** Per-channel mean subtracted from the input (a copy of the constructor's). */
  readonly mean: number[];
  /** Per-channel standard deviation the centred input is divided by (a copy of the constructor's). */
  readonly std: number[];

  /**
   * Creates the layer; it holds the statistics as constants, so `(x - mean) / std` is part of the model.
   *
   * @param args `mean` and `std` (e.g. {@link CIFAR10_STATS}, one entry per input channel) and the usual
   *   tfjs layer options; the layer is never trainable. Throws on empty, mismatched or non-finite
   *   statistics or on a std <= 0.
   */
  constructor(args: NormalizeArgs) {
    const { mean: _mean, std: _std, ...base } = args;
    super({ ...base, trainable: false });
    validateStats(args, 'normalize');
    this.mean = [...args.mean];
    this.std = [...args.std];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const channels = shape[shape.length - 1];
    if (channels != null && channels !== this.mean.length) {
      throw new RangeError(
        `normalize: mean and std have ${this.mean.length} entries but the input has ${channels} channels`,
      );
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.div(tf.sub(x, tf.tensor1d(this.mean)), tf.tensor1d(this.std));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mean: this.mean, std: this.std };
  }
}
tf.serialization.registerClass(Normalize);

/** Checks mean/std arrays: same non-zero length, finite, std > 0. Throws naming `option`. */
export function validateStats(stats: NormalizeStats, option: string): void {
  if (!stats || !Array.isArray(stats.mean) || !Array.isArray(stats.std)) {
    throw new TypeError(`${option}: expected { mean: number[], std: number[] } or false`);
  }
  if (stats.mean.length === 0 || stats.mean.length !== stats.std.length) {
    throw new RangeError(
      `${option}: mean (${stats.mean.length} entries) and std (${stats.std.length} entries) must have the same, non-zero length`,
    );
  }
  stats.mean.forEach((m, i) => {
    if (!Number.isFinite(m)) throw new RangeError(`${option}.mean[${i}] = ${m}: must be a finite number`);
  });
  stats.std.forEach((s, i) => {
    if (!Number.isFinite(s) || s <= 0) throw new RangeError(`${option}.std[${i}] = ${s}: must be a finite number > 0`);
  });
}
