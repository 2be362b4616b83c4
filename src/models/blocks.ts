/**
 * Building blocks of the residual networks, for users who assemble their own networks with the
 * tfjs-layers functional API. Layer names follow the reference code's PyTorch module paths, so
 * weights can be exchanged with it ({@link importTorchStateDict}).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNorm, conv2d, residualBatchNorm, scaleChannels, type WeightInit } from './builders.js';
import { ResidualAdd } from './layers/residual-add.js';
import { checkSpatial, type Pooling } from './options.js';
import { toSeedStream, type SeedLike } from './seed.js';

/** Options of {@link basicBlock} and {@link preActBlock}. */
export interface BlockOptions {
  /** Output channels. */
  filters: number;
  /** Stride of the first 3x3 convolution and of the projection shortcut (default 1). */
  stride?: number;
  /** Name prefix (PyTorch module path, e.g. `layer2.0`); layers are named `<name>.conv1`, ... */
  name: string;
  /** Seed (or a shared stream) of the initialisers; undefined for random weights. */
  seed?: SeedLike;
  /** Convolution initialiser (default `'he-fan-out'` for basic blocks, `'torch-default'` for pre-activation). */
  init?: WeightInit;
}

/**
 * ResNet's BasicBlock (He et al. 2016) as in the reference code:
 * `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, 3x3 convolutions without bias, padding 1 on every
 * side. The shortcut is `conv1x1(stride) + BN` (named `<name>.downsample.0/1`) when the stride is not 1 or
 * the channel count changes, the identity otherwise. The tail `relu(bn2(...) + shortcut)` is one layer,
 * `<name>.bn2` (a {@link BatchNorm2d} with `residual: true`), whose output is the block's output.
 */
export function basicBlock(x: tfl.SymbolicTensor, options: BlockOptions): tfl.SymbolicTensor {
  const { filters, name } = options;
  const stride = options.stride ?? 1;
  const seeds = toSeedStream(options.seed);
  const init = options.init ?? 'he-fan-out';
  const inChannels = x.shape[3] as number;
  let out = conv2d(x, { name: `${name}.conv1`, filters, kernelSize: 3, stride, padding: 1, init, seeds });
  checkSpatial(out, `${name}.conv1`);
  out = batchNorm(out, `${name}.bn1`, 'relu');
  out = conv2d(out, { name: `${name}.conv2`, filters, kernelSize: 3, padding: 1, init, seeds });
  let shortcut = x;
  if (stride !== 1 || inChannels !== filters) {
    shortcut = conv2d(x, { name: `${name}.downsample.0`, filters, kernelSize: 1, stride, init, seeds });
    shortcut = batchNorm(shortcut, `${name}.downsample.1`);
  }
  return residualBatchNorm(out, shortcut, `${name}.bn2`);
}

/** Options of {@link preActBlock}. */
export interface PreActBlockOptions extends BlockOptions {
  /** Dropout rate between the two convolutions (WideResNet's `dropRate`, default 0). */
  dropRate?: number;
  /** Name of the projection shortcut (default `<name>.shortcut.0`; WideResNet uses `<name>.convShortcut`). */
  shortcutName?: string;
}

/**
 * The pre-activation block (He et al. 2016, "Identity Mappings"), as PreActResNet18 and WideResNet use
 * it: `out = relu(bn1(x))`, then `conv2(relu(bn2(conv1(out)))) + shortcut`, where the shortcut is a 1x1
 * convolution (stride, no bias) of the pre-activated `out` when the stride or the channel count changes,
 * and `x` itself otherwise. The sum is a {@link ResidualAdd} layer, which keeps nothing for the gradient.
 */
export function preActBlock(x: tfl.SymbolicTensor, options: PreActBlockOptions): tfl.SymbolicTensor {
  const { filters, name } = options;
  const stride = options.stride ?? 1;
  const seeds = toSeedStream(options.seed);
  const init = options.init ?? 'torch-default';
  const inChannels = x.shape[3] as number;
  const activated = batchNorm(x, `${name}.bn1`, 'relu');
  const needsProjection = stride !== 1 || inChannels !== filters;
  let out = conv2d(activated, { name: `${name}.conv1`, filters, kernelSize: 3, stride, padding: 1, init, seeds });
  checkSpatial(out, `${name}.conv1`);
  out = batchNorm(out, `${name}.bn2`, 'relu');
  if (options.dropRate && options.dropRate > 0) {
    out = tfl.layers.dropout({ rate: options.dropRate, name: `${name}.dropout` }).apply(out) as tfl.SymbolicTensor;
  }
  out = conv2d(out, { name: `${name}.conv2`, filters, kernelSize: 3, padding: 1, init, seeds });
  const shortcut = needsProjection
    ? conv2d(activated, { name: options.shortcutName ?? `${name}.shortcut.0`, filters, kernelSize: 1, stride, init, seeds })
    : x;
  return new ResidualAdd({ name: `${name}.add` }).apply([out, shortcut]) as tfl.SymbolicTensor;
}

