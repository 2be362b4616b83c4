// The adversarial trainer: short seeded runs, resume, AWP, checkpoints, errors, leaks.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, awpPerturb, imagesToTensor, loadCifar10Sample, pgd, resnet18, TorchSGD, type Defense } from '../src/index.js';
import { syntheticData } from './helpers/small-cnn.js';

const root = mkdtempSync(join(tmpdir(), 'rmc-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const train = syntheticData(160, 11);
const test = syntheticData(100, 12);
afterAll(() => tf.dispose([train.x, train.y, test.x, test.y]));

const small = (seed = 1) => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed });

function accuracies(model: tfl.LayersModel, eps: number) {
  const adv = pgd(model, test.x, test.y, { eps, steps: 10, relStepSize: 0.25, seed: 5 });
  const acc = (images: tf.Tensor4D) => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(images) as tf.Tensor, 1), test.y), 'float32')).dataSync()[0]!);
  const result = { clean: acc(test.x), robust: acc(adv) };
  adv.dispose();
  return result;
}

describe('adversarialTrain', () => {
  it.each(['at', 'trades'] as Defense[])('%s: a short seeded run raises clean and PGD accuracy', async (defense) => {
    const eps = 4 / 255;
    const model = small();
    const before = accuracies(model, eps);
    const count = tf.memory().numTensors;
    const result = await adversarialTrain(model, train, {
      defense,
      epochs: 4,
      batchSize: 32,
      eps,
      attackSteps: 3,
      attackStepSize: 2 / 255,
      lr: { base: 0.05, milestones: [3], gamma: 0.1 },
      augment: false,
      seed: 3,
    });
    expect(tf.memory().numTensors).toBe(count);
    const after = accuracies(model, eps);
    expect(result.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    expect(result.epochs.map((e) => e.lr)).toEqual([0.05, 0.05, 0.05, 0.05 * 0.1]);
    expect(after.clean).toBeGreaterThan(before.clean + 0.2);
    expect(after.robust).toBeGreaterThan(before.robust + 0.1);
    model.dispose();
  });

  it('training from uint8 CIFAR records equals training from the float tensor (batches cut on the fly)', async () => {
    const split = await loadCifar10Sample('train');
    const count = 96;
    const records = { images: split.images.subarray(0, count * 3072), labels: split.labels.subarray(0, count), count };
    const floats = { x: imagesToTensor(split, 0, count), y: Array.from(split.labels.subarray(0, count)) };
    const options = { defense: 'at' as const, epochs: 1, batchSize: 32, eps: 4 / 255, attackSteps: 2, attackStepSize: 2 / 255, seed: 5 };
    const [a, b] = [resnet18({ width: 1 / 16, seed: 8 }), resnet18({ width: 1 / 16, seed: 8 })];
    await adversarialTrain(a, records, options);
    await adversarialTrain(b, floats, options);
    expect(a.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(b.getWeights().map((w) => Array.from(w.dataSync())));
    tf.dispose(floats.x);
    [a, b].forEach((m) => m.dispose());
  });

  it('resume after epoch k ends with the same weights as the uninterrupted run', async () => {
    const options = {
      defense: 'at' as const, batchSize: 40, eps: 4 / 255, attackSteps: 2, attackStepSize: 2 / 255,
      lr: { base: 0.05, milestones: [2], gamma: 0.1 }, seed: 9, validation: { x: test.x, y: test.y, steps: 2 },
    };
    const full = small(4);
    await adversarialTrain(full, train, { ...options, epochs: 3, checkpointDir: join(root, 'full') });
    const partial = small(4);
    await adversarialTrain(partial, train, { ...options, epochs: 1, checkpointDir: join(root, 'resume'), restoreBest: false });
    const resumed = small(77); // other initial weights: everything must come from the checkpoint
    const result = await adversarialTrain(resumed, train, { ...options, epochs: 3, checkpointDir: join(root, 'resume'), resume: true });
    expect(result.startEpoch).toBe(1);
    // Both runs restored their best validated weights at the end; compare the last epoch's too.
    const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(resumed)).toEqual(weights(full));
    // Checkpoints: only the last epoch's is kept, the pointer names it, nothing half-written remains.
    const entries = readdirSync(join(root, 'resume')).sort();
    const bestName = `best-${result.best!.epoch + 1}`;
    expect(entries).toEqual([bestName, 'best.json', 'epoch-3', 'latest.json'].sort());
    expect(JSON.parse(readFileSync(join(root, 'resume', 'latest.json'), 'utf8'))).toEqual({ checkpoint: 'epoch-3', epoch: 3 });
    expect(JSON.parse(readFileSync(join(root, 'resume', 'best.json'), 'utf8'))).toEqual({ checkpoint: bestName, epoch: result.best!.epoch + 1 });
    [full, partial, resumed].forEach((m) => m.dispose());
  });

  it('resume refuses a checkpoint of another defense or seed, and reports a corrupt pointer', async () => {
    const dir = join(root, 'resume');
    const model = small(4);
    await expect(adversarialTrain(model, train, { defense: 'trades', epochs: 4, checkpointDir: dir, resume: true, seed: 9 })).rejects.toThrow(/is of a different run: defense: 'at' \(checkpoint\) vs 'trades' \(this run\)/);
    await expect(adversarialTrain(model, train, { defense: 'at', epochs: 4, checkpointDir: dir, resume: true, seed: 1 })).rejects.toThrow(/is of a different run: seed: 9 \(checkpoint\) vs 1 \(this run\)/);
    const broken = join(root, 'broken');
    rmSync(broken, { recursive: true, force: true });
    await adversarialTrain(model, train, { defense: 'standard', epochs: 1, batchSize: 80, checkpointDir: broken });
    writeFileSync(join(broken, 'latest.json'), '{"checkpoint": ');
    await expect(adversarialTrain(model, train, { defense: 'standard', epochs: 2, checkpointDir: broken, resume: true })).rejects.toThrow(/cannot read .*latest\.json/);
    expect(existsSync(join(broken, 'epoch-1', 'model.json'))).toBe(true);
    model.dispose();
  });

  it('rejects bad options with clear errors', async () => {
    const model = small();
    await expect(adversarialTrain(model, train, { defense: 'free' as never, epochs: 1 })).rejects.toThrow(/defense = "free": accepted values are 'standard', 'at', 'alp', 'trades', 'mart', 'fat', 'fat-trades', 'awp-at', 'awp-trades'/);
    await expect(adversarialTrain(model, train, { defense: 'trades', epochs: 1, beta: -1 })).rejects.toThrow(/beta = -1: must be a finite number >= 0/);
    await expect(adversarialTrain(model, train, { defense: 'at', epochs: 1, lr: { base: 0.1, milestones: [100, 50] } })).rejects.toThrow(/milestones must be strictly increasing/);
    await expect(adversarialTrain(model, train, { defense: 'at', epochs: 0 })).rejects.toThrow(/epochs = 0: must be an integer >= 1/);
    await expect(adversarialTrain(model, train, { defense: 'at', epochs: 1, resume: true })).rejects.toThrow(/resume: needs checkpoints \(or checkpointDir\)/);
    await expect(adversarialTrain(model, { x: train.x, y: Array(160).fill(12) }, { defense: 'at', epochs: 1 })).rejects.toThrow(/data\.y\[0\] = 12: labels must be integers in \[0, 9\]/);
    model.dispose();
  });

  it.each(['alp', 'mart', 'fat', 'fat-trades', 'awp-at', 'awp-trades'] as Defense[])('%s runs an epoch without leaking tensors', async (defense) => {
    const model = small(2);
    const count = tf.memory().numTensors;
    const losses: number[] = [];
    await adversarialTrain(model, train, { defense, epochs: 1, batchSize: 80, attackSteps: 2, onBatchEnd: (b) => losses.push(b.loss) });
    expect(tf.memory().numTensors).toBe(count);
    expect(losses.length).toBe(2);
    losses.forEach((l) => expect(Number.isFinite(l)).toBe(true));
    model.dispose();
  });
});

describe('AWP', () => {
  // Two dense layers without biases: f(x) = W2 relu(W1 x).
  const build = () => {
    const input = tfl.input({ shape: [2] });
    const h = tfl.layers.dense({ units: 2, useBias: false, activation: 'relu', kernelInitializer: 'zeros' }).apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, useBias: false, kernelInitializer: 'zeros' }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    model.setWeights([tf.tensor2d([[1, 2], [0.5, -1]]), tf.tensor2d([[1, -1], [2, 0.5]])]);
    return model;
  };
  const x = tf.tensor2d([[1, 1]]);
  const target = tf.tensor2d([[0, 1]]);
  const loss = (model: tfl.LayersModel) => () => tf.sum(tf.square(tf.sub(model.apply(x) as tf.Tensor, target))) as tf.Scalar;

  it('without a step the perturbation is gone exactly', () => {
    const model = build();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const handle = awpPerturb(model, loss(model), { gamma: 0.01 });
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).not.toEqual(before);
    handle.restore();
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
  });

  it('matches a hand computation of the perturbed gradient step', () => {
    // By hand (kernels are [in, out]): x = [1, 1]; W1 = [[1, 2], [0.5, -1]] -> h = relu([1.5, 1]) = [1.5, 1];
    // W2 = [[1, -1], [2, 0.5]] -> y = [1.5 + 2, -1.5 + 0.5] = [3.5, -1]; L = sum (y - t)^2, t = [0, 1].
    // dL/dy = 2 (y - t) = [7, -4]; dL/dW2 = h^T dy = [[10.5, -6], [7, -4]];
    // dL/dh = dy W2^T = [7 - (-4)... ] = [7 * 1 + (-4) * (-1), 7 * 2 + (-4) * 0.5] = [11, 12]; both active;
    // dL/dW1 = x^T dh = [[11, 12], [11, 12]].
    const w1 = [1, 2, 0.5, -1];
    const w2 = [1, -1, 2, 0.5];
    const g1 = [11, 12, 11, 12];
    const g2 = [10.5, -6, 7, -4];
    const norm = (v: number[]) => Math.hypot(...v);
    const gamma = 0.01;
    // v = ||w|| / ||0.01 g|| * 0.01 g; perturbation gamma * v.
    const perturbed = (w: number[], g: number[]) => w.map((wi, i) => wi + gamma * (norm(w) / norm(g.map((x) => 0.01 * x))) * 0.01 * g[i]!);
    const p1 = perturbed(w1, g1);
    const p2 = perturbed(w2, g2);
    // Gradient at the perturbed point, by hand from the same formulas.
    const h = [Math.max(0, p1[0]! + p1[2]!), Math.max(0, p1[1]! + p1[3]!)];
    const y = [h[0]! * p2[0]! + h[1]! * p2[2]!, h[0]! * p2[1]! + h[1]! * p2[3]!];
    const dy = [2 * y[0]!, 2 * (y[1]! - 1)];
    const gp2 = [h[0]! * dy[0]!, h[0]! * dy[1]!, h[1]! * dy[0]!, h[1]! * dy[1]!];
    const dh = [dy[0]! * p2[0]! + dy[1]! * p2[1]!, dy[0]! * p2[2]! + dy[1]! * p2[3]!].map((v, i) => (h[i]! > 0 ? v : 0));
    const gp1 = [dh[0]!, dh[1]!, dh[0]!, dh[1]!];
    const lr = 0.1;
    const model = build();
    const handle = awpPerturb(model, loss(model), { gamma });
    expect(maxDiff(Array.from(model.getWeights()[0]!.dataSync()), p1)).toBeLessThan(1e-5);
    const sgd = new TorchSGD(model.trainableWeights, { lr, momentum: 0 });
    const { value, grads } = tf.variableGrads(loss(model), model.trainableWeights.map((w) => w.read() as tf.Variable));
    sgd.step(model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]!));
    handle.restore();
    // Final weights: the original ones moved by the step taken at the perturbed point.
    expect(maxDiff(Array.from(model.getWeights()[0]!.dataSync()), w1.map((w, i) => w - lr * gp1[i]!))).toBeLessThan(1e-5);
    expect(maxDiff(Array.from(model.getWeights()[1]!.dataSync()), w2.map((w, i) => w - lr * gp2[i]!))).toBeLessThan(1e-5);
    tf.dispose([value, ...Object.values(grads)]);
    sgd.dispose();
  });
});

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}
