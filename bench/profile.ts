// Which tfjs kernels dominate a ResNet18 PGD step and training step (batch 32): npx tsx bench/profile.ts [strides]
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { resnet18, backendInfo } from '../src/index.node.js';
await tf.setBackend('cpu');
const strides = process.argv[2] ?? '1-2-2-2';
console.log(JSON.stringify(backendInfo().kernels));
const m = resnet18({ strides });
const xb = tf.randomUniform([Number(process.env.BATCH ?? 32), 32, 32, 3]);
const y = tf.oneHot(tf.zeros([Number(process.env.BATCH ?? 32)], "int32"), 10);
const pgdStep = () => tf.tidy(() => { tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.apply(xx, { training: false }) as tf.Tensor))(xb).dataSync(); });
const trainStep = () => tf.tidy(() => { const { value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar); value.dataSync(); });
for (let i = 0; i < 3; i++) { pgdStep(); trainStep(); }
for (const [name, f] of [['pgd', pgdStep], ['train', trainStep]] as const) {
  const t0 = Date.now();
  const info = await tf.profile(f as () => void);
  const wall = Date.now() - t0;
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byName.get(k.name) ?? { ms: 0, n: 0 }; e.ms += ms; e.n++; byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`${name}: wall ${wall} ms, kernels ${total.toFixed(0)} ms`);
  console.log([...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14).map(([k, e]) => `  ${k}: ${e.ms.toFixed(0)} (${e.n})`).join('\n'));
}
