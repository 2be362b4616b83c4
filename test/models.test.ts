import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  alexnet,
  BatchNorm2d,
  Conv2d,
  CIFAR100_STATS,
  featureMapShape,
  parseStrides,
  preActResNet18,
  resnet18,
  vgg16,
  wideResNet,
  type ModelOptions,
} from '../src/index.js';

const BUILDERS = { resnet18, preActResNet18, vgg16, alexnet, wideResNet } as const;
type Arch = keyof typeof BUILDERS;
const narrow = { width: 1 / 16 };
const tinyWrn = { depth: 10, widenFactor: 1, width: 0.5 };

describe('featureMapShape: the map that reaches global pooling', () => {
  it.each([
    ['resnet18', { strides: '1-2-2-2' }, 4, 4],
    ['resnet18', { strides: '1-1-2-2' }, 8, 8],
    ['resnet18', { strides: '1122' }, 8, 8],
    ['resnet18', { strides: [1, 1, 1, 2] }, 16, 16],
    ['resnet18', { strides: '1-2-2-2', upsample: { scale: 2 } }, 8, 8],
    ['resnet18', { strides: '1-2-2-2', upsample: { scale: 3, mode: 'bilinear' } }, 12, 12],
    ['preActResNet18', { strides: '1-2-2-2' }, 4, 4],
    ['preActResNet18', { strides: '1-1-2-2' }, 8, 8],
    // VGG: stride 1 inserts no pool; 32 / 2^5 = 1 and 32 / 2^3 = 4.
    ['vgg16', { strides: '2-2-2-2-2' }, 1, 1],
    ['vgg16', { strides: '1-1-2-2-2' }, 4, 4],
    // AlexNet 2-2-2-2: 32 -conv s2-> 16 -pool s2-> 8 -pool s2-> 4 -pool s2-> 2.
    ['alexnet', { strides: '2-2-2-2' }, 2, 2],
    // AlexNet 1-1-2-2: 32 -conv-> 32 -pool k2 s1-> 31 -pool s2-> 15 -pool s2-> 7.
    ['alexnet', { strides: '1-1-2-2' }, 7, 7],
    ['wideResNet', { strides: '1-2-2', ...tinyWrn }, 8, 8],
    ['wideResNet', { strides: '1-1-2', ...tinyWrn }, 16, 16],
  ] as Array<[Arch, ModelOptions, number, number]>)('%s %j -> %ix%i', (arch, options, h, w) => {
    const model = BUILDERS[arch]({ ...narrow, ...options });
    const shape = featureMapShape(model);
    expect([shape.height, shape.width]).toEqual([h, w]);
    expect(shape.pooling).toBe('avg');
    model.dispose();
  });

  it('reports max pooling and the channel count', () => {
    const model = resnet18({ width: 1 / 16, pooling: 'max' });
    expect(featureMapShape(model)).toEqual({ height: 4, width: 4, channels: 32, pooling: 'max' });
    expect(model.getLayer('global_pool').getClassName()).toBe('GlobalMaxPooling2D');
    model.dispose();
  });

  it('fails clearly on a model without global pooling', () => {
    const input = tfl.input({ shape: [4, 4, 1] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.flatten().apply(input) as tfl.SymbolicTensor });
    expect(() => featureMapShape(model)).toThrow(/has 0 global pooling layers/);
    model.dispose();
  });
});

