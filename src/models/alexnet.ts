import * as tfl from '@tensorflow/tfjs-layers';
import { globalPool } from './blocks.js';
import { conv2d, dense, relu, scaleChannels } from './builders.js';
import { checkSpatial, inputStem, modelName, resolveOptions, type ModelOptions } from './options.js';

/**
 * AlexNet for CIFAR as in the paper's Appendix B and code:
 * `conv5x5(64, stride s1, pad 2) ReLU MaxPool(2, s2)`, `conv5x5(192, pad 2) ReLU MaxPool(2, s3)`,
 * `conv3x3 384, 256, 256` (pad 1, ReLU each), `MaxPool(2, s4)`, global pooling, then
 * `Dropout, Linear 256 -> 512, ReLU, Dropout, Linear 512 -> 512, ReLU, Linear -> classes`.
 *
 * Strides `s1-s2-s3-s4`: default `'2-2-2-2'`, the paper's modification `'1-1-2-2'`. A stride-1 max-pool
 * with kernel 2 still shrinks the map by one (32 -> 31). Convolutions have biases; all layers keep
 * PyTorch's default initialisation, as the reference does. Layer names are the reference's indices.
 */
export function alexnet(options?: ModelOptions): tfl.LayersModel {
  const opts = resolveOptions(options, { architecture: 'alexnet', defaultStrides: [2, 2, 2, 2] });
  const { seeds, width } = opts;
  const [s1, s2, s3, s4] = opts.strides as [number, number, number, number];
  const { input, x: stem } = inputStem(opts);
  const conv = (x: tfl.SymbolicTensor, index: number, channels: number, kernelSize: number, stride = 1) => {
    const out = conv2d(x, {
      name: `features.${index}`,
      filters: scaleChannels(channels, width),
      kernelSize,
      stride,
      padding: (kernelSize - 1) / 2,
      useBias: true,
      init: 'torch-default',
      biasInit: 'torch-default',
      seeds,
    });
    checkSpatial(out, `features.${index}`);
    return relu(out, `features.${index + 1}`);
  };
  const pool = (x: tfl.SymbolicTensor, index: number, stride: number) => {
    const out = tfl.layers
      .maxPooling2d({ name: `features.${index}`, poolSize: 2, strides: stride, padding: 'valid' })
      .apply(x) as tfl.SymbolicTensor;
    checkSpatial(out, `features.${index} (max-pool, stride ${stride})`);
    return out;
  };
  let x = conv(stem, 0, 64, 5, s1);
  x = pool(x, 2, s2);
  x = conv(x, 3, 192, 5);
  x = pool(x, 5, s3);
  x = conv(x, 6, 384, 3);
  x = conv(x, 8, 256, 3);
  x = conv(x, 10, 256, 3);
  x = pool(x, 12, s4);
  x = globalPool(x, opts.pooling);
  const hidden = scaleChannels(512, width);
  x = tfl.layers.dropout({ rate: 0.5, name: 'classifier.0' }).apply(x) as tfl.SymbolicTensor;
  x = relu(dense(x, { name: 'classifier.1', units: hidden, seeds }), 'classifier.2');
  x = tfl.layers.dropout({ rate: 0.5, name: 'classifier.3' }).apply(x) as tfl.SymbolicTensor;
  x = relu(dense(x, { name: 'classifier.4', units: hidden, seeds }), 'classifier.5');
  const logits = dense(x, { name: 'classifier.6', units: opts.numClasses, seeds });
  return tfl.model({ inputs: input, outputs: logits, name: modelName('alexnet', opts) });
}
