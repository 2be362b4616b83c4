import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Normalize, ResidualAdd, Upsample, upsampledSize } from '../src/index.js';
import { batchNormInference } from '../src/models/layers/batch-norm-ops.js';
import { decode, loadTorchFixture, maxAbsDiff, toTensor } from './helpers/fixture.js';

const fixture = loadTorchFixture();

describe('Upsample equals PyTorch F.interpolate (values and input gradients)', () => {
  it.each(fixture.upsample.map((c) => [c.mode, c.scale, c] as const))('%s x%s', (mode, scale, c) => {
    const layer = new Upsample({ scale, mode });
    const x = toTensor(c.input);
    const weights = toTensor(c.outputWeights);
    const before = tf.memory().numTensors;
    const y = layer.apply(x) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(y.shape).toEqual(c.output.shape);
    expect(layer.computeOutputShape([null, 5, 7, 3])).toEqual([null, ...c.output.shape.slice(1)]);
    expect(maxAbsDiff(y.dataSync(), decode(c.output))).toBeLessThan(1e-6);
    // The gradient of sum(y * w) w.r.t. x: exact on every backend (tfjs-cpu's ResizeBilinearGrad is not).
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, weights)))(x);
    expect(maxAbsDiff(grad.dataSync(), decode(c.inputGrad))).toBeLessThan(1e-5);
    tf.dispose([x, weights, y, grad]);
  });

  it.each(['nearest', 'bilinear'] as const)('%s: the input gradient is one matrix product per axis, not a gather gradient', async (mode) => {
    // tfjs-backend-cpu's gather gradient (UnsortedSegmentSum) is quadratic; it made adversarial
    // training of upsampled networks impractically slow.
    const layer = new Upsample({ scale: 2, mode });
    const x = tf.randomUniform([2, 6, 5, 3], 0, 1, 'float32', 1);
    const info = await tf.profile(() => tf.grad((input: tf.Tensor) => tf.sum(layer.apply(input) as tf.Tensor))(x));
    const kernels = info.kernels.map((k) => k.name);
    expect(kernels).not.toContain('UnsortedSegmentSum');
    expect(kernels.filter((k) => k === 'BatchMatMul')).toHaveLength(2);
    tf.dispose([x, info.result as tf.Tensor]);
  });

  it('computes output sizes as floor(size * scale)', () => {
    expect(upsampledSize(32, 2)).toBe(64);
    expect(upsampledSize(5, 1.3)).toBe(6);
    expect(upsampledSize(7, 0.5)).toBe(3);
  });

  it('rejects a non-positive scale and an unknown mode, naming the option', () => {
    expect(() => new Upsample({ scale: 0 })).toThrow(/upsample\.scale = 0: must be a finite number > 0/);
    expect(() => new Upsample({ scale: -2 })).toThrow(/upsample\.scale/);
    expect(() => new Upsample({ scale: 2, mode: 'bicubic' as never })).toThrow(/upsample\.mode = 'bicubic'.*'nearest' and 'bilinear'/);
  });
});

/** Batch-norm parameters over 6 channels, `[gamma, beta, mean, variance]`, drawn with seeds `seed` to `seed + 3`. */
const batchNormParams = (seed: number) =>
  [
    tf.randomUniform([6], 0.5, 1.5, 'float32', seed),
    tf.randomNormal([6], 0, 0.5, 'float32', seed + 1),
    tf.randomNormal([6], 0, 0.3, 'float32', seed + 2),
    tf.randomUniform([6], 0.5, 2, 'float32', seed + 3),
  ] as tf.Tensor1D[];

