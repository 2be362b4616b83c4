import * as tfl from '@tensorflow/tfjs-layers';
import { globalPool } from './blocks.js';
import { batchNorm, conv2d, dense, relu, scaleChannels } from './builders.js';
import { checkSpatial, inputStem, modelName, resolveOptions, type ModelOptions } from './options.js';

/** VGG configuration D (VGG16): channel counts, `'M'` marks the five pooling slots. */
const CONFIG_D: ReadonlyArray<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

/**
 * VGG16 with batch norm (`vgg16_bn`, configuration D) as in the paper's code and Appendix B.
 *
 * Each of the five pooling slots takes the next stride: a stride `s > 1` inserts `MaxPool(2, stride s)`,
 * a stride of 1 inserts no pool at all. Default `'2-2-2-2-2'` (1x1 features before global pooling on
 * 32x32 inputs); the paper's modification is `'1-1-2-2-2'` (4x4). Convolutions (3x3, padding 1, with
 * bias) use He-normal (fan_out) init and zero bias; the classifier `512 -> 256 -> 256 -> classes`
 * (ReLU and dropout 0.5 between) uses N(0, 0.01) and zero bias. Layer names are the reference's
 * `features.<i>` and `classifier.<i>` indices.
 */
export function vgg16(options?: ModelOptions): tfl.LayersModel {
  const opts = resolveOptions(options, { architecture: 'vgg16', defaultStrides: [2, 2, 2, 2, 2] });
  const { seeds, width } = opts;
  const { input, x: stem } = inputStem(opts);
  let x = stem;
  let index = 0;
  let slot = 0;
  for (const item of CONFIG_D) {
    if (item === 'M') {
      const stride = opts.strides[slot++]!;
      if (stride > 1) {
        x = tfl.layers
          .maxPooling2d({ name: `features.${index}`, poolSize: 2, strides: stride, padding: 'valid' })
          .apply(x) as tfl.SymbolicTensor;
        checkSpatial(x, `pooling slot ${slot} (stride ${stride})`);
        index += 1;
      }
    } else {
      x = conv2d(x, {
        name: `features.${index}`,
        filters: scaleChannels(item, width),
        kernelSize: 3,
        padding: 1,
        useBias: true,
        seeds,
      });
      // features.<i + 2> is the ReLU, fused into the batch norm.
      x = batchNorm(x, `features.${index + 1}`, 'relu');
      index += 3;
    }
  }
  x = globalPool(x, opts.pooling);
  const hidden = scaleChannels(256, width);
  const linear = { init: { normal: 0.01 }, biasInit: 'zeros', seeds } as const;
  x = dense(x, { name: 'classifier.0', units: hidden, ...linear });
  x = relu(x, 'classifier.1');
  x = tfl.layers.dropout({ rate: 0.5, name: 'classifier.2' }).apply(x) as tfl.SymbolicTensor;
  x = dense(x, { name: 'classifier.3', units: hidden, ...linear });
  x = relu(x, 'classifier.4');
  x = tfl.layers.dropout({ rate: 0.5, name: 'classifier.5' }).apply(x) as tfl.SymbolicTensor;
  const logits = dense(x, { name: 'classifier.6', units: opts.numClasses, ...linear });
  return tfl.model({ inputs: input, outputs: logits, name: modelName('vgg16', opts) });
}
