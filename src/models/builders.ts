/**
 * Small builders shared by the architectures: PyTorch-equivalent convolution (symmetric padding),
 * linear and batch-norm layers with the reference code's initialisers.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm2d } from './layers/batch-norm.js';
import { SeedStream } from './seed.js';

/**
 * Weight initialisers of the reference code:
 * - `'he-fan-out'`: `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, N(0, 2 / (k * k * out)),
 *   untruncated (ResNet18, VGG16, WideResNet convolutions);
 * - `'torch-default'`: PyTorch's default for `nn.Conv2d`/`nn.Linear`, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 *   for the weight and the bias (PreActResNet18, AlexNet, and the classifier of ResNet18/WideResNet);
 * - `{ normal: std }`: N(0, std) (VGG16's linear layers use 0.01).
 */
export type WeightInit = 'he-fan-out' | 'torch-default' | { normal: number };

/** Bias initialisers: `'zeros'` or `'torch-default'` (U(-1/sqrt(fan_in), 1/sqrt(fan_in))). */
export type BiasInit = 'zeros' | 'torch-default';

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Layer name; PyTorch's module path (e.g. `layer1.0.conv1`) keeps weights interchangeable. */
  name: string;
  filters: number;
  kernelSize: number;
  stride?: number;
  /** Symmetric zero padding on every side, as PyTorch's `padding=` (default 0). */
  padding?: number;
  /** Default false: the residual networks' convolutions have no bias. */
  useBias?: boolean;
  init?: WeightInit;
  biasInit?: BiasInit;
  seeds: SeedStream;
}

/**
 * A 2-D convolution that computes what PyTorch's `nn.Conv2d(..., stride, padding)` computes.
 *
 * TF's `'same'` padding pads only bottom/right when the stride does not divide evenly, a different
 * network; so unless `'same'` provably equals the symmetric padding (stride 1 and `kernel = 2p + 1`) an
 * explicit `ZeroPadding2D` (named `<name>.pad`) precedes a `'valid'` convolution.
 */
export function conv2d(x: tfl.SymbolicTensor, options: Conv2dOptions): tfl.SymbolicTensor {
  const { name, filters, kernelSize } = options;
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const useBias = options.useBias ?? false;
  const inChannels = x.shape[x.shape.length - 1] as number;
  const fanIn = inChannels * kernelSize * kernelSize;
  const fanOut = filters * kernelSize * kernelSize;
  let input = x;
  let mode: 'same' | 'valid' = 'valid';
  if (padding > 0) {
    if (stride === 1 && kernelSize === 2 * padding + 1) {
      mode = 'same';
    } else {
      input = tfl.layers.zeroPadding2d({ padding, name: `${name}.pad` }).apply(x) as tfl.SymbolicTensor;
    }
  }
  return tfl.layers
    .conv2d({
      name,
      filters,
      kernelSize,
      strides: stride,
      padding: mode,
      useBias,
      kernelInitializer: weightInitializer(options.init ?? 'he-fan-out', fanIn, fanOut, options.seeds),
      biasInitializer: useBias ? biasInitializer(options.biasInit ?? 'zeros', fanIn, options.seeds) : undefined,
    })
    .apply(input) as tfl.SymbolicTensor;
}

/** Options of {@link dense}. */
export interface DenseOptions {
  name: string;
  units: number;
  init?: WeightInit;
  biasInit?: BiasInit;
  seeds: SeedStream;
}

/** A fully connected layer with PyTorch's `nn.Linear` initialisation by default. */
export function dense(x: tfl.SymbolicTensor, options: DenseOptions): tfl.SymbolicTensor {
  const fanIn = x.shape[x.shape.length - 1] as number;
  return tfl.layers
    .dense({
      name: options.name,
      units: options.units,
      kernelInitializer: weightInitializer(options.init ?? 'torch-default', fanIn, options.units, options.seeds),
      biasInitializer: biasInitializer(options.biasInit ?? 'torch-default', fanIn, options.seeds),
    })
    .apply(x) as tfl.SymbolicTensor;
}

/** PyTorch-semantics batch norm (see {@link BatchNorm2d}): gamma 1, beta 0, eps 1e-5, momentum 0.1. */
export function batchNorm(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return new BatchNorm2d({ name }).apply(x) as tfl.SymbolicTensor;
}

/** A ReLU layer. */
export function relu(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return tfl.layers.reLU({ name }).apply(x) as tfl.SymbolicTensor;
}

/** Scales a channel count by the width multiplier: `max(1, round(channels * width))`. */
export function scaleChannels(channels: number, width: number): number {
  return Math.max(1, Math.floor(channels * width + 0.5));
}

function weightInitializer(init: WeightInit, fanIn: number, fanOut: number, seeds: SeedStream) {
  const seed = seeds.next();
  if (init === 'he-fan-out') return tfl.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fanOut), seed });
  if (init === 'torch-default') {
    const bound = 1 / Math.sqrt(fanIn);
    return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
  }
  return tfl.initializers.randomNormal({ mean: 0, stddev: init.normal, seed });
}

function biasInitializer(init: BiasInit, fanIn: number, seeds: SeedStream) {
  if (init === 'zeros') return tfl.initializers.zeros();
  const bound = 1 / Math.sqrt(fanIn);
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: seeds.next() });
}