describe('BatchNorm2d has nn.BatchNorm2d semantics', () => {
  const c = fixture.batchNorm;
  const makeLayer = () => {
    const layer = new BatchNorm2d({ name: 'bn' });
    layer.build([null, 5, 5, 4]);
    const [gamma, beta] = layer.weights;
    gamma!.write(tf.tensor1d(c.gamma));
    beta!.write(tf.tensor1d(c.beta));
    return layer;
  };

  it('training mode: batch statistics, unbiased running variance, momentum 0.1', () => {
    const layer = makeLayer();
    const [x1, x2] = c.inputs.map(toTensor) as [tf.Tensor, tf.Tensor];
    const y1 = layer.apply(x1, { training: true }) as tf.Tensor;
    const y2 = layer.apply(x2, { training: true }) as tf.Tensor;
    expect(maxAbsDiff(y1.dataSync(), decode(c.trainOutputs[0]!))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y2.dataSync(), decode(c.trainOutputs[1]!))).toBeLessThan(1e-5);
    const [, , movingMean, movingVar] = layer.weights;
    expect(maxAbsDiff(movingMean!.read().dataSync(), c.runningMean)).toBeLessThan(1e-6);
    expect(maxAbsDiff(movingVar!.read().dataSync(), c.runningVar)).toBeLessThan(1e-5);
    const yEval = layer.apply(x1) as tf.Tensor;
    expect(maxAbsDiff(yEval.dataSync(), decode(c.evalOutput))).toBeLessThan(1e-5);
    tf.dispose([x1, x2, y1, y2, yEval]);
  });

  it('training-mode gradients w.r.t. input, gamma and beta equal PyTorch', () => {
    const layer = makeLayer();
    const x = toTensor(c.inputs[0]!);
    const w = toTensor(c.outputWeights);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar,
    );
    const gx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w)))(x);
    const [gamma, beta] = layer.trainableWeights;
    expect(maxAbsDiff(grads[(gamma!.read() as tf.Variable).name]?.dataSync() ?? [], c.gammaGrad)).toBeLessThan(1e-4);
    expect(maxAbsDiff(grads[(beta!.read() as tf.Variable).name]?.dataSync() ?? [], c.betaGrad)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gx.dataSync(), decode(c.inputGrad))).toBeLessThan(1e-5);
    tf.dispose([x, w, value, gx, ...Object.values(grads)]);
  });

  it.each([false, true])('inference kernel: values and the gradients of all five inputs equal tf.batchNorm (relu: %s)', (relu) => {
    const x = tf.randomNormal([3, 4, 5, 6], 0, 2, 'float32', 31);
    const w = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 32);
    const params = batchNormParams(33);
    const ours = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor) =>
      tf.sum(tf.mul(batchNormInference(xs, g as tf.Tensor1D, b as tf.Tensor1D, m as tf.Tensor1D, v as tf.Tensor1D, 1e-5, relu), w));
    const composite = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor) => {
      const y = tf.batchNorm(xs, m as tf.Tensor1D, v as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5);
      return tf.sum(tf.mul(relu ? tf.relu(y) : y, w));
    };
    const before = tf.memory().numTensors;
    const a = tf.grads(ours)([x, ...params]);
    const b = tf.grads(composite)([x, ...params]);
    const gxOnly = tf.grad((xs: tf.Tensor) => ours(xs, ...(params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])))(x);
    expect(tf.memory().numTensors).toBe(before + 11);
    a.forEach((t, i) => expect(maxAbsDiff(t.dataSync(), b[i]!.dataSync())).toBeLessThan(1e-4));
    expect(maxAbsDiff(gxOnly.dataSync(), b[0]!.dataSync())).toBeLessThan(1e-4);
    const y = batchNormInference(x, ...(params as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D]), 1e-5, relu);
    const yRef = tf.tidy(() => { const r = tf.batchNorm(x, params[2]!, params[3]!, params[1]!, params[0]!, 1e-5); return relu ? tf.relu(r) : r; });
    expect(maxAbsDiff(y.dataSync(), yRef.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, w, ...params, ...a, ...b, gxOnly, y, yRef]);
  });

  it.each([false, true])('activation relu equals relu(batch norm), values and gradients (training: %s)', (training) => {
    const x = tf.randomNormal([3, 4, 5, 6], 0, 2, 'float32', 21);
    const w = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 22);
    const make = (activation: 'linear' | 'relu') => {
      const layer = new BatchNorm2d({ activation });
      layer.build([null, 4, 5, 6]);
      layer.setWeights(batchNormParams(1));
      return layer;
    };
    const fused = make('relu');
    const plain = make('linear');
    const run = (f: (input: tf.Tensor) => tf.Tensor, layer: BatchNorm2d) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), w)) as tf.Scalar, layer.trainableWeights.map((v) => v.read() as tf.Variable));
      const gx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(f(input), w)))(x);
      return [f(x), gx, ...Object.values(grads)];
    };
    const a = run((input) => fused.apply(input, { training }) as tf.Tensor, fused);
    const b = run((input) => tf.relu(plain.apply(input, { training }) as tf.Tensor), plain);
    expect(a.length).toBe(4);
    a.forEach((t, i) => expect(maxAbsDiff(t.dataSync(), b[i]!.dataSync())).toBeLessThan(1e-4));
    expect(() => new BatchNorm2d({ activation: 'tanh' as never })).toThrow(/activation = 'tanh': accepted values are 'linear' and 'relu'/);
  });

  it.each([false, true])('residual inference kernel: values and the gradients of all six inputs equal relu(tf.batchNorm + shortcut) (relu: %s)', (relu) => {
    const x = tf.randomNormal([3, 4, 5, 6], 0, 2, 'float32', 41);
    const shortcut = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 42);
    const w = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 43);
    const params = batchNormParams(44);
    type Args = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const ours = (...[xs, skip, g, b, m, v]: Args) =>
      tf.sum(tf.mul(batchNormInference(xs, g as tf.Tensor1D, b as tf.Tensor1D, m as tf.Tensor1D, v as tf.Tensor1D, 1e-5, relu, skip), w));
    const composite = (...[xs, skip, g, b, m, v]: Args) => {
      const y = tf.add(tf.batchNorm(xs, m as tf.Tensor1D, v as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5), skip);
      return tf.sum(tf.mul(relu ? tf.relu(y) : y, w));
    };
    const before = tf.memory().numTensors;
    const a = tf.grads(ours)([x, shortcut, ...params]);
    const b = tf.grads(composite)([x, shortcut, ...params]);
    expect(tf.memory().numTensors).toBe(before + 12);
    a.forEach((t, i) => expect(maxAbsDiff(t.dataSync(), b[i]!.dataSync())).toBeLessThan(1e-4));
    // The ReLU cut some of the shortcut's gradient (else the mask would be untested).
    if (relu) expect(b[1]!.dataSync().some((v) => v === 0)).toBe(true);
    const y = batchNormInference(x, ...(params as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D]), 1e-5, relu, shortcut);
    const yRef = tf.tidy(() => {
      const r = tf.add(tf.batchNorm(x, params[2]!, params[3]!, params[1]!, params[0]!, 1e-5), shortcut);
      return relu ? tf.relu(r) : r;
    });
    expect(maxAbsDiff(y.dataSync(), yRef.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, shortcut, w, ...params, ...a, ...b, y, yRef]);
  });

  it.each([false, true])('residual: true equals relu(batch norm + shortcut), values, gradients and running statistics (training: %s)', (training) => {
    const x = tf.randomNormal([3, 4, 5, 6], 0, 2, 'float32', 51);
    const shortcut = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 52);
    const w = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 53);
    const make = (residual: boolean) => {
      const layer = new BatchNorm2d({ residual, activation: residual ? 'relu' : 'linear' });
      layer.build(residual ? [[null, 4, 5, 6], [null, 4, 5, 6]] : [null, 4, 5, 6]);
      layer.setWeights(batchNormParams(1));
      return layer;
    };
    const fused = make(true);
    const plain = make(false);
    const run = (f: (input: tf.Tensor, skip: tf.Tensor) => tf.Tensor, layer: BatchNorm2d) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x, shortcut), w)) as tf.Scalar, layer.trainableWeights.map((v) => v.read() as tf.Variable));
      const [gx, gs] = tf.grads((input: tf.Tensor, skip: tf.Tensor) => tf.sum(tf.mul(f(input, skip), w)))([x, shortcut]);
      value.dispose();
      return [f(x, shortcut), gx!, gs!, ...Object.values(grads)];
    };
    const a = run((input, skip) => fused.apply([input, skip], { training }) as tf.Tensor, fused);
    const b = run((input, skip) => tf.relu(tf.add(plain.apply(input, { training }) as tf.Tensor, skip)), plain);
    expect(a.length).toBe(5);
    a.forEach((t, i) => expect(maxAbsDiff(t.dataSync(), b[i]!.dataSync())).toBeLessThan(1e-4));
    // Both layers saw the same batches, so their running statistics moved alike (or stayed, in inference).
    fused.getWeights().forEach((t, i) => expect(maxAbsDiff(t.dataSync(), plain.getWeights()[i]!.dataSync())).toBeLessThan(1e-6));
    expect(fused.computeOutputShape([[null, 4, 5, 6], [null, 4, 5, 6]])).toEqual([null, 4, 5, 6]);
    expect(fused.getConfig()['residual']).toBe(true);
    tf.dispose([x, shortcut, w, ...a, ...b]);
  });

  it('residual: true asks for [x, shortcut] of one shape, naming the layer', () => {
    const layer = new BatchNorm2d({ name: 'tail', residual: true, activation: 'relu' });
    const x = tf.zeros([2, 3, 3, 4]);
    const narrow = tf.zeros([2, 3, 3, 2]);
    expect(() => layer.apply(x)).toThrow(/tail: takes two inputs \[x, shortcut\] \(residual: true\), got 1/);
    expect(() => new BatchNorm2d({ name: 'tail2', residual: true }).apply([x, narrow])).toThrow(/tail2: the shortcut's shape \[2, 3, 3, 2\] differs from the input's \[2, 3, 3, 4\]/);
    expect(() => new BatchNorm2d({ name: 'plain' }).apply([x, x])).toThrow(/plain: takes one input, got 2/);
    expect(() => new BatchNorm2d({ residual: 'yes' as never })).toThrow(/batchNorm.residual = yes: accepted values are true and false/);
    tf.dispose([x, narrow]);
  });

  it('rejects momentum outside [0, 1] and epsilon <= 0', () => {
    expect(() => new BatchNorm2d({ momentum: 1.5 })).toThrow(/momentum = 1.5: must be in \[0, 1\]/);
    expect(() => new BatchNorm2d({ epsilon: 0 })).toThrow(/epsilon = 0: must be > 0/);
  });
});

