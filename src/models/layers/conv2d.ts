import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from './layer-args.js';
import { biasInitializer, weightInitializer, type BiasInit, type WeightInit } from '../init.js';

/** Constructor arguments of {@link Conv2d}. */
export interface Conv2dArgs extends LayerArgs {
  /** Output channels. */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride (default 1). */
  strides?: number;
  /** Zero padding on every side, PyTorch's `padding=` (default 0). */
  padding?: number;
  /** Default false (the residual networks' convolutions have no bias). */
  useBias?: boolean;
  /** Kernel initialiser (default `'he-fan-out'`). */
  kernelInit?: WeightInit;
  /** Bias initialiser (default `'zeros'`). */
  biasInit?: BiasInit;
  /** Seed of the kernel initialiser (default: unseeded, different weights on each run). */
  kernelSeed?: number;
  /** Seed of the bias initialiser, used by `'torch-default'` (default: unseeded). */
  biasSeed?: number;
}

/**
 * A 2-D convolution over NHWC tensors with PyTorch's `nn.Conv2d` geometry: the same zero padding on
 * every side, also at stride 2 (TF's `'same'` pads only bottom/right there, a different network).
 * The padding goes into the convolution itself (tfjs explicit padding), so no separate pad layer, and
 * no slice in its gradient, costs time. Weights are `kernel` `[k, k, in, out]` and `bias` `[out]`, as
 * in Keras. Registered for serialization as `Conv2d`.
 */
export class Conv2d extends tfl.layers.Layer {
  /**
   * Name under which the class is registered for tfjs serialization (`'Conv2d'`, the `class_name` in a
   * saved model's topology).
   * @nocollapse
   */
  static className = 'Conv2d';
  /** Output channels (PyTorch's `out_channels`). */
  readonly filters: number;
  /** Side of the square kernel in pixels (PyTorch's `kernel_size`). */
  readonly kernelSize: number;
  /** Stride along both spatial axes (default 1). */
  readonly strides: number;
  /** Zero padding in pixels on each of the four sides, PyTorch's `padding=` (default 0). */
  readonly padding: number;
  /** Whether the layer adds a per-channel bias (default false, unlike PyTorch's `bias=True`). */
  readonly useBias: boolean;
  /** Kernel initialiser (default `'he-fan-out'`, Kaiming normal with `mode='fan_out'`). */
  readonly kernelInit: WeightInit;
  /** Bias initialiser (default `'zeros'`); only used when `useBias` is true. */
  readonly biasInit: BiasInit;
  /** Seed of the kernel initialiser, or undefined (unseeded). */
  readonly kernelSeed?: number;
  /** Seed of the bias initialiser, or undefined (unseeded). */
  readonly biasSeed?: number;
  private kernel?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;

  /**
   * Creates the layer; its weights are made when it is first built, sized by the input's channels
   * (PyTorch: `nn.Conv2d(in, filters, kernelSize, strides, padding, bias=useBias)`).
   *
   * @param args `filters` and `kernelSize` (integers >= 1), optional `strides` (>= 1, default 1),
   *   `padding` (>= 0, default 0), `useBias`, `kernelInit`, `biasInit`, seeds, and the usual tfjs layer
   *   options (`name`, `inputShape`, ...). Throws a RangeError on a size that is not such an integer.
   */
  constructor(args: Conv2dArgs) {
    const { filters, kernelSize, strides, padding, useBias, kernelInit, biasInit, kernelSeed, biasSeed, ...base } = args;
    super(base);
    const positive = (v: unknown, what: string, min: number) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`conv2d.${what} = ${String(v)}: must be an integer >= ${min}`);
      return v;
    };
    this.filters = positive(filters, 'filters', 1);
    this.kernelSize = positive(kernelSize, 'kernelSize', 1);
    this.strides = positive(strides ?? 1, 'strides', 1);
    this.padding = positive(padding ?? 0, 'padding', 0);
    this.useBias = useBias ?? false;
    this.kernelInit = kernelInit ?? 'he-fan-out';
    this.biasInit = biasInit ?? 'zeros';
    this.kernelSeed = kernelSeed;
    this.biasSeed = biasSeed;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inChannels = shape[3];
    if (inChannels == null) throw new RangeError(`${this.name}: the channel axis must have a defined size`);
    const k = this.kernelSize;
    const fanIn = inChannels * k * k;
    const fanOut = this.filters * k * k;
    this.kernel = this.addWeight('kernel', [k, k, inChannels, this.filters], 'float32', weightInitializer(this.kernelInit, fanIn, fanOut, this.kernelSeed));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', biasInitializer(this.biasInit, fanIn, this.biasSeed));
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const out = (size: number | null) => (size == null ? null : Math.floor((size + 2 * this.padding - this.kernelSize) / this.strides) + 1);
    return [shape[0] ?? null, out(shape[1] ?? null), out(shape[2] ?? null), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const p = this.padding;
      const pad: tf.backend_util.ExplicitPadding | 'valid' = p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]];
      const filter = this.kernel!.read() as tf.Tensor4D;
      // Without a bias the plain op: its gradient computes the filter gradient only when it is needed
      // (an attack needs the input gradient alone), while the fused op's gradient always computes both.
      if (!this.bias) return tf.conv2d(x, filter, this.strides, pad);
      return tf.fused.conv2d({ x, filter, strides: this.strides, pad, bias: this.bias.read() });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      useBias: this.useBias,
      kernelInit: this.kernelInit as tf.serialization.ConfigDictValue,
      biasInit: this.biasInit,
    };
    if (this.kernelSeed !== undefined) config['kernelSeed'] = this.kernelSeed;
    if (this.biasSeed !== undefined) config['biasSeed'] = this.biasSeed;
    return config;
  }
}
tf.serialization.registerClass(Conv2d);
