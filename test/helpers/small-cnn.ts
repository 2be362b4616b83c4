import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * A seeded 10-class task of 8x8x3 images (a fixed random template per class, mixed with noise) and a
 * small CNN trained on it in a few seconds on the CPU backend.
 */
export function syntheticData(n: number, seed: number) {
  return tf.tidy(() => {
    const templates = tf.randomUniform([10, 8, 8, 3], 0, 1, 'float32', 1234);
    const labels = tf.randomUniform([n], 0, 10, 'int32', seed) as tf.Tensor1D;
    const noise = tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', seed + 1);
    const x = tf.add(tf.mul(tf.gather(templates, labels), 0.7), tf.mul(noise, 0.3)) as tf.Tensor4D;
    return { x, y: labels };
  });
}

export async function trainSmallCnn(seed = 1): Promise<tfl.LayersModel> {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed }) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: seed + 1 }) }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
  const { x, y } = syntheticData(200, 99);
  const onehot = tf.oneHot(y, 10);
  model.compile({ optimizer: tf.train.adam(0.02), loss: (t: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(t, p) });
  await model.fit(x, onehot, { epochs: 15, batchSize: 50, shuffle: false, verbose: 0 });
  tf.dispose([x, y, onehot]);
  return model;
}
