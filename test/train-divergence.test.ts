// A diverging run stops at the first non-finite loss or weight with the epoch and batch, never
// validates, keeps as best or checkpoints NaN weights.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, loadCheckpoint, resnet18, TrainingDivergedError, type AdversarialTrainOptions, type EpochInfo } from '../src/index.js';
import { syntheticData } from './helpers/small-cnn.js';

const root = mkdtempSync(join(tmpdir(), 'rmc-diverge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const train = syntheticData(160, 11);
const test = syntheticData(40, 12);
afterAll(() => tf.dispose([train.x, train.y, test.x, test.y]));

const small = () => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed: 4 });
const validation = { x: test.x, y: test.y, steps: 1 };

describe('divergence', () => {
  it('a non-finite loss stops training at its epoch and batch, before its step, with nothing checkpointed', async () => {
    const model = small();
    const dir = join(root, 'loss');
    const trainable = () => model.trainableWeights.map((w) => Array.from(w.read().dataSync(), String).join()).join(';');
    const count = tf.memory().numTensors;
    // The first step with lr 1e300 makes the weights infinite: the second batch's loss is NaN.
    let afterFirstStep = '';
    const run = adversarialTrain(model, train, {
      defense: 'standard', epochs: 2, batchSize: 40, lr: { base: 1e300, milestones: [] }, checkpoints: dir, validation,
      onBatchEnd: (b) => void (b.batch === 0 && (afterFirstStep = trainable())),
    });
    await expect(run).rejects.toThrow(TrainingDivergedError);
    await expect(run).rejects.toThrow(
      new RegExp(`^training diverged at epoch 1, batch 2 of 4: the loss is (NaN|Infinity|-Infinity); no checkpoint was written in ${dir} \\(no epoch completed\\); lower the learning rate \\(it was 1e\\+300\\)$`),
    );
    const error = (await run.catch((e: unknown) => e)) as TrainingDivergedError;
    expect([error.epoch, error.batch, error.lastCheckpointEpoch]).toEqual([0, 1, 0]);
    // No step with the non-finite loss's gradients: the trainable weights are those that produced it
    // (infinite after the first step; NaN after a second one).
    expect(afterFirstStep).toMatch(/Infinity/);
    expect(trainable() === afterFirstStep).toBe(true);
    expect(tf.memory().numTensors).toBe(count);
    expect(existsSync(join(dir, 'latest.json'))).toBe(false);
    expect(existsSync(join(dir, 'best.json'))).toBe(false);
    model.dispose();
  });

  it('a non-finite weight after an epoch stops training before validation: the last good checkpoint stays latest and best', async () => {
    const model = small();
    const dir = join(root, 'weights');
    const epochs: EpochInfo[] = [];
    const count = tf.memory().numTensors;
    // One batch per epoch; epoch 2's rate is 1e300, so its one step leaves infinite weights behind a finite loss.
    const options: AdversarialTrainOptions = {
      defense: 'standard', epochs: 3, batchSize: 160, lr: { base: 0.01, milestones: [1], factors: [1e302] }, checkpoints: dir, validation,
      onEpochEnd: (e) => void epochs.push(e),
    };
    const run = adversarialTrain(model, train, options);
    await expect(run).rejects.toThrow(
      new RegExp(`^training diverged at epoch 2 \\(checked after its last batch\\): weight \\S+ is not finite; last good checkpoint: epoch 1 in ${dir}; lower the learning rate \\(it was 1e\\+300\\)$`),
    );
    expect(tf.memory().numTensors).toBe(count);
    expect(epochs.map((e) => e.epoch)).toEqual([0]);
    expect(readdirSync(dir).sort()).toEqual(['best-1', 'best.json', 'epoch-1', 'latest.json']);
    expect(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')).epoch).toBe(1);
    const check = small();
    for (const pointer of ['latest.json', 'best.json']) {
      const loaded = await loadCheckpoint(dir, check, pointer);
      expect(loaded!.state.epoch).toBe(1);
      expect(check.getWeights().every((w) => w.dataSync().every(Number.isFinite))).toBe(true);
    }
    [model, check].forEach((m) => m.dispose());
  });

  it('without checkpoints the message says none were kept', async () => {
    const model = small();
    await expect(adversarialTrain(model, train, { defense: 'standard', epochs: 1, batchSize: 160, lr: { base: 1e300, milestones: [] } }))
      .rejects.toThrow(/^training diverged at epoch 1 \(checked after its last batch\): weight \S+ is not finite; no checkpoints were kept; lower the learning rate/);
    model.dispose();
  });
});
