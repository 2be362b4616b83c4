export { resnet18 } from './resnet18.js';
export { preActResNet18 } from './preact-resnet18.js';
export { vgg16 } from './vgg16.js';
export { alexnet } from './alexnet.js';
export { wideResNet, type WideResNetOptions } from './wide-resnet.js';
export { type ModelOptions, type Pooling } from './options.js';
export {
  basicBlock,
  preActBlock,
  resnetStage,
  globalPool,
  type BlockOptions,
  type PreActBlockOptions,
  type StageOptions,
  type BlockFn,
} from './blocks.js';
export { conv2d, dense, batchNorm, scaleChannels, type Conv2dOptions, type DenseOptions, type WeightInit, type BiasInit } from './builders.js';
export { parseStrides, formatStrides, type StrideSpec, type ParseStridesOptions } from './strides.js';
export { SeedStream, type SeedLike } from './seed.js';
export { Normalize, CIFAR10_STATS, CIFAR100_STATS, type NormalizeStats, type NormalizeArgs } from './layers/normalize.js';
export { ResidualAdd } from './layers/residual-add.js';
export { Upsample, upsampledSize, type UpsampleMode, type UpsampleOptions, type UpsampleArgs } from './layers/upsample.js';
export { BatchNorm2d, type BatchNorm2dArgs } from './layers/batch-norm.js';
export { Conv2d, type Conv2dArgs } from './layers/conv2d.js';
export { featureMapShape, countTrainableParams, type FeatureMapShape } from './inspect.js';
export { exportTorchStateDict, type TorchStateDict, type TorchTensor } from './torch-weights.js';
export {
  importTorchStateDict,
  loadTorchWeights,
  loadTorchCheckpoint,
  loadSafetensors,
  exportSafetensors,
  torchNormalization,
  type TorchLoadOptions,
  type TorchImportReport,
  type TorchFileImportReport,
  type TorchKeyShape,
  type TorchRename,
  type TorchSkip,
} from './torch-import.js';
export { TORCH_KEY_LAYOUTS, type TorchKeyLayout } from './torch-layouts.js';
