// Defense losses and SGD against PyTorch (test/fixtures/torch-defenses.json from scripts/torch_defenses.py).
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alpLoss, atLoss, martLoss, piecewiseLr, TorchSGD, tradesLoss } from '../src/index.js';
import { maxAbsDiff } from './helpers/fixture.js';

interface LossRef {
  loss: number;
  gradNat: number[][];
  gradAdv: number[][];
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/torch-defenses.json', import.meta.url)), 'utf8')) as {
  logitsNat: number[][];
  logitsAdv: number[][];
  labels: number[];
  losses: Record<'at' | 'alp' | 'trades' | 'mart', LossRef>;
  sgd: { A: number[][]; b: number[]; w0: number[]; lr: number; momentum: number; weightDecay: number; milestones: number[]; gamma: number; trajectory: Array<{ w: number[]; bias: number[]; lr: number }> };
};

const losses = {
  at: (nat: tf.Tensor2D, adv: tf.Tensor2D, y: tf.Tensor1D) => atLoss(adv, y),
  alp: (nat: tf.Tensor2D, adv: tf.Tensor2D, y: tf.Tensor1D) => alpLoss(nat, adv, y),
  trades: (nat: tf.Tensor2D, adv: tf.Tensor2D, y: tf.Tensor1D) => tradesLoss(nat, adv, y),
  mart: (nat: tf.Tensor2D, adv: tf.Tensor2D, y: tf.Tensor1D) => martLoss(nat, adv, y),
};

describe('defense losses equal PyTorch, value and gradients w.r.t. both logits', () => {
  it.each(Object.keys(losses) as Array<keyof typeof losses>)('%s', (name) => {
    const nat = tf.tensor2d(fixture.logitsNat);
    const adv = tf.tensor2d(fixture.logitsAdv);
    const y = tf.tensor1d(fixture.labels, 'int32');
    const before = tf.memory().numTensors;
    const value = losses[name](nat as tf.Tensor2D, adv as tf.Tensor2D, y);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(value.rank).toBe(0);
    expect(Math.abs(value.dataSync()[0]! - fixture.losses[name].loss)).toBeLessThan(1e-5);
    // AT does not depend on the natural logits (PyTorch's gradient there is zero; tfjs refuses to take it).
    const [gNat, gAdv] =
      name === 'at'
        ? [tf.zerosLike(nat), tf.grad((b: tf.Tensor) => atLoss(b as tf.Tensor2D, y))(adv)]
        : tf.grads((a: tf.Tensor, b: tf.Tensor) => losses[name](a as tf.Tensor2D, b as tf.Tensor2D, y))([nat, adv]);
    expect(maxAbsDiff(gNat!.dataSync(), fixture.losses[name].gradNat.flat())).toBeLessThan(1e-5);
    expect(maxAbsDiff(gAdv!.dataSync(), fixture.losses[name].gradAdv.flat())).toBeLessThan(1e-5);
    tf.dispose([nat, adv, y, value, gNat!, gAdv!]);
  });

  it('reject bad options and shapes, naming them', () => {
    const z = tf.zeros([2, 3]) as tf.Tensor2D;
    const y = tf.tensor1d([0, 1], 'int32');
    expect(() => tradesLoss(z, z, y, { beta: -1 })).toThrow(/tradesLoss: beta = -1: must be a finite number >= 0/);
    expect(() => martLoss(z, z, y, { beta: NaN })).toThrow(/martLoss: beta = NaN/);
    expect(() => alpLoss(z, z, y, { weight: -0.5 })).toThrow(/alpLoss: weight = -0.5/);
    expect(() => atLoss(z, tf.tensor1d([0, 1, 2], 'int32'))).toThrow(/atLoss: labels must be \[2\] class indices, got shape \[3\]/);
    expect(() => tradesLoss(z, tf.zeros([2, 4]) as tf.Tensor2D, y)).toThrow(/same shape, got \[2,3\] and \[2,4\]/);
    expect(() => atLoss(z, tf.tensor1d([0, 1]))).toThrow(/labels must be int32 class indices, got float32/);
  });
});

describe('TorchSGD and piecewiseLr reproduce torch.optim.SGD with MultiStepLR', () => {
  it('six epochs of momentum 0.9, weight decay 5e-4, lr 0.1 x0.1 at 2 and 4', () => {
    const s = fixture.sgd;
    const A = tf.tensor2d(s.A);
    const b = tf.tensor1d(s.b);
    const w = tf.variable(tf.tensor1d(s.w0));
    const bias = tf.variable(tf.zeros([1]));
    const optimizer = new TorchSGD([w, bias], { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
    const lrAt = piecewiseLr({ base: s.lr, milestones: s.milestones, gamma: s.gamma });
    s.trajectory.forEach((expected, epoch) => {
      optimizer.lr = lrAt(epoch);
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.add(tf.squeeze(tf.matMul(A, tf.reshape(w, [4, 1]))), bias), b))) as tf.Scalar, [w, bias]);
      optimizer.step([grads[w.name]!, grads[bias.name]!]);
      tf.dispose(Object.values(grads));
      expect(maxAbsDiff(w.dataSync(), expected.w)).toBeLessThan(1e-6);
      expect(maxAbsDiff(bias.dataSync(), expected.bias)).toBeLessThan(1e-6);
      expect(lrAt(epoch + 1)).toBeCloseTo(expected.lr, 12);
    });
    // State round trip: a fresh optimiser with the saved state continues identically.
    const state = optimizer.getState();
    expect(state.steps).toBe(6);
    const copy = new TorchSGD([w, bias], { lr: 0.01, momentum: s.momentum, weightDecay: s.weightDecay });
    copy.setState(state);
    expect(copy.getState()).toEqual(state);
    tf.dispose([A, b, w, bias]);
    optimizer.dispose();
    copy.dispose();
  });

  it('piecewiseLr with explicit factors (FAT-AT) and bad schedules', () => {
    const fat = piecewiseLr({ base: 0.1, milestones: [58, 88, 108], factors: [0.1, 0.01, 0.005] });
    expect([0, 57, 58, 87, 88, 108, 119].map(fat)).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.01, 0.1 * 0.005, 0.1 * 0.005]);
    expect(() => piecewiseLr({ base: 0.1, milestones: [100, 82] })).toThrow(/milestones must be strictly increasing, got \[100, 82\]/);
    expect(() => piecewiseLr({ base: 0.1, milestones: [0] })).toThrow(/milestones\[0\] = 0: must be an integer >= 1/);
    expect(() => piecewiseLr({ base: 0, milestones: [] })).toThrow(/lr base = 0/);
    expect(() => piecewiseLr({ base: 0.1, milestones: [5], factors: [0.1, 0.01] })).toThrow(/2 factors for 1 milestones/);
    expect(() => new TorchSGD([], { lr: -1 })).toThrow(/lr = -1: must be a finite number > 0/);
  });
});
