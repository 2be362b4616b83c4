// Resuming is for the same run only: a checkpoint records every setting that shapes the model or the
// data order and a resume with any difference is refused (before a weight is touched), listing each
// one; the history of every epoch survives resumes; a best checkpoint without a latest one is ignored.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, ioCheckpoints, ResumeMismatchError, resnet18, type AdversarialTrainOptions, type CheckpointSlot, type ModelOptions } from '../src/index.js';
import { VERSION } from '../src/version.js';
import { syntheticData } from './helpers/small-cnn.js';

const root = mkdtempSync(join(tmpdir(), 'rmc-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const train = syntheticData(160, 11);
const other = syntheticData(160, 13);
const test = syntheticData(40, 12);
afterAll(() => tf.dispose([train.x, train.y, other.x, other.y, test.x, test.y]));

const small = (options: ModelOptions = {}) => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed: 4, ...options });
/** The model's weights as one string (NaN and infinities spelled out): equal strings, equal weights; a cheap report when not. */
const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync(), String).join()).join(';');
const base: AdversarialTrainOptions = {
  defense: 'standard', epochs: 1, batchSize: 80, lr: { base: 0.05, milestones: [] }, seed: 0, runSettings: { dataset: 'synthetic' },
};

describe('resume checks that the checkpoint is of the same run', () => {
  const dir = join(root, 'identity');
  const trained = async () => {
    const model = small();
    await adversarialTrain(model, train, { ...base, checkpoints: dir });
    model.dispose();
  };

  it.each([
    ['defense', {}, { defense: 'at' as const, attackSteps: 1 }, /defense: 'standard' \(checkpoint\) vs 'at' \(this run\)/],
    ['seed', {}, { seed: 1 }, /seed: 0 \(checkpoint\) vs 1 \(this run\)/],
    ['batch size', {}, { batchSize: 40 }, /batchSize: 80 \(checkpoint\) vs 40 \(this run\)/],
    ['augmentation', {}, { augment: false }, /augment: true \(checkpoint\) vs false \(this run\)/],
    ['lr schedule', {}, { lr: { base: 0.1, milestones: [] } }, /lr: '\{"base":0\.05,"milestones":\[\]\}' \(checkpoint\) vs '\{"base":0\.1,"milestones":\[\]\}' \(this run\)/],
    ['weight decay', {}, { weightDecay: 0.01 }, /weightDecay: 0\.0002 \(checkpoint\) vs 0\.01 \(this run\)/],
    ['momentum', {}, { momentum: 0.5 }, /momentum: 0\.9 \(checkpoint\) vs 0\.5 \(this run\)/],
    ['strides', { strides: '1-1-2-2' }, {}, /model\.name: 'resnet18_1-2-2-2' \(checkpoint\) vs 'resnet18_1-1-2-2' \(this run\); model\.topology: '[0-9a-f]{16}' \(checkpoint\) vs '[0-9a-f]{16}' \(this run\)/],
    ['pooling', { pooling: 'max' as const }, {}, /model\.topology: '[0-9a-f]{16}' \(checkpoint\) vs '[0-9a-f]{16}' \(this run\)/],
    ['width', { width: 1 / 8 }, {}, /model\.parameters: \d+ \(checkpoint\) vs \d+ \(this run\); model\.topology/],
    ['upsampling', { upsample: { scale: 2 } }, {}, /model\.topology: /],
    ['classes', { numClasses: 12 }, {}, /model\.classes: 10 \(checkpoint\) vs 12 \(this run\)/],
    ['normalisation', { normalize: false as const }, {}, /model\.topology: /],
    ['data', {}, { data: other }, /data\.checksum: '[0-9a-f]{16}' \(checkpoint\) vs '[0-9a-f]{16}' \(this run\)/],
    ['subset', {}, { data: 'subset' as const }, /data\.images: 160 \(checkpoint\) vs 80 \(this run\); data\.checksum/],
    ['caller settings', {}, { runSettings: { dataset: 'cifar10' } }, /dataset: 'synthetic' \(checkpoint\) vs 'cifar10' \(this run\)/],
  ] as Array<[string, ModelOptions, Partial<AdversarialTrainOptions> & { data?: typeof other | 'subset' }, RegExp]>)(
    'a different %s is refused, naming the setting with both values, before any weight is written',
    async (_, modelOptions, change, message) => {
      await trained();
      const model = small({ seed: 77, ...modelOptions });
      const before = weights(model);
      const { data: which, ...options } = change;
      const data = which === 'subset' ? { x: tf.slice(train.x, 0, 80), y: tf.slice(train.y, 0, 80) } : (which ?? train);
      const count = tf.memory().numTensors;
      const run = adversarialTrain(model, data, { ...base, ...options, epochs: 2, checkpoints: dir, resume: true });
      await expect(run).rejects.toThrow(ResumeMismatchError);
      await expect(run).rejects.toThrow(message);
      await expect(run).rejects.toThrow(/resume with the checkpoint's settings, or to train with these settings, start a fresh run in another checkpoint location/);
      expect(tf.memory().numTensors).toBe(count);
      expect(weights(model) === before).toBe(true);
      if (which === 'subset') tf.dispose([data.x, data.y as tf.Tensor]);
      model.dispose();
    },
  );

  it('lists every differing setting, and the same settings with more epochs resume', async () => {
    await trained();
    const model = small({ seed: 77 });
    const error = await adversarialTrain(model, train, { ...base, epochs: 2, seed: 3, batchSize: 40, checkpoints: dir, resume: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResumeMismatchError);
    expect((error as ResumeMismatchError).differences).toEqual([
      { setting: 'seed', checkpoint: 0, run: 3 },
      { setting: 'batchSize', checkpoint: 80, run: 40 },
    ]);
    const result = await adversarialTrain(model, train, { ...base, epochs: 2, checkpoints: dir, resume: true });
    expect(result.startEpoch).toBe(1);
    model.dispose();
  });

  it('a checkpoint of another package version is refused', async () => {
    await trained();
    for (const slot of ['epoch-1']) {
      const file = join(dir, slot, 'state.json');
      const state = JSON.parse(readFileSync(file, 'utf8'));
      state.run.version = '0.0.1';
      writeFileSync(file, JSON.stringify(state));
    }
    const model = small();
    await expect(adversarialTrain(model, train, { ...base, epochs: 2, checkpoints: dir, resume: true }))
      .rejects.toThrow(new RegExp(`version: '0\\.0\\.1' \\(checkpoint\\) vs '${VERSION.replace(/\./g, '\\.')}' \\(this run\\)`));
    model.dispose();
  });

  it('a checkpoint without recorded settings (0.1.0) is refused with what to do', async () => {
    await trained();
    const file = join(dir, 'epoch-1', 'state.json');
    const { run: _run, history: _history, ...old } = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify(old));
    const model = small();
    const before = weights(model);
    await expect(adversarialTrain(model, train, { ...base, epochs: 2, checkpoints: dir, resume: true }))
      .rejects.toThrow(/records no run settings \(written by rmc-robust 0\.1\.0 or earlier\), so resuming cannot check that this is the same run; finish it with the version that started it, or to train with these settings, start a fresh run/);
    expect(weights(model) === before).toBe(true);
    model.dispose();
  });

  it('an IO-handler store refuses another run too', async () => {
    const saved = new Map<CheckpointSlot, tf.io.ModelArtifacts>();
    const store = ioCheckpoints((slot, mode) =>
      mode === 'load'
        ? saved.has(slot) ? { load: async () => structuredClone(saved.get(slot)!) } : null
        : { save: async (a) => (saved.set(slot, structuredClone(a)), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) },
    );
    const model = small();
    await adversarialTrain(model, train, { ...base, checkpoints: store });
    const wider = small({ width: 1 / 8 });
    await expect(adversarialTrain(wider, train, { ...base, epochs: 2, checkpoints: store, resume: true })).rejects.toThrow(/model\.parameters: \d+ \(checkpoint\) vs \d+ \(this run\)/);
    [model, wider].forEach((m) => m.dispose());
  });
});

describe('history survives resume', () => {
  const options: AdversarialTrainOptions = { ...base, validation: { x: test.x, y: test.y, steps: 1, eps: 2 / 255 } };

  it('a resumed run reports every epoch, and resuming a finished run reports its whole history', async () => {
    const full = small();
    const reference = await adversarialTrain(full, train, { ...options, epochs: 3 });
    expect(reference.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    const dir = join(root, 'history');
    const partial = small();
    await adversarialTrain(partial, train, { ...options, epochs: 2, checkpoints: dir });
    const resumed = small({ seed: 77 });
    const resumes: number[] = [];
    const result = await adversarialTrain(resumed, train, { ...options, epochs: 3, checkpoints: dir, resume: true, onResume: ({ epoch }) => void resumes.push(epoch) });
    expect(result.startEpoch).toBe(2);
    expect(resumes).toEqual([2]);
    expect(result.epochs).toEqual(reference.epochs);
    expect(result.best).toEqual(reference.best);
    const again = small({ seed: 78 });
    const finished = await adversarialTrain(again, train, { ...options, epochs: 3, checkpoints: dir, resume: true });
    expect(finished.startEpoch).toBe(3);
    expect(finished.epochs).toEqual(reference.epochs);
    expect(finished.best).toEqual(reference.best);
    expect(weights(again) === weights(full)).toBe(true);
    [full, partial, resumed, again].forEach((m) => m.dispose());
  });
});

describe('best and latest', () => {
  it('a best checkpoint without a latest one (a crash between the first epoch\'s two saves) is ignored: the run starts afresh', async () => {
    const options: AdversarialTrainOptions = { ...base, validation: { x: test.x, y: test.y, steps: 1 }, restoreBest: false };
    const fresh = small();
    await adversarialTrain(fresh, train, options);
    const dir = join(root, 'best-only');
    const crashed = small();
    await adversarialTrain(crashed, train, { ...options, checkpoints: dir });
    // What a crash after the best checkpoint and before the latest one leaves.
    rmSync(join(dir, 'latest.json'));
    rmSync(join(dir, 'epoch-1'), { recursive: true });
    const resumed = small();
    const resumes: number[] = [];
    const result = await adversarialTrain(resumed, train, { ...options, checkpoints: dir, resume: true, onResume: ({ epoch }) => void resumes.push(epoch) });
    expect(result.startEpoch).toBe(0);
    expect(resumes, 'nothing to resume from: no call').toEqual([]);
    expect(weights(resumed) === weights(fresh)).toBe(true);
    [fresh, crashed, resumed].forEach((m) => m.dispose());
  });
});