describe('ResidualAdd', () => {
  it('adds two tensors of one shape, with the gradient dy to each; asks for [x, shortcut] of one shape, naming the layer', () => {
    const layer = new ResidualAdd({ name: 'sum' });
    const a = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 2);
    const w = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 3);
    const y = layer.apply([a, b]) as tf.Tensor;
    const expected = tf.add(a, b);
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected.dataSync()));
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(layer.apply([p, q]) as tf.Tensor, w)))([a, b]);
    expect(Array.from(ga!.dataSync())).toEqual(Array.from(w.dataSync()));
    expect(Array.from(gb!.dataSync())).toEqual(Array.from(w.dataSync()));
    expect(() => new ResidualAdd({ name: 'one' }).apply(a)).toThrow(/one: takes two inputs \[x, shortcut\]/);
    expect(() => new ResidualAdd({ name: 'odd' }).apply([a, tf.zeros([2, 3, 3, 2])])).toThrow(/odd: the shortcut's shape \[2, 3, 3, 2\] differs from the input's \[2, 3, 3, 4\]/);
    tf.dispose([a, b, w, y, expected, ga!, gb!]);
  });
});

describe('Normalize', () => {
  it('computes (x - mean) / std per channel', () => {
    const layer = new Normalize({ mean: [0.5, 0.25], std: [0.5, 2] });
    const x = tf.tensor4d([1, 1, 0, 0.25], [1, 2, 1, 2]);
    const y = layer.apply(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([1, 0.375, -1, 0]);
    tf.dispose([x, y]);
  });

  it('rejects bad statistics and a channel mismatch, naming the option', () => {
    expect(() => new Normalize({ mean: [0, 0], std: [1] })).toThrow(/normalize: mean \(2 entries\) and std \(1 entries\)/);
    expect(() => new Normalize({ mean: [0], std: [0] })).toThrow(/normalize\.std\[0\] = 0: must be a finite number > 0/);
    expect(() => new Normalize({ mean: [NaN], std: [1] })).toThrow(/normalize\.mean\[0\]/);
    const layer = new Normalize({ mean: [0, 0, 0], std: [1, 1, 1] });
    expect(() => layer.apply(tfl.input({ shape: [4, 4, 1] }))).toThrow(/3 entries but the input has 1 channels/);
  });
});