/** A residual block builder: {@link basicBlock}, {@link preActBlock} or one of the user's own. */
export type BlockFn = (x: tfl.SymbolicTensor, options: BlockOptions) => tfl.SymbolicTensor;

/** Options of {@link resnetStage}. */
export interface StageOptions {
  /** The block of the stage: `'basic'`, `'preact'` or a function with the blocks' signature. */
  block: 'basic' | 'preact' | BlockFn;
  /** Number of blocks in the stage (2 in every ResNet18 stage). */
  blocks: number;
  /** Output channels of every block of the stage (64, 128, 256, 512 in ResNet18 at width 1). */
  filters: number;
  /** Stride of the stage's first block: the paper's `s_i` (default 1). */
  stride?: number;
  /** Stage name, e.g. `layer3`; blocks are named `<name>.0`, `<name>.1`, ... */
  name: string;
  /** Seed (or a shared stream) of the blocks' initialisers, drawn in block order; undefined for random weights. */
  seed?: SeedLike;
  /** Convolution initialiser passed to every block (default: the block's own, see {@link BlockOptions.init}). */
  init?: WeightInit;
}

/**
 * One stage of a residual network: `blocks` blocks, the first with the stage's stride (the knob the
 * paper turns: ResNet18 1-2-2-2 -> 1-1-2-2 changes the second stage's stride).
 */
export function resnetStage(x: tfl.SymbolicTensor, options: StageOptions): tfl.SymbolicTensor {
  if (!Number.isInteger(options.blocks) || options.blocks < 1) {
    throw new RangeError(`resnetStage: blocks = ${options.blocks}: must be an integer >= 1`);
  }
  const block: BlockFn = options.block === 'basic' ? basicBlock : options.block === 'preact' ? preActBlock : options.block;
  const seeds = toSeedStream(options.seed);
  let out = x;
  for (let i = 0; i < options.blocks; i++) {
    out = block(out, {
      filters: options.filters,
      stride: i === 0 ? options.stride ?? 1 : 1,
      name: `${options.name}.${i}`,
      seed: seeds,
      init: options.init,
    });
  }
  return out;
}

/**
 * Global pooling to one value per channel (PyTorch's `AdaptiveAvgPool2d(1)` / `AdaptiveMaxPool2d(1)`
 * followed by `flatten`): `'avg'` or `'max'`, the choice Proposition 1 is about. The layer is named
 * `global_pool` by default; {@link featureMapShape} reads the size of the map that reaches it.
 */
export function globalPool(x: tfl.SymbolicTensor, pooling: Pooling, name = 'global_pool'): tfl.SymbolicTensor {
  if (pooling === 'avg') return tfl.layers.globalAveragePooling2d({ name }).apply(x) as tfl.SymbolicTensor;
  if (pooling === 'max') return tfl.layers.globalMaxPooling2d({ name }).apply(x) as tfl.SymbolicTensor;
  throw new RangeError(`pooling = '${String(pooling)}': accepted values are 'avg' and 'max'`);
}

/**
 * The four stages of ResNet18-style networks: two blocks each, 64/128/256/512 channels scaled by
 * `width`, stage `i` (named `layer<i+1>`) starting with stride `strides[i]`.
 * @internal
 */
export function resnet18Stages(
  x: tfl.SymbolicTensor,
  options: { block: BlockFn; strides: readonly number[]; width: number; seed: SeedLike; init?: WeightInit },
): tfl.SymbolicTensor {
  let out = x;
  [64, 128, 256, 512].forEach((channels, i) => {
    out = resnetStage(out, {
      block: options.block,
      blocks: 2,
      filters: scaleChannels(channels, options.width),
      stride: options.strides[i],
      name: `layer${i + 1}`,
      seed: options.seed,
      init: options.init,
    });
  });
  return out;
}
