/**
 * `npm run demo`: the paper's architectures and their knobs at a glance.
 *
 * Builds every network of the paper in its original and its modified stride configuration (and
 * ResNet18 with 2x input upsampling, the paper's other way to enlarge the feature map), prints the
 * feature-map size that reaches global pooling (the H x W of Proposition 1) and the trainable
 * parameters, then trains a narrow ResNet18 for a few steps, saves it with `file://` and loads it back.
 *
 * Runs on the pure-JS CPU backend: `npx tsx examples/architectures.ts`.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alexnet,
  countTrainableParams,
  featureMapShape,
  preActResNet18,
  resnet18,
  vgg16,
  wideResNet,
  type ModelOptions,
} from '../src/index.node.js';

await tf.setBackend('cpu');

const rows: Array<[string, string, () => tfl.LayersModel]> = [
  ['ResNet18', 'original 1-2-2-2', () => resnet18({ strides: '1-2-2-2' })],
  ['ResNet18', 'modified 1-1-2-2', () => resnet18({ strides: '1-1-2-2' })],
  ['ResNet18', '1-2-2-2 + 2x nearest upsampling', () => resnet18({ strides: '1-2-2-2', upsample: { scale: 2 } })],
  ['PreActResNet18', 'original 1-2-2-2', () => preActResNet18({ strides: '1-2-2-2' })],
  ['PreActResNet18', 'modified 1-1-2-2', () => preActResNet18({ strides: '1-1-2-2' })],
  ['VGG16-BN', 'original 2-2-2-2-2', () => vgg16({ strides: '2-2-2-2-2' })],
  ['VGG16-BN', 'modified 1-1-2-2-2', () => vgg16({ strides: '1-1-2-2-2' })],
  ['AlexNet', 'original 2-2-2-2', () => alexnet({ strides: '2-2-2-2' })],
  ['AlexNet', 'modified 1-1-2-2', () => alexnet({ strides: '1-1-2-2' })],
  ['WRN-34-10', 'original 1-2-2', () => wideResNet({ strides: '1-2-2' })],
];

console.log("The paper's networks on 32x32 CIFAR inputs (10 classes):\n");
console.log(`| network | configuration | feature map before pooling | trainable parameters |`);
console.log(`|---|---|---|---|`);
for (const [name, config, build] of rows) {
  const model = build();
  const f = featureMapShape(model);
  console.log(`| ${name} | ${config} | ${f.height}x${f.width}x${f.channels} | ${countTrainableParams(model).toLocaleString('en-US')} |`);
  model.dispose();
}

// A narrow copy trains in seconds on the CPU backend.
const options: ModelOptions = { strides: '1-1-2-2', width: 1 / 32, inputShape: [16, 16, 3], numClasses: 2, seed: 0 };
const model = resnet18(options);
const x = tf.tidy(() => tf.concat([tf.randomUniform([8, 16, 16, 3], 0.5, 1, 'float32', 1), tf.randomUniform([8, 16, 16, 3], 0, 0.5, 'float32', 2)]));
const y = tf.tidy(() => tf.oneHot(tf.tensor1d([...Array(8).fill(0), ...Array(8).fill(1)], 'int32'), 2));
// The models return logits: use softmax cross-entropy on logits (Keras' 'categoricalCrossentropy' expects probabilities).
model.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits) });
const history = await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0 });
const losses = (history.history['loss'] as number[]).map((v) => v.toFixed(3));
console.log(`\nNarrow ResNet18 1-1-2-2 (width 1/32), 10 SGD steps on bright-vs-dark images: loss ${losses.join(' -> ')}`);

const dir = mkdtempSync(join(tmpdir(), 'rmc-demo-'));
await model.save(`file://${dir}`);
const loaded = await tfl.loadLayersModel(`file://${join(dir, 'model.json')}`);
const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor))).dataSync()[0]);
console.log(`Saved to file://${dir} and loaded back: max logit difference ${diff}`);
rmSync(dir, { recursive: true, force: true });
tf.dispose([x, y]);
model.dispose();
loaded.dispose();
