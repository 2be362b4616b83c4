import * as tfl from '@tensorflow/tfjs-layers';
import { globalPool, preActBlock, resnet18Stages } from './blocks.js';
import { batchNorm, conv2d, dense, scaleChannels } from './builders.js';
import { inputStem, modelName, resolveOptions, type ModelOptions } from './options.js';

/**
 * PreActResNet18 (He et al., "Identity Mappings in Deep Residual Networks") as in the paper's code: a
 * 3x3 stem convolution with no BN after it, four stages of two pre-activation blocks (64/128/256/512
 * channels), a final BN + ReLU, global pooling and a linear classifier.
 *
 * `strides` as for {@link resnet18}: `'1-2-2-2'` (default) or `'1-1-2-2'`. The reference code keeps
 * PyTorch's default initialisation here (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), and so do we.
 */
export function preActResNet18(options?: ModelOptions): tfl.LayersModel {
  const opts = resolveOptions(options, { architecture: 'preActResNet18', defaultStrides: [1, 2, 2, 2] });
  const { seeds, width } = opts;
  const { input, x: stem } = inputStem(opts);
  let x = conv2d(stem, {
    name: 'conv1',
    filters: scaleChannels(64, width),
    kernelSize: 3,
    padding: 1,
    init: 'torch-default',
    seeds,
  });
  x = resnet18Stages(x, { block: preActBlock, strides: opts.strides, width, seed: seeds, init: 'torch-default' });
  x = batchNorm(x, 'bn', 'relu');
  x = globalPool(x, opts.pooling);
  const logits = dense(x, { name: 'fc', units: opts.numClasses, seeds });
  return tfl.model({ inputs: input, outputs: logits, name: modelName('preActResNet18', opts) });
}
