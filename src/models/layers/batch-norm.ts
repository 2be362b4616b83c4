import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from './layer-args.js';
import { batchNormInference, batchNormTraining } from './batch-norm-ops.js';
import { checkShortcutShape } from './shortcut-shape.js';

/** Constructor arguments of {@link BatchNorm2d}. */
export interface BatchNorm2dArgs extends LayerArgs {
  /**
   * Weight of the current batch in the running statistics, PyTorch's convention:
   * `running = (1 - momentum) * running + momentum * batch`. Default 0.1 (PyTorch's default; tfjs
   * and Keras write the same update with `momentum = 0.9`).
   */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5 (PyTorch's). */
  epsilon?: number;
  /**
   * `'relu'` applies a ReLU to the output in the same pass (PyTorch's `BatchNorm2d` followed by
   * `ReLU`); default `'linear'` (none).
   */
  activation?: 'linear' | 'relu';
  /**
   * `true`: the layer takes two inputs `[x, shortcut]` of the same shape and returns
   * `activation(batchNorm(x) + shortcut)`, a residual block's tail (ResNet's `relu(bn2(out) + shortcut)`)
   * in one pass. The normalised tensor and the sum are never tensors of their own, so a network built
   * of such blocks keeps two activation-sized tensors fewer per block for its gradient. Default `false`.
   */
  residual?: boolean;
}

/**
 * Batch normalisation over the channel (last) axis of NHWC tensors with PyTorch's `nn.BatchNorm2d`
 * semantics, so trained models and their running statistics match the reference code:
 *
 * - training mode (`model.apply(x, { training: true })`, `fit`): normalises with the batch mean and the
 *   biased batch variance, and updates the running mean and the running variance with the *unbiased*
 *   batch variance (`n / (n - 1)`, `n = N * H * W`) using `momentum` 0.1;
 * - inference mode: normalises with the running statistics.
 *
 * With `activation: 'relu'` it also applies the ReLU that follows it in the reference networks, in the
 * same pass over the data (forward and backward). With `residual: true` it takes `[x, shortcut]` and adds
 * the shortcut before the activation ({@link basicBlock}'s `<name>.bn2`).
 *
 * Weights are named as Keras names them (`gamma`, `beta`, `moving_mean`, `moving_variance`).
 * Registered for serialization as `BatchNorm2d`.
 */
export class BatchNorm2d extends tfl.layers.Layer {
  /**
   * Name under which the class is registered for tfjs serialization (`'BatchNorm2d'`, the `class_name`
   * in a saved model's topology).
   * @nocollapse
   */
  static className = 'BatchNorm2d';
  /** Weight of the current batch in the running statistics, PyTorch's convention (default 0.1). */
  readonly momentum: number;
  /** Added to the variance before the square root (default 1e-5). */
  readonly epsilon: number;
  /** `'relu'`: a ReLU is applied to the output in the same pass; `'linear'` (default): none. */
  readonly activation: 'linear' | 'relu';
  /** `true`: inputs `[x, shortcut]`, output `activation(batchNorm(x) + shortcut)`; `false` (default): one input. */
  readonly residual: boolean;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;
  private movingMean?: tfl.LayerVariable;
  private movingVariance?: tfl.LayerVariable;

  /**
   * Creates the layer; its weights are made when it is first built, sized by the input's channels
   * (PyTorch: `nn.BatchNorm2d(channels, eps=epsilon, momentum=momentum)`).
   *
   * @param args `momentum` (in [0, 1], default 0.1), `epsilon` (> 0, default 1e-5), `activation`
   *   (default `'linear'`), `residual` (default `false`) and the usual tfjs layer options (`name`, `trainable`, ...). Throws a
   *   RangeError on values out of range.
   */
  constructor(args: BatchNorm2dArgs = {}) {
    const { momentum: _momentum, epsilon: _epsilon, activation: _activation, residual: _residual, ...base } = args;
    super(base);
    this.momentum = args.momentum ?? 0.1;
    this.epsilon = args.epsilon ?? 1e-5;
    this.activation = args.activation ?? 'linear';
    this.residual = args.residual ?? false;
    if (typeof this.residual !== 'boolean') {
      throw new RangeError(`batchNorm.residual = ${String(this.residual)}: accepted values are true and false`);
    }
    if (this.activation !== 'linear' && this.activation !== 'relu') {
      throw new RangeError(`batchNorm.activation = '${String(this.activation)}': accepted values are 'linear' and 'relu'`);
    }
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new RangeError(`batchNorm.momentum = ${this.momentum}: must be in [0, 1]`);
    }
    if (!(this.epsilon > 0)) throw new RangeError(`batchNorm.epsilon = ${this.epsilon}: must be > 0`);
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tfl.Shape[];
    if (shapes.length !== (this.residual ? 2 : 1)) {
      throw new RangeError(`${this.name}: takes ${this.residual ? 'two inputs [x, shortcut] (residual: true)' : 'one input'}, got ${shapes.length}`);
    }
    const shape = shapes[0]!;
    if (shapes[1]) checkShortcutShape(this.name, shape, shapes[1]);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new RangeError(`${this.name}: the channel axis must have a defined size`);
    const ones = tfl.initializers.ones();
    const zeros = tfl.initializers.zeros();
    this.gamma = this.addWeight('gamma', [channels], 'float32', ones, undefined, true);
    this.beta = this.addWeight('beta', [channels], 'float32', zeros, undefined, true);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', zeros, undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', ones, undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return Array.isArray(inputShape[0]) ? (inputShape[0] as tfl.Shape) : inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const shortcut = this.residual ? (inputs as tf.Tensor[])[1] : undefined;
      if (this.residual) checkShortcutShape(this.name, x.shape, shortcut?.shape ?? []);
      const gamma = this.gamma!.read() as tf.Tensor1D;
      const beta = this.beta!.read() as tf.Tensor1D;
      const relu = this.activation === 'relu';
      if (kwargs['training'] !== true) {
        return batchNormInference(x, gamma, beta, this.movingMean!.read() as tf.Tensor1D, this.movingVariance!.read() as tf.Tensor1D, this.epsilon, relu, shortcut);
      }
      const { y, mean, variance, count } = batchNormTraining(x, gamma, beta, this.epsilon, relu, shortcut);
      // Running statistics as PyTorch keeps them: unbiased batch variance, weight `momentum`.
      const m = this.momentum;
      const correction = count > 1 ? count / (count - 1) : 1;
      const update = (variable: tfl.LayerVariable, batch: Float64Array, factor: number) => {
        const old = variable.read().dataSync();
        const next = new Float32Array(old.length);
        for (let c = 0; c < old.length; c++) next[c] = (1 - m) * old[c]! + m * batch[c]! * factor;
        variable.write(tf.tensor1d(next));
      };
      update(this.movingMean!, mean, 1);
      update(this.movingVariance!, variance, correction);
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon, activation: this.activation, residual: this.residual };
  }
}
tf.serialization.registerClass(BatchNorm2d);
