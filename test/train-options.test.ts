// Bad trainer and optimiser settings are refused by name, before anything changes: the validation
// options, a learning rate set between steps, an optimiser state to restore.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, resnet18, TorchSGD } from '../src/index.js';
import { syntheticData } from './helpers/small-cnn.js';

const train = syntheticData(160, 11);
const test = syntheticData(40, 12);
afterAll(() => tf.dispose([train.x, train.y, test.x, test.y]));

const small = () => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed: 4 });
const validation = { x: test.x, y: test.y, steps: 1 };

describe('trainer options', () => {
  const model: tfl.LayersModel = small();
  afterAll(() => model.dispose());

  it.each([
    [{ every: 0 }, /validation\.every = 0: must be an integer >= 1/],
    [{ every: 1.5 }, /validation\.every = 1\.5: must be an integer >= 1/],
    [{ batchSize: 0 }, /validation\.batchSize = 0: must be an integer >= 1/],
    [{ steps: -1 }, /validation\.steps = -1: must be an integer >= 1/],
    [{ eps: Number.NaN }, /validation\.eps = NaN: must be a finite number >= 0/],
    [{ stepSize: -0.1 }, /validation\.stepSize = -0\.1: must be a finite number >= 0/],
  ])('validation %j is refused by name', async (bad, message) => {
    await expect(adversarialTrain(model, train, { defense: 'standard', epochs: 1, validation: { ...validation, ...bad } })).rejects.toThrow(message);
  }, 20_000);
});

describe('TorchSGD', () => {
  const variables = () => [tf.variable(tf.tensor2d([[1, 2], [3, 4]])), tf.variable(tf.tensor1d([5]))];

  it.each([Number.NaN, 0, -1, Number.POSITIVE_INFINITY])('lr = %s set after construction is refused and the rate kept', (bad) => {
    const vars = variables();
    const sgd = new TorchSGD(vars, { lr: 0.1 });
    expect(() => {
      sgd.lr = bad;
    }).toThrow(new RegExp(`lr = ${bad}: must be a finite number > 0`));
    expect(sgd.lr).toBe(0.1);
    sgd.lr = 0.01;
    expect(sgd.lr).toBe(0.01);
    sgd.dispose();
    tf.dispose(vars);
  });

  const good = () => ({ steps: 3, buffers: [{ shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, null] });
  it.each([
    ['steps -1', { steps: -1 }, /optimizer state: steps = -1: must be an integer >= 0/],
    ['steps 1.5', { steps: 1.5 }, /optimizer state: steps = 1\.5: must be an integer >= 0/],
    ['steps NaN', { steps: Number.NaN }, /optimizer state: steps = NaN: must be an integer >= 0/],
    ['one buffer for two variables', { buffers: [null] }, /optimizer state: expected 2 momentum buffers, got 1/],
    ['a buffer of another shape', { buffers: [{ shape: [4], data: new Float32Array(4) }, null] }, /optimizer state: buffer 0 has shape \[4\], the variable \[2,2\]/],
    ['too few values', { buffers: [{ shape: [2, 2], data: new Float32Array(3) }, null] }, /optimizer state: buffer 0 holds 3 values, its shape \[2,2\] needs 4/],
    ['values that are no Float32Array', { buffers: [null, { shape: [1], data: [1] }] }, /optimizer state: buffer 1 holds no Float32Array, its shape \[1\] needs 1/],
    ['a NaN momentum', { buffers: [{ shape: [2, 2], data: new Float32Array([1, Number.NaN, 3, 4]) }, null] }, /optimizer state: buffer 0 holds NaN at index 1: momentum must be finite/],
  ])('setState with %s is refused and changes nothing', (_, change, message) => {
    const vars = variables();
    const sgd = new TorchSGD(vars, { lr: 0.1 });
    sgd.setState(good());
    const count = tf.memory().numTensors;
    expect(() => sgd.setState({ ...good(), ...change } as never)).toThrow(message);
    expect(tf.memory().numTensors).toBe(count);
    expect(sgd.stepCount).toBe(3);
    expect(sgd.getState()).toEqual(good());
    sgd.dispose();
    tf.dispose(vars);
  });
});
