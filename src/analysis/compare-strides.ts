import type * as tfl from '@tensorflow/tfjs-layers';
import { featureMapShape } from '../models/inspect.js';
import { formatStrides, type StrideSpec } from '../models/strides.js';
import { avgPoolingBound, maxPoolingBound, type BoundResult } from './proposition1.js';

/** One stride configuration in {@link compareStrides}. */
export interface StrideComparison {
  /** The configuration as a string, e.g. `'1-1-2-2'`. */
  strides: string;
  /** Height of the feature map reaching global pooling, in feature-map pixels. */
  height: number;
  /** Width of the feature map reaching global pooling, in feature-map pixels. */
  width: number;
  /** Proposition 1's average-pooling bound for this map ({@link avgPoolingBound}). */
  avgPooling: BoundResult;
  /** Proposition 1's max-pooling bound for this map ({@link maxPoolingBound}). */
  maxPooling: BoundResult;
}

/**
 * Proposition 1 across stride configurations of one architecture: builds each configuration (for its
 * shape only), reads the feature size reaching global pooling and evaluates both bounds with the same
 * `a`, `b`, `gamma`. `build` receives the strides, e.g. `(strides) => resnet18({ strides, width: 1 / 16 })`
 * (narrow copies have the same feature sizes and build faster).
 */
export function compareStrides(
  build: (strides: StrideSpec) => tfl.LayersModel,
  configurations: readonly StrideSpec[],
  disturbance: { a: number; b: number; gamma: number },
): StrideComparison[] {
  return configurations.map((strides) => {
    const model = build(strides);
    try {
      const { height, width } = featureMapShape(model);
      const input = { height, width, ...disturbance };
      return {
        strides: typeof strides === 'string' ? strides : formatStrides(strides),
        height,
        width,
        avgPooling: avgPoolingBound(input),
        maxPooling: maxPoolingBound(input),
      };
    } finally {
      model.dispose();
    }
  });
}
