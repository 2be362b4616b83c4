// Checkpoints through tfjs IO handlers (the browser's indexeddb:// and custom handlers): one artifact per
// slot holding weights, optimizer buffers and training state; exact resume; clear errors.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, checkpointStore, ioCheckpoints, resnet18, type CheckpointSlot } from '../src/index.js';
import { syntheticData } from './helpers/small-cnn.js';

const train = syntheticData(160, 11);
const test = syntheticData(60, 12);
afterAll(() => tf.dispose([train.x, train.y, test.x, test.y]));

const small = (seed = 1) => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed });
const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** An in-memory IO handler per slot, as a user's custom handler (an upload, a database) would be. */
function memoryHandlers() {
  const saved = new Map<CheckpointSlot, tf.io.ModelArtifacts>();
  const factory = (slot: CheckpointSlot, mode: 'save' | 'load'): tf.io.IOHandler | null => {
    if (mode === 'load') {
      const artifacts = saved.get(slot);
      return artifacts ? { load: async () => structuredClone(artifacts) } : null;
    }
    return {
      save: async (artifacts: tf.io.ModelArtifacts) => {
        saved.set(slot, structuredClone(artifacts));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    };
  };
  return { saved, factory };
}

describe('ioCheckpoints', () => {
  it('resume from a custom IO handler ends with the same weights as the uninterrupted run', async () => {
    const options = {
      defense: 'at' as const, batchSize: 40, eps: 4 / 255, attackSteps: 2, attackStepSize: 2 / 255,
      lr: { base: 0.05, milestones: [2], gamma: 0.1 }, seed: 9, validation: { x: test.x, y: test.y, steps: 2 },
    };
    const full = small(4);
    await adversarialTrain(full, train, { ...options, epochs: 3 });
    const memory = memoryHandlers();
    const partial = small(4);
    await adversarialTrain(partial, train, { ...options, epochs: 1, checkpoints: ioCheckpoints(memory.factory), restoreBest: false });
    expect([...memory.saved.keys()].sort()).toEqual(['best', 'latest']);
    const latest = memory.saved.get('latest')!;
    expect(latest.userDefinedMetadata?.['rmcTraining']).toMatchObject({ format: 1, state: { epoch: 1, seed: 9, defense: 'at' } });
    // The momentum buffers travel as extra weights next to the model's.
    expect(latest.weightSpecs!.filter((s) => s.name.startsWith('rmc_optimizer/')).length).toBe(partial.trainableWeights.length);
    const count = tf.memory().numTensors;
    const resumed = small(77); // other initial weights: everything must come from the checkpoint
    const created = tf.memory().numTensors - count;
    const result = await adversarialTrain(resumed, train, { ...options, epochs: 3, checkpoints: ioCheckpoints(memory.factory), resume: true });
    expect(result.startEpoch).toBe(1);
    expect(weights(resumed)).toEqual(weights(full));
    expect(tf.memory().numTensors - count).toBe(created);
    [full, partial, resumed].forEach((m) => m.dispose());
  });

  it('a slot with no checkpoint starts from scratch; a foreign artifact or another architecture is refused by name', async () => {
    const memory = memoryHandlers();
    const store = ioCheckpoints(memory.factory);
    const model = small(1);
    expect(await store.load('latest', model)).toBeNull();
    await store.save('latest', model, { steps: 3, buffers: model.trainableWeights.map(() => null) }, { epoch: 2, seed: 0, best: null, defense: 'trades' });
    const loaded = await store.load('latest', small(2));
    expect(loaded?.state).toEqual({ epoch: 2, seed: 0, best: null, defense: 'trades' });
    expect(loaded?.optimizer.steps).toBe(3);
    const wider = resnet18({ width: 1 / 8, inputShape: [8, 8, 3], seed: 1 });
    await expect(store.load('latest', wider)).rejects.toThrow(/does not fit the model: .* has shape \[3,3,3,4\] in the checkpoint, \[3,3,3,8\] in the model/);
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      memory.saved.set('best', artifacts);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    await expect(store.load('best', model)).rejects.toThrow(/slot 'best' is not an rmc-robust training checkpoint/);
    [model, wider].forEach((m) => m.dispose());
  });

  it('checkpointStore picks the store from the location and explains what is missing', () => {
    expect(checkpointStore('indexeddb://run-1').location).toBe('indexeddb://run-1');
    expect(checkpointStore('./runs/a').location).toBe('./runs/a');
    expect(checkpointStore('file://./runs/a').location).toBe('./runs/a');
    const custom = ioCheckpoints(memoryHandlers().factory);
    expect(checkpointStore(custom)).toBe(custom);
    expect(() => checkpointStore('' as string)).toThrow(/checkpoints: expected a directory, a tfjs URL/);
  });

  it('a URL with no tfjs handler (indexeddb:// outside a browser) fails on save with the URL', async () => {
    const model = small(1);
    await expect(ioCheckpoints('nosuchscheme://run').save('latest', model, { steps: 0, buffers: [] }, { epoch: 1, seed: 0, best: null, defense: 'at' }))
      .rejects.toThrow(/tfjs has no IO handler for nosuchscheme:\/\/run\/latest/);
    model.dispose();
  });
});
