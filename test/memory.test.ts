// Every public function leaves tf.memory().numTensors unchanged, apart from what it returns.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  basicBlock,
  BatchNorm2d,
  countTrainableParams,
  exportTorchStateDict,
  featureMapShape,
  fileSystem,
  globalPool,
  importTorchStateDict,
  Normalize,
  preActBlock,
  resnet18,
  resnetStage,
  Upsample,
  crossEntropy,
  cwLoss,
  dlrLoss,
  dlrTargetedLoss,
  isAdversarial,
  logitsOf,
  perturbationNorms,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rmc-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `fn` and returns how many tensors it left behind. */
async function leftBehind(fn: () => unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

describe('tensor accounting of the public functions', () => {
  const model = resnet18({ width: 1 / 16, seed: 1 });
  afterAll(() => model.dispose());

  it('inspection functions keep no tensors', async () => {
    expect(await leftBehind(() => featureMapShape(model))).toBe(0);
    expect(await leftBehind(() => countTrainableParams(model))).toBe(0);
  });

  it('exportTorchStateDict and importTorchStateDict keep no tensors and do not change the weight count', async () => {
    let dict = {} as ReturnType<typeof exportTorchStateDict>;
    expect(await leftBehind(() => (dict = exportTorchStateDict(model)))).toBe(0);
    expect(await leftBehind(() => importTorchStateDict(model, dict))).toBe(0);
    // A failing import leaves nothing behind either.
    const broken = { ...dict, 'fc.weight': { shape: [1, 1], data: [0] } };
    expect(await leftBehind(() => expect(() => importTorchStateDict(model, broken)).toThrow(/'fc\.weight' has shape \[1,1\]/))).toBe(0);
  });

  it('saving keeps no tensors; loading adds exactly the loaded weights', async () => {
    expect(await leftBehind(() => model.save(fileSystem(dir)))).toBe(0);
    let loaded: tfl.LayersModel | undefined;
    const added = await leftBehind(async () => (loaded = await tfl.loadLayersModel(fileSystem(dir))));
    expect(added).toBe(loaded!.weights.length);
    loaded!.dispose();
  });

  it('layers return exactly one tensor, also in training mode (BatchNorm2d updates its statistics in place)', async () => {
    const x = tf.randomUniform([2, 4, 4, 3], 0, 1, 'float32', 3);
    const bn = new BatchNorm2d();
    const normalize = new Normalize({ mean: [0.1, 0.2, 0.3], std: [1, 2, 3] });
    const upsample = new Upsample({ scale: 2, mode: 'bilinear' });
    // Building creates the batch norm's 4 weights once.
    expect(await leftBehind(() => tf.dispose(bn.apply(x) as tf.Tensor))).toBe(4);
    for (const layer of [bn, normalize, upsample]) {
      let out: tf.Tensor | undefined;
      expect(await leftBehind(() => (out = layer.apply(x, { training: true }) as tf.Tensor))).toBe(1);
      expect(await leftBehind(() => tf.dispose(out!))).toBe(-1);
    }
    bn.dispose();
    x.dispose();
  });

  it('building blocks create only their layers\' weights', async () => {
    const input = tfl.input({ shape: [8, 8, 4] });
    let out: tfl.SymbolicTensor | undefined;
    // basicBlock with projection: conv1, bn1 (4), conv2, bn2 (4), downsample conv, bn (4) = 15 weights.
    expect(await leftBehind(() => (out = basicBlock(input, { filters: 8, stride: 2, name: 'b', seed: 1 })))).toBe(15);
    // preActBlock with projection: bn1 (4), conv1, bn2 (4), conv2, shortcut conv = 11 weights.
    expect(await leftBehind(() => preActBlock(input, { filters: 8, stride: 2, name: 'p', seed: 1 }))).toBe(11);
    // Two identity basic blocks: 2 x (conv, bn, conv, bn) = 2 x 10 weights.
    expect(await leftBehind(() => resnetStage(out!, { block: 'basic', blocks: 2, filters: 8, name: 's' }))).toBe(20);
    expect(await leftBehind(() => globalPool(out!, 'max'))).toBe(0);
  });

  it('attack helpers return exactly one tensor', async () => {
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const y = tf.tensor1d([1, 2], 'int32');
    const logits = logitsOf(model, x);
    const targets = tf.tensor1d([3, 4], 'int32');
    const outputs: tf.Tensor[] = [];
    for (const fn of [
      () => logitsOf(model, x),
      () => crossEntropy(logits, y),
      () => cwLoss(logits, y),
      () => dlrLoss(logits, y),
      () => dlrTargetedLoss(logits, y, targets),
      () => isAdversarial(model, x, y),
      () => perturbationNorms(x, 'l2'),
      () => perturbationNorms(x, 'linf'),
      () => perturbationNorms(x, 'l1'),
    ]) {
      expect(await leftBehind(() => outputs.push(fn()))).toBe(1);
    }
    tf.dispose([x, y, logits, targets, ...outputs]);
  });
});

/**
 * The input gradient of `sum(model(x)^2)`, and how many data buffers are alive when the backward pass
 * starts (what the forward pass left for it: tfjs disposes the rest when the forward pass ends, the tape
 * keeps the tensors each node's gradient saves) and when it reaches the input (the gradients tfjs still
 * holds, with those tensors). tf.memory().numBytes would count views, such as reshapes, as if they held
 * data of their own, so buffers are counted.
 */
async function gradientWithSavedBuffers(model: tfl.LayersModel, x: tf.Tensor) {
  const counts = { buffersAtBackward: 0, buffersAtInput: 0 };
  const probe = (key: keyof typeof counts) =>
    tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.mul(args[0] as tf.Tensor, 1),
      gradFunc: (dy: tf.Tensor) => {
        counts[key] = tf.memory().numDataBuffers;
        return tf.mul(dy, 1);
      },
    }));
  const [atOutput, atInput] = [probe('buffersAtBackward'), probe('buffersAtInput')];
  const info = await tf.profile(() => tf.grad((xs: tf.Tensor) => tf.sum(tf.square(atOutput(model.apply(atInput(xs)) as tf.Tensor))))(x));
  // tf.profile hands back one shared record: read each run's figures before the next.
  const result = info.result as tf.Tensor;
  const figures = { ...counts, result: result.dataSync().slice(), kernels: info.kernels.map((k) => k.name) };
  result.dispose();
  return figures;
}