describe('every architecture: outputs, names, options', () => {
  it.each(['resnet18', 'preActResNet18', 'vgg16', 'alexnet', 'wideResNet'] as Arch[])(
    '%s maps [N, 32, 32, 3] pixels to [N, numClasses] logits',
    (arch) => {
      const model = BUILDERS[arch]({ ...narrow, ...(arch === 'wideResNet' ? tinyWrn : {}), numClasses: 7 });
      expect(model.inputs[0]!.shape).toEqual([null, 32, 32, 3]);
      expect(model.outputs[0]!.shape).toEqual([null, 7]);
      expect(model.layers.map((l) => l.name)).toContain('normalize');
      model.dispose();
    },
  );

  it('names models after the architecture and strides', () => {
    const a = resnet18({ ...narrow, strides: '1122' });
    const b = wideResNet({ ...tinyWrn });
    expect(a.name).toBe('resnet18_1-1-2-2');
    expect(b.name).toBe('wrn-10-1_1-2-2');
    a.dispose();
    b.dispose();
  });

  it('places Normalize before Upsample, and skips them when disabled', () => {
    const model = resnet18({ ...narrow, upsample: { scale: 2 } });
    const names = model.layers.map((l) => l.name);
    expect(names.slice(0, 3)).toEqual(['input', 'normalize', 'upsample']);
    model.dispose();
    const plain = resnet18({ ...narrow, normalize: false });
    expect(plain.layers.map((l) => l.name)).not.toContain('normalize');
    expect(plain.layers.map((l) => l.name)).not.toContain('upsample');
    plain.dispose();
  });

  it('pads symmetrically inside the convolution, also at stride 2 (no separate pad layer)', () => {
    const model = resnet18({ ...narrow });
    const conv = model.getLayer('layer2.0.conv1') as Conv2d;
    expect(conv).toBeInstanceOf(Conv2d);
    expect([conv.kernelSize, conv.strides, conv.padding, conv.useBias]).toEqual([3, 2, 1, false]);
    expect(model.layers.map((l) => l.getClassName())).not.toContain('ZeroPadding2D');
    // A 4x4 stride-2 convolution of a ramp shows the padding: PyTorch's symmetric pad puts the first
    // window at rows -1..1, TF's 'same' at rows 0..2.
    const layer = new Conv2d({ filters: 1, kernelSize: 3, strides: 2, padding: 1, kernelInit: { normal: 1 } });
    const x = tf.reshape(tf.range(0, 16), [1, 4, 4, 1]);
    layer.apply(x);
    layer.setWeights([tf.ones([3, 3, 1, 1])]);
    const y = layer.apply(x) as tf.Tensor;
    // Window sums with zero padding: rows/cols -1..1 and 1..3, e.g. 0 + 1 + 4 + 5 = 10 top left and
    // 4 + 5 + 8 + 9 + 12 + 13 = 51 bottom left (TF "same" would start at 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10 = 45).
    expect(Array.from(y.dataSync())).toEqual([10, 24, 51, 90]);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('uses PyTorch batch norm: eps 1e-5, momentum 0.1', () => {
    const model = resnet18({ ...narrow });
    const bn = model.getLayer('bn1') as BatchNorm2d;
    expect(bn).toBeInstanceOf(BatchNorm2d);
    expect(bn.epsilon).toBe(1e-5);
    expect(bn.momentum).toBe(0.1);
    model.dispose();
  });

  it('accepts other image sizes and channel counts', () => {
    const model = resnet18({ ...narrow, inputShape: [64, 48, 1], normalize: { mean: [0.5], std: [0.25] }, numClasses: 100 });
    expect(featureMapShape(model)).toMatchObject({ height: 8, width: 6 });
    expect(model.outputs[0]!.shape).toEqual([null, 100]);
    model.dispose();
  });
});

describe('bad options fail with errors that name the option and the accepted values', () => {
  it.each([
    [() => resnet18({ strides: '1-2-2' }), /resnet18: strides: got 3 strides .*expected 4 positive integers for resnet18/],
    [() => resnet18({ strides: '1-0-2-2' }), /strides\[1\] = 0 is not allowed; every stride must be an integer >= 1/],
    [() => resnet18({ strides: [1, 1.5, 2, 2] }), /strides\[1\] = 1.5/],
    [() => resnet18({ strides: 'one-two' }), /cannot parse 'one-two'/],
    [() => vgg16({ strides: '1-1-2-2' }), /expected 5 positive integers for vgg16/],
    [() => wideResNet({ strides: '1-1-2-2' }), /expected 3 positive integers for wideResNet/],
    [() => resnet18({ upsample: { scale: 0 } }), /resnet18: upsample\.scale = 0: must be a finite number > 0/],
    [() => resnet18({ upsample: { scale: 2, mode: 'cubic' as never } }), /upsample\.mode = 'cubic': accepted values are 'nearest' and 'bilinear'/],
    [() => resnet18({ numClasses: 1 }), /resnet18: numClasses = 1: must be an integer >= 2/],
    [() => alexnet({ numClasses: 2.5 }), /alexnet: numClasses = 2.5/],
    [() => resnet18({ pooling: 'sum' as never }), /resnet18: pooling = 'sum': accepted values are 'avg' and 'max'/],
    [() => resnet18({ width: 0 }), /resnet18: width = 0: must be a finite number > 0/],
    [() => resnet18({ inputShape: [32, 32] as never }), /inputShape = \[32,32\]: must be \[height, width, channels\]/],
    [() => resnet18({ inputShape: [32, 32, 1] }), /normalize has 3 channels but inputShape has 1/],
    [() => resnet18({ normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }), /normalize\.std\[1\] = 0/],
    [() => resnet18({ seed: -1 }), /resnet18: seed: expected a non-negative integer, got -1/],
    [() => resnet18({ stride: '1122' } as never), /resnet18: unknown option 'stride'; accepted options: numClasses, inputShape, strides/],
    [() => preActResNet18({ depth: 34 } as never), /preActResNet18: unknown option 'depth'/],
    [() => wideResNet({ depth: 30 }), /wideResNet: depth = 30: must be an integer >= 10 with \(depth - 4\) % 6 === 0/],
    [() => wideResNet({ widenFactor: 0 }), /wideResNet: widenFactor = 0/],
    [() => wideResNet({ dropRate: 1 }), /wideResNet: dropRate = 1: must be in \[0, 1\)/],
    [() => alexnet({ ...narrow, inputShape: [8, 8, 3] }), /inputShape is too small for these strides: the feature map after features\.12/],
    [() => vgg16({ ...narrow, inputShape: [16, 16, 3] }), /inputShape is too small for these strides: the feature map after pooling slot 5/],
  ])('%#: %s', (build, message) => {
    expect(build).toThrow(message);
  });

  it('parseStrides accepts the three notations', () => {
    expect(parseStrides('1-1-2-2', { count: 4 })).toEqual([1, 1, 2, 2]);
    expect(parseStrides('1122', { count: 4 })).toEqual([1, 1, 2, 2]);
    expect(parseStrides([1, 1, 2, 2], { count: 4 })).toEqual([1, 1, 2, 2]);
    expect(parseStrides(' 1-2-2 ', { count: 3 })).toEqual([1, 2, 2]);
  });
});

describe('initialisation follows the reference code', () => {
  const std = (t: tf.Tensor) => {
    const d = t.dataSync();
    let [mean, min, max] = [0, Infinity, -Infinity];
    for (const v of d) {
      mean += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    mean /= d.length;
    let sq = 0;
    for (const v of d) sq += (v - mean) ** 2;
    return { mean, std: Math.sqrt(sq / d.length), min, max };
  };
  const weight = (model: tfl.LayersModel, layer: string, i = 0) => model.getLayer(layer).getWeights()[i]!;

  it('ResNet18: He-normal fan_out convolutions (untruncated), PyTorch-default linear layer', () => {
    const model = resnet18({ seed: 3 });
    // layer4.0.conv2: 3x3, 512 -> 512: std sqrt(2 / (9 * 512)) = 0.02083; N = 2.36M samples.
    const conv = std(weight(model, 'layer4.0.conv2'));
    expect(conv.std).toBeCloseTo(Math.sqrt(2 / (9 * 512)), 4);
    expect(Math.abs(conv.mean)).toBeLessThan(1e-4);
    // Untruncated: values beyond 2 std exist (a truncated normal would have none).
    expect(conv.max).toBeGreaterThan(3 * Math.sqrt(2 / (9 * 512)));
    const fc = std(weight(model, 'fc'));
    expect(fc.max).toBeLessThanOrEqual(1 / Math.sqrt(512));
    expect(fc.min).toBeGreaterThanOrEqual(-1 / Math.sqrt(512));
    expect(fc.std).toBeCloseTo(1 / Math.sqrt(512) / Math.sqrt(3), 2);
    const gamma = weight(model, 'bn1', 0).dataSync();
    const beta = weight(model, 'bn1', 1).dataSync();
    expect([...gamma].every((v) => v === 1)).toBe(true);
    expect([...beta].every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('VGG16: convolution bias 0, linear N(0, 0.01) with bias 0', () => {
    const model = vgg16({ seed: 4 });
    expect([...weight(model, 'features.0', 1).dataSync()].every((v) => v === 0)).toBe(true);
    const linear = std(weight(model, 'classifier.0'));
    expect(linear.std).toBeCloseTo(0.01, 3);
    expect([...weight(model, 'classifier.0', 1).dataSync()].every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('PreActResNet18 and AlexNet: PyTorch default U(-1/sqrt(fan_in), 1/sqrt(fan_in))', () => {
    const pre = preActResNet18({ seed: 5 });
    const bound = 1 / Math.sqrt(256 * 9);
    const w = std(weight(pre, 'layer4.0.conv1'));
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 4);
    pre.dispose();
    const alex = alexnet({ seed: 6 });
    const b = std(weight(alex, 'features.3', 1));
    expect(b.max).toBeLessThanOrEqual(1 / Math.sqrt(64 * 25));
    expect(b.max).toBeGreaterThan(0.5 / Math.sqrt(64 * 25));
    alex.dispose();
  });

  it('the same seed gives the same weights; another seed or none gives others', () => {
    const values = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    const [a, b, c, d] = [resnet18({ ...narrow, seed: 1 }), resnet18({ ...narrow, seed: 1 }), resnet18({ ...narrow, seed: 2 }), resnet18(narrow)];
    expect(values(a)).toEqual(values(b));
    expect(values(a)[0]).not.toEqual(values(c)[0]);
    expect(values(a)[0]).not.toEqual(values(d)[0]);
    [a, b, c, d].forEach((m) => m.dispose());
  });
});

describe('no tensor leaks', () => {
  it.each(['resnet18', 'preActResNet18', 'vgg16', 'alexnet', 'wideResNet'] as Arch[])(
    '%s: building adds exactly its weights, predicting exactly its output, dispose frees all',
    (arch) => {
      const before = tf.memory().numTensors;
      const model = BUILDERS[arch]({
        ...narrow,
        ...(arch === 'wideResNet' ? tinyWrn : {}),
        upsample: { scale: 1.5, mode: 'bilinear' },
        seed: 1,
      });
      expect(tf.memory().numTensors).toBe(before + model.weights.length);
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
      const afterInput = tf.memory().numTensors;
      const y = model.predict(x) as tf.Tensor;
      expect(tf.memory().numTensors).toBe(afterInput + 1);
      const yTrain = model.apply(x, { training: true }) as tf.Tensor;
      expect(tf.memory().numTensors).toBe(afterInput + 2);
      tf.dispose([x, y, yTrain]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    },
  );
});

describe('training with tfjs', () => {
  it('model.fit lowers the loss of a narrow ResNet18 and updates the running statistics', async () => {
    const model = resnet18({ width: 1 / 32, inputShape: [16, 16, 3], numClasses: 2, seed: 7, normalize: CIFAR100_STATS });
    // Two separable classes: bright and dark images.
    const x = tf.tidy(() => tf.concat([tf.randomUniform([8, 16, 16, 3], 0.6, 1, 'float32', 1), tf.randomUniform([8, 16, 16, 3], 0, 0.4, 'float32', 2)]));
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([...Array(8).fill(0), ...Array(8).fill(1)], 'int32'), 2));
    model.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: (t: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(t, p) });
    const meanBefore = Array.from(model.getLayer('bn1').getWeights()[2]!.dataSync());
    const history = await model.fit(x, y, { epochs: 10, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = history.history['loss'] as number[];
    expect(losses[0]!).toBeGreaterThan(0.5); // ~ln 2 at the start
    expect(losses[losses.length - 1]!).toBeLessThan(0.1);
    const meanAfter = Array.from(model.getLayer('bn1').getWeights()[2]!.dataSync());
    expect(meanAfter).not.toEqual(meanBefore);
    tf.dispose([x, y]);
    model.dispose();
  });
});
