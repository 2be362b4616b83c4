// Per-step wall time, page faults and CPU time of ResNet18 PGD steps (batch 32), to see the warm-up and
// the steady state: npx tsx bench/steps.ts [strides] [steps]. Add `node --trace-gc --import tsx` to
// see the garbage collections between the lines.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { backendInfo, resnet18 } from '../src/index.node.js';

await tf.setBackend('cpu');
const strides = process.argv[2] ?? '1-2-2-2';
const steps = Number(process.argv[3] ?? 8);
const model = resnet18({ strides });
const x = tf.randomUniform([32, 32, 32, 3]);
const onehot = tf.oneHot(tf.zeros([32], 'int32'), 10);
const pgdStep = () =>
  tf.tidy(() => {
    tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.apply(input, { training: false }) as tf.Tensor))(x).dataSync();
  });
for (let i = 0; i < steps; i++) {
  const r0 = process.resourceUsage();
  const t0 = performance.now();
  pgdStep();
  const wall = performance.now() - t0;
  const r1 = process.resourceUsage();
  console.log(
    `step ${i}: ${wall.toFixed(0)} ms, ${r1.minorPageFault - r0.minorPageFault} page faults, ` +
      `user ${((r1.userCPUTime - r0.userCPUTime) / 1000).toFixed(0)} ms, system ${((r1.systemCPUTime - r0.systemCPUTime) / 1000).toFixed(0)} ms`,
  );
}
console.log('buffer pool:', JSON.stringify(backendInfo().bufferPool));