describe('a basic block keeps as few activations for its gradient as PyTorch does', () => {
  it('the tail relu(bn2 + shortcut) is one layer: bn2\'s output and the sum are never kept for the gradient', async () => {
    const blocks = 2;
    const input = tfl.input({ shape: [8, 8, 8] });
    const fused = tfl.model({ inputs: input, outputs: resnetStage(input, { block: 'basic', blocks, filters: 8, name: 's', seed: 5 }) });
    // The same weights with the tail as three layers (bn2 alone, add, relu): the layout before the fusion.
    const input2 = tfl.input({ shape: [8, 8, 8] });
    let h = input2;
    const apart: BatchNorm2d[] = [];
    for (let i = 0; i < blocks; i++) {
      let out = fused.getLayer(`s.${i}.conv1`).apply(h) as tfl.SymbolicTensor;
      out = fused.getLayer(`s.${i}.bn1`).apply(out) as tfl.SymbolicTensor;
      out = fused.getLayer(`s.${i}.conv2`).apply(out) as tfl.SymbolicTensor;
      const bn2 = new BatchNorm2d({ name: `bn2-${i}` });
      apart.push(bn2);
      out = bn2.apply(out) as tfl.SymbolicTensor;
      bn2.setWeights(fused.getLayer(`s.${i}.bn2`).getWeights());
      out = tfl.layers.add().apply([out, h]) as tfl.SymbolicTensor;
      h = tfl.layers.reLU().apply(out) as tfl.SymbolicTensor;
    }
    const unfused = tfl.model({ inputs: input2, outputs: h });
    expect(fused.layers.map((l) => l.getClassName())).not.toContain('Add');
    const x = tf.randomUniform([4, 8, 8, 8], -1, 1, 'float32', 6);
    const a = await gradientWithSavedBuffers(fused, x);
    const b = await gradientWithSavedBuffers(unfused, x);
    expect(a.kernels).toContain('RmcBatchNormResidualInference');
    expect(a.kernels).not.toContain('Relu');
    expect(b.kernels).toContain('Relu');
    expect(Math.max(...a.result.map((v, i) => Math.abs(v - b.result[i]!)))).toBeLessThan(1e-4);
    // PyTorch's 4 activations per block (conv1, bn1 + ReLU, conv2, the block's output). The three-layer
    // tail keeps bn2's output as well (Add saves both its inputs); with tfjs's own Relu gradient, which
    // saves Relu's input, it would keep the sum too (test/native-kernels.test.ts checks that one).
    expect(b.buffersAtBackward - a.buffersAtBackward).toBe(blocks);
    // When the gradient reaches the input, one more per block: the tail hands its masked gradient to the
    // shortcut, and tfjs disposes it when it adds it to the gradient through conv1 (the three-layer
    // tail's Relu gradient stays to the end).
    expect(b.buffersAtInput - a.buffersAtInput).toBe(2 * blocks);
    x.dispose();
    fused.dispose();
    apart.forEach((layer) => layer.dispose());
  });
});

describe('a pre-activation block keeps nothing of its residual sum for the gradient', () => {
  it('ResidualAdd: the same sum and gradient as tfjs-layers\' add, without keeping the branch\'s last convolution output', async () => {
    const blocks = 2;
    const input = tfl.input({ shape: [8, 8, 8] });
    const ours = tfl.model({ inputs: input, outputs: resnetStage(input, { block: 'preact', blocks, filters: 8, name: 'p', seed: 7 }) });
    // The same layers with tfjs-layers' add, whose gradient (tfjs's Add) saves both inputs.
    const input2 = tfl.input({ shape: [8, 8, 8] });
    let h = input2;
    for (let i = 0; i < blocks; i++) {
      let out = ours.getLayer(`p.${i}.bn1`).apply(h) as tfl.SymbolicTensor;
      out = ours.getLayer(`p.${i}.conv1`).apply(out) as tfl.SymbolicTensor;
      out = ours.getLayer(`p.${i}.bn2`).apply(out) as tfl.SymbolicTensor;
      out = ours.getLayer(`p.${i}.conv2`).apply(out) as tfl.SymbolicTensor;
      h = tfl.layers.add().apply([out, h]) as tfl.SymbolicTensor;
    }
    const stock = tfl.model({ inputs: input2, outputs: h });
    expect(ours.getLayer('p.0.add').getClassName()).toBe('ResidualAdd');
    const x = tf.randomUniform([4, 8, 8, 8], -1, 1, 'float32', 8);
    const a = await gradientWithSavedBuffers(ours, x);
    const b = await gradientWithSavedBuffers(stock, x);
    expect(Array.from(a.result)).toEqual(Array.from(b.result));
    // conv2's output, which only Add's gradient kept, once per block.
    expect(b.buffersAtBackward - a.buffersAtBackward).toBe(blocks);
    x.dispose();
    ours.dispose();
  });
});
