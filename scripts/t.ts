import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { resnet18 } from '../src/index.js';
await tf.setBackend('cpu');
const m = resnet18({ strides: '1-2-2-2' });
const xb = tf.randomUniform([32, 32, 32, 3]);
const y = tf.oneHot(tf.zeros([32], 'int32'), 10);
tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.apply(xx, { training: false }) as tf.Tensor))(xb).dataSync());
for (const [name, f] of [['pgd', () => tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.apply(xx, { training: false }) as tf.Tensor))(xb).dataSync())],
  ['train', () => tf.tidy(() => { const { value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar); value.dataSync(); })]] as const) {
  const info = await tf.profile(f as any);
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byName.get(k.name) ?? { ms: 0, n: 0 }; e.ms += ms; e.n++; byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
  console.log(name, 'total kernel ms', total.toFixed(0));
  console.log([...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 18).map(([k, e]) => `${k}: ${e.ms.toFixed(0)} (${e.n})`).join('\n'));
}
