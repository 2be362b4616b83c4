import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * The options every tfjs layer takes (`name`, `trainable`, `inputShape`, `dtype`, ...): tfjs-layers'
 * `LayerArgs`, taken from the public `tf.layers.Layer` constructor because the package's entry point
 * does not export it (a deep import of `@tensorflow/tfjs-layers/dist/...` does not resolve under
 * `moduleResolution: nodenext`).
 */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
