import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  alexnet,
  countTrainableParams,
  exportTorchStateDict,
  importTorchStateDict,
  preActResNet18,
  resnet18,
  vgg16,
  wideResNet,
} from '../src/index.js';
import { loadTorchFixture, maxAbsDiff, decode, stateDictOf } from './helpers/fixture.js';

const fixture = loadTorchFixture();
const BUILDERS = { resnet18, preActResNet18, vgg16, alexnet, wideResNet };
type Entry = (typeof fixture.models)[number];

/** The fixture's model with the weights PyTorch used, and its input batch. */
function load(entry: Entry) {
  const model = BUILDERS[entry.arch](entry.options);
  importTorchStateDict(model, stateDictOf(entry.stateDict));
  return { model, x: tf.tensor(decode(entry.input), entry.input.shape) };
}

describe('parameter counts equal the PyTorch reference definitions', () => {
  it('ResNet18 with 10 classes has 11,173,962 trainable parameters (reference doc and PyTorch)', () => {
    expect(fixture.paramCounts['resnet18']).toBe(11_173_962);
    const model = resnet18();
    expect(countTrainableParams(model)).toBe(11_173_962);
    model.dispose();
  });
  // Counts from scripts/torch_reference.py (PyTorch 1.13), embedded in test/fixtures/torch-reference.json.
  it.each([
    ['preActResNet18', 11_172_170],
    ['vgg16', 14_922_826],
    ['alexnet', 2_850_634],
    ['wideResNet', 46_160_474],
  ] as const)('%s has %i trainable parameters', (arch, count) => {
    expect(fixture.paramCounts[arch]).toBe(count);
    const model = BUILDERS[arch]();
    expect(countTrainableParams(model)).toBe(count);
    model.dispose();
  });
});

describe('logits agree with PyTorch within 1e-4 (inference mode)', () => {
  it.each(fixture.models.map((m) => [m.id, m] as const))('%s', (_id, entry) => {
    const { model, x } = load(entry);
    const y = model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual(entry.logits.shape);
    const diff = maxAbsDiff(y.dataSync(), decode(entry.logits));
    expect(diff).toBeLessThan(1e-4);
    // The export is the exact inverse of the import.
    const back = exportTorchStateDict(model);
    for (const [key, value] of Object.entries(entry.stateDict)) {
      expect(back[key]!.shape).toEqual(value.shape);
      expect(maxAbsDiff(back[key]!.data, decode(value))).toBe(0);
    }
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('gradients and training mode agree with PyTorch', () => {
  it.each(fixture.models.map((m) => [m.id, m] as const))('%s: input gradient of the summed cross-entropy (relative 1e-4)', (_id, entry) => {
    const { model, x } = load(entry);
    const numClasses = entry.logits.shape[1]!;
    const onehot = tf.oneHot(tf.tensor1d(entry.labels, 'int32'), numClasses);
    const lossOf = (input: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(onehot, model.predict(input) as tf.Tensor, undefined, 0, tf.Reduction.SUM);
    const grad = tf.grad(lossOf)(x);
    const reference = decode(entry.inputGrad);
    const scale = Math.max(...Array.from(reference, Math.abs));
    // Narrow copies have small input gradients (AlexNet's ~1e-4): compare relative to the largest entry.
    expect(scale).toBeGreaterThan(1e-6);
    expect(maxAbsDiff(grad.dataSync(), reference) / scale).toBeLessThan(1e-4);
    tf.dispose([x, onehot, grad]);
    model.dispose();
  });

  it.each(fixture.models.filter((m) => m.trainLogits).map((m) => [m.id, m] as const))(
    '%s: training-mode logits (batch statistics)',
    (_id, entry) => {
      const { model, x } = load(entry);
      const y = model.apply(x, { training: true }) as tf.Tensor;
      expect(maxAbsDiff(y.dataSync(), decode(entry.trainLogits!))).toBeLessThan(1e-4);
      tf.dispose([x, y]);
      model.dispose();
    },
  );
});
