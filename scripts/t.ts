import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { importTorchStateDict, resnet18, preActResNet18, vgg16, alexnet, wideResNet } from '../src/index.js';
import { decode, loadTorchFixture, stateDictOf } from '../test/helpers/fixture.js';
await tf.setBackend('cpu');
const B: any = { resnet18, preActResNet18, vgg16, alexnet, wideResNet };
for (const e of loadTorchFixture().models) {
  console.log(e.id);
  const m = B[e.arch](e.options);
  importTorchStateDict(m, stateDictOf(e.stateDict));
  const x = tf.tensor(decode(e.input), e.input.shape);
  (m.predict(x) as tf.Tensor).dataSync();
  const y = tf.oneHot(tf.tensor1d(e.labels, 'int32'), e.logits.shape[1]!);
  tf.grad((i: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.predict(i) as tf.Tensor))(x).dataSync();
  console.log('ok');
}
