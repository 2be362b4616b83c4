/**
 * Small builders shared by the architectures: PyTorch-equivalent convolution (symmetric padding),
 * linear and batch-norm layers with the reference code's initialisers.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { biasInitializer, weightInitializer, type BiasInit, type WeightInit } from './init.js';
import { BatchNorm2d } from './layers/batch-norm.js';
import { Conv2d } from './layers/conv2d.js';
import { SeedStream } from './seed.js';
// The package's kernels (registered once per process): see src/backend/register.ts.
import '../backend/register.js';

export type { BiasInit, WeightInit };

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Layer name; PyTorch's module path (e.g. `layer1.0.conv1`) keeps weights interchangeable. */
  name: string;
  /** Output channels. */
  filters: number;
  /** Side of the square kernel, in pixels (3 for 3x3). */
  kernelSize: number;
  /** Stride in both directions (default 1). */
  stride?: number;
  /** Symmetric zero padding on every side, as PyTorch's `padding=` (default 0). */
  padding?: number;
  /** Default false: the residual networks' convolutions have no bias. */
  useBias?: boolean;
  /** Kernel initialiser (default `'he-fan-out'`). */
  init?: WeightInit;
  /** Bias initialiser when `useBias` is set (default `'zeros'`). */
  biasInit?: BiasInit;
  /** Stream the kernel's seed (and a `'torch-default'` bias's seed) is drawn from. */
  seeds: SeedStream;
}

/**
 * A 2-D convolution that computes what PyTorch's `nn.Conv2d(..., stride, padding)` computes (a
 * {@link Conv2d} layer: symmetric zero padding inside the convolution).
 */
export function conv2d(x: tfl.SymbolicTensor, options: Conv2dOptions): tfl.SymbolicTensor {
  const useBias = options.useBias ?? false;
  return new Conv2d({
    name: options.name,
    filters: options.filters,
    kernelSize: options.kernelSize,
    strides: options.stride ?? 1,
    padding: options.padding ?? 0,
    useBias,
    kernelInit: options.init ?? 'he-fan-out',
    biasInit: options.biasInit ?? 'zeros',
    kernelSeed: options.seeds.next(),
    biasSeed: useBias && options.biasInit === 'torch-default' ? options.seeds.next() : undefined,
  }).apply(x) as tfl.SymbolicTensor;
}

/** Options of {@link dense}. */
export interface DenseOptions {
  /** Layer name; PyTorch's module path (e.g. `linear`, `classifier.6`) keeps weights interchangeable. */
  name: string;
  /** Output features (the number of classes for a classifier head). */
  units: number;
  /** Weight initialiser (default `'torch-default'`, PyTorch's `nn.Linear`). */
  init?: WeightInit;
  /** Bias initialiser (default `'torch-default'`); `'zeros'` draws no seed. */
  biasInit?: BiasInit;
  /** Stream the weight's and the bias's seeds are drawn from. */
  seeds: SeedStream;
}

/** A fully connected layer with PyTorch's `nn.Linear` initialisation by default. */
export function dense(x: tfl.SymbolicTensor, options: DenseOptions): tfl.SymbolicTensor {
  const fanIn = x.shape[x.shape.length - 1] as number;
  return tfl.layers
    .dense({
      name: options.name,
      units: options.units,
      kernelInitializer: weightInitializer(options.init ?? 'torch-default', fanIn, options.units, options.seeds.next()),
      biasInitializer: biasInitializer(options.biasInit ?? 'torch-default', fanIn, (options.biasInit ?? 'torch-default') === 'zeros' ? undefined : options.seeds.next()),
    })
    .apply(x) as tfl.SymbolicTensor;
}

/**
 * PyTorch-semantics batch norm (see {@link BatchNorm2d}): gamma 1, beta 0, eps 1e-5, momentum 0.1;
 * `activation: 'relu'` fuses the ReLU that follows it.
 */
export function batchNorm(x: tfl.SymbolicTensor, name: string, activation: 'linear' | 'relu' = 'linear'): tfl.SymbolicTensor {
  return new BatchNorm2d({ name, activation }).apply(x) as tfl.SymbolicTensor;
}

/**
 * A residual block's tail, `relu(batchNorm(x) + shortcut)`, as one {@link BatchNorm2d} layer with
 * `residual: true` (the batch norm's weights under `name`, as PyTorch names the block's `bn2`).
 */
export function residualBatchNorm(x: tfl.SymbolicTensor, shortcut: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return new BatchNorm2d({ name, activation: 'relu', residual: true }).apply([x, shortcut]) as tfl.SymbolicTensor;
}

/** A ReLU layer. */
export function relu(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return tfl.layers.reLU({ name }).apply(x) as tfl.SymbolicTensor;
}

/** Scales a channel count by the width multiplier: `max(1, round(channels * width))`. */
export function scaleChannels(channels: number, width: number): number {
  return Math.max(1, Math.floor(channels * width + 0.5));
}
