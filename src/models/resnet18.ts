import * as tfl from '@tensorflow/tfjs-layers';
import { basicBlock, globalPool, resnet18Stages } from './blocks.js';
import { batchNorm, conv2d, dense, scaleChannels } from './builders.js';
import { inputStem, modelName, resolveOptions, type ModelOptions } from './options.js';

/**
 * ResNet18 for CIFAR as in the paper's code (a 3x3 stem without max-pool, four stages of two
 * BasicBlocks with 64/128/256/512 channels, global pooling, a linear classifier).
 *
 * `strides` sets the first block's stride of each of the 4 stages: `'1-2-2-2'` (default, 4x4 features
 * before pooling on 32x32 inputs) or the paper's `'1-1-2-2'` (8x8). Convolutions use He-normal (fan_out)
 * init without bias; the classifier PyTorch's default `nn.Linear` init. With 10 classes and width 1 it
 * has 11,173,962 trainable parameters.
 *
 * @example const model = resnet18({ strides: '1-1-2-2' });
 */
export function resnet18(options?: ModelOptions): tfl.LayersModel {
  const opts = resolveOptions(options, { architecture: 'resnet18', defaultStrides: [1, 2, 2, 2] });
  const { seeds, width } = opts;
  const { input, x: stem } = inputStem(opts);
  let x = conv2d(stem, { name: 'conv1', filters: scaleChannels(64, width), kernelSize: 3, padding: 1, seeds });
  x = batchNorm(x, 'bn1', 'relu');
  x = resnet18Stages(x, { block: basicBlock, strides: opts.strides, width, seed: seeds });
  x = globalPool(x, opts.pooling);
  const logits = dense(x, { name: 'fc', units: opts.numClasses, seeds });
  return tfl.model({ inputs: input, outputs: logits, name: modelName('resnet18', opts) });
}
