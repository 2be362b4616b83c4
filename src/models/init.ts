/** The reference code's weight initialisers as tfjs initialisers. */
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Weight initialisers of the reference code:
 * - `'he-fan-out'`: `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, N(0, 2 / (k * k * out)),
 *   untruncated (ResNet18, VGG16, WideResNet convolutions);
 * - `'torch-default'`: PyTorch's default for `nn.Conv2d`/`nn.Linear`, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 *   for the weight and the bias (PreActResNet18, AlexNet, and the classifier of ResNet18/WideResNet);
 * - `{ normal: std }`: N(0, std) (VGG16's linear layers use 0.01).
 */
export type WeightInit =
  | 'he-fan-out'
  | 'torch-default'
  | {
      /** Standard deviation of the zero-mean normal distribution (VGG16's linear layers: 0.01). */
      normal: number;
    };

/** Bias initialisers: `'zeros'` or `'torch-default'` (U(-1/sqrt(fan_in), 1/sqrt(fan_in))). */
export type BiasInit = 'zeros' | 'torch-default';

/**
 * A tfjs-layers initialiser, as its public `tf.initializers` functions return it (the class itself is
 * only exported from a deep path, which does not resolve under `moduleResolution: nodenext`).
 */
export type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** The tfjs initialiser for a weight with the given fans. */
export function weightInitializer(init: WeightInit, fanIn: number, fanOut: number, seed?: number): Initializer {
  if (init === 'he-fan-out') return tfl.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fanOut), seed });
  if (init === 'torch-default') {
    const bound = 1 / Math.sqrt(fanIn);
    return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
  }
  if (init && typeof init === 'object' && typeof init.normal === 'number') {
    return tfl.initializers.randomNormal({ mean: 0, stddev: init.normal, seed });
  }
  throw new RangeError(`init = ${JSON.stringify(init)}: accepted values are 'he-fan-out', 'torch-default' or { normal: std }`);
}

/** The tfjs initialiser for a bias of a layer with `fanIn` inputs. */
export function biasInitializer(init: BiasInit, fanIn: number, seed?: number): Initializer {
  if (init === 'zeros') return tfl.initializers.zeros();
  if (init === 'torch-default') {
    const bound = 1 / Math.sqrt(fanIn);
    return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
  }
  throw new RangeError(`biasInit = ${JSON.stringify(init)}: accepted values are 'zeros' and 'torch-default'`);
}
