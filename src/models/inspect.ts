import * as tfl from '@tensorflow/tfjs-layers';

/** Spatial size and channels of the feature map that reaches a model's global pooling. */
export interface FeatureMapShape {
  /** Rows of the feature map, in feature-map pixels (4 for ResNet18 1-2-2-2 on 32x32 inputs). */
  height: number;
  /** Columns of the feature map, in feature-map pixels. */
  width: number;
  /** Channels of the feature map (512 for ResNet18 at width 1). */
  channels: number;
  /** The pooling applied to it. */
  pooling: 'avg' | 'max';
}

const POOL_CLASSES: Record<string, 'avg' | 'max'> = {
  GlobalAveragePooling2D: 'avg',
  GlobalMaxPooling2D: 'max',
};

/**
 * The feature map that reaches global pooling: the `H x W` of Proposition 1. ResNet18 on 32x32 inputs
 * gives 4x4 with strides 1-2-2-2 and 8x8 with 1-1-2-2; 2x upsampling of the input doubles both.
 *
 * Works on any model with one `GlobalAveragePooling2D` or `GlobalMaxPooling2D` layer (every model of this
 * library, also after save and load). Throws when the model has none or several.
 */
export function featureMapShape(model: tfl.LayersModel): FeatureMapShape {
  const pools = model.layers.filter((layer) => layer.getClassName() in POOL_CLASSES);
  if (pools.length !== 1) {
    throw new RangeError(
      `featureMapShape: model '${model.name}' has ${pools.length} global pooling layers; expected exactly one (GlobalAveragePooling2D or GlobalMaxPooling2D)`,
    );
  }
  const pool = pools[0]!;
  const shape = pool.inputSpec?.[0]?.shape ?? (pool.input as tfl.SymbolicTensor).shape;
  const [, height, width, channels] = shape;
  if (height == null || width == null || channels == null) {
    throw new RangeError(`featureMapShape: the map reaching '${pool.name}' has an undefined size (${JSON.stringify(shape)})`);
  }
  return { height, width, channels, pooling: POOL_CLASSES[pool.getClassName()]! };
}

/**
 * Number of trainable parameters (what PyTorch's `sum(p.numel() for p in model.parameters())` counts;
 * batch-norm running statistics are buffers there and non-trainable weights here, so neither counts).
 */
export function countTrainableParams(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 0), 1), 0);
}
