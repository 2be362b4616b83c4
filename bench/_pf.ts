import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { resnet18 } from '/work/main/src/index.js';
await tf.setBackend('cpu');
const m = resnet18({ strides: process.argv[2] ?? '1-2-2-2' });
const xb = tf.randomUniform([32, 32, 32, 3]);
const y = tf.oneHot(tf.zeros([32], 'int32'), 10);
const pgdStep = () => tf.tidy(() => { tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.apply(xx, { training: false }) as tf.Tensor))(xb).dataSync(); });
for (let i = 0; i < 8; i++) {
  const r0 = process.resourceUsage(); const t0 = performance.now();
  pgdStep();
  const r1 = process.resourceUsage();
  console.log((performance.now() - t0).toFixed(0), 'ms faults', r1.minorPageFault - r0.minorPageFault, 'sys ms', ((r1.systemCPUTime - r0.systemCPUTime) / 1000).toFixed(0), 'user ms', ((r1.userCPUTime - r0.userCPUTime) / 1000).toFixed(0));
}
