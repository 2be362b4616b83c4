import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js';
await tf.setBackend('cpu');
for (const [h, c, o, k, s, pad] of [[64, 4, 8, 1, 2, 'valid'], [66, 4, 8, 3, 2, 'valid'], [32, 8, 16, 1, 2, 'valid'], [34, 8, 16, 3, 2, 'valid'], [16, 16, 32, 1, 2, 'valid'], [8, 32, 32, 3, 1, 'same']] as const) {
  const x = tf.randomUniform([2, h, h, c]) as tf.Tensor4D;
  const w = tf.randomNormal([k, k, c, o]) as tf.Tensor4D;
  for (let i = 0; i < 3; i++) {
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, s, pad)))([x, w]);
    g[0]!.dataSync(); g[1]!.dataSync();
  }
  console.log('ok', h, c, o, k, s, pad);
}
