import * as tfl from '@tensorflow/tfjs-layers';
import { globalPool, preActBlock } from './blocks.js';
import { batchNorm, conv2d, dense, scaleChannels } from './builders.js';
import { inputStem, modelName, resolveOptions, type ModelOptions } from './options.js';

/** Options of {@link wideResNet}: the common ones plus depth, widen factor and dropout. */
export interface WideResNetOptions extends ModelOptions {
  /** Depth, with `(depth - 4) % 6 === 0` (default 34: five blocks per stage). */
  depth?: number;
  /** Widen factor k: stage widths 16k, 32k, 64k (default 10). */
  widenFactor?: number;
  /** Dropout between the convolutions of each block (default 0, as in TRADES/MART). */
  dropRate?: number;
}

/**
 * WideResNet (Zagoruyko & Komodakis 2016) in the variant of TRADES/MART used by the paper's code,
 * WRN-34-10 by default: a 3x3 stem of 16 channels, three stages of `(depth - 4) / 6` pre-activation
 * blocks with 16k/32k/64k channels, final BN + ReLU, global pooling, a linear classifier.
 *
 * `strides` has 3 entries (default `'1-2-2'`, 8x8 features on 32x32 inputs). Convolutions use
 * N(0, 2 / (k * k * out)) (He-normal, fan_out), the classifier's bias starts at zero.
 */
export function wideResNet(options?: WideResNetOptions): tfl.LayersModel {
  const opts = resolveOptions(options, {
    architecture: 'wideResNet',
    defaultStrides: [1, 2, 2],
    extraKeys: ['depth', 'widenFactor', 'dropRate'],
  });
  const depth = options?.depth ?? 34;
  const widenFactor = options?.widenFactor ?? 10;
  const dropRate = options?.dropRate ?? 0;
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new RangeError(`wideResNet: depth = ${String(depth)}: must be an integer >= 10 with (depth - 4) % 6 === 0, e.g. 16, 28, 34`);
  }
  if (!Number.isInteger(widenFactor) || widenFactor < 1) {
    throw new RangeError(`wideResNet: widenFactor = ${String(widenFactor)}: must be an integer >= 1`);
  }
  if (typeof dropRate !== 'number' || !(dropRate >= 0 && dropRate < 1)) {
    throw new RangeError(`wideResNet: dropRate = ${String(dropRate)}: must be in [0, 1)`);
  }
  const { seeds, width } = opts;
  const blocksPerStage = (depth - 4) / 6;
  const { input, x: stem } = inputStem(opts);
  let x = conv2d(stem, { name: 'conv1', filters: scaleChannels(16, width), kernelSize: 3, padding: 1, seeds });
  [16, 32, 64].forEach((base, stage) => {
    const filters = scaleChannels(base * widenFactor, width);
    for (let i = 0; i < blocksPerStage; i++) {
      const name = `block${stage + 1}.layer.${i}`;
      x = preActBlock(x, {
        filters,
        stride: i === 0 ? opts.strides[stage] : 1,
        name,
        seed: seeds,
        init: 'he-fan-out',
        dropRate,
        shortcutName: `${name}.convShortcut`,
      });
    }
  });
  x = batchNorm(x, 'bn1', 'relu');
  x = globalPool(x, opts.pooling);
  const logits = dense(x, { name: 'fc', units: opts.numClasses, biasInit: 'zeros', seeds });
  const arch = `wrn-${depth}-${widenFactor}`;
  return tfl.model({ inputs: input, outputs: logits, name: modelName(arch, opts) });
}
