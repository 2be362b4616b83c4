// Directory checkpoints under crashes and I/O errors. A crash can stop the process between any two file
// operations: the tests copy the checkpoint directory before every writeFile, rename, rm and mkdir of
// a run (each copy is the directory a kill at that instant leaves) and resume from every copy. I/O
// errors are injected into the same operations (ENOSPC with a half-written file, EIO on rename).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adversarialTrain, fileSystem, loadCheckpoint, resnet18, saveCheckpoint, type AdversarialTrainOptions, type TrainResult } from '../src/index.js';
import { interceptFileOps, noSpace, type FileOp } from './helpers/file-ops.js';
import { syntheticData } from './helpers/small-cnn.js';

const root = mkdtempSync(join(tmpdir(), 'rmc-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const train = syntheticData(64, 11);
const test = syntheticData(32, 12);
afterAll(() => tf.dispose([train.x, train.y, test.x, test.y]));

const small = (seed = 4) => resnet18({ width: 1 / 16, inputShape: [8, 8, 3], seed });
/** The model's weights as one string (NaN and infinities spelled out): equal strings, equal weights; a cheap report when not. */
const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync(), String).join()).join(';');
const options: AdversarialTrainOptions = {
  defense: 'standard', epochs: 2, batchSize: 32, lr: { base: 0.05, milestones: [] }, seed: 2, augment: false,
  validation: { x: test.x, y: test.y, steps: 1, eps: 1 / 255 },
};

/**
 * Runs `action` with a copy of `dir` taken before each file operation on it; returns the copies.
 * Operations inside a checkpoint's temporary directory change nothing a load reads: of those only the
 * two around its last file (state.json) are kept, with the directory nearly complete.
 */
async function snapshotsOf(dir: string, into: string, action: () => Promise<unknown>): Promise<Array<{ op: FileOp; path: string; copy: string }>> {
  const taken: Array<{ op: FileOp; path: string; copy: string }> = [];
  const restore = interceptFileOps((op, path) => {
    if (!path.startsWith(dir)) return;
    const inside = path.slice(dir.length + 1);
    if (inside.includes('/') && !/\/state\.json\.tmp-[^/]+$/.test(inside)) return;
    const copy = join(into, String(taken.length).padStart(3, '0'));
    if (existsSync(dir)) cpSync(dir, copy, { recursive: true });
    else mkdirSync(copy, { recursive: true });
    taken.push({ op, path: path.slice(dir.length + 1), copy });
  });
  try {
    await action();
  } finally {
    restore();
  }
  return taken;
}

describe('a crash at any file operation of a checkpoint write', () => {
  it('leaves a directory that --resume continues to the uninterrupted result', async () => {
    const reference = small();
    const expected = await adversarialTrain(reference, train, options);
    // The premise: the best checkpoint is replaced at least once, so its replacement is crashed too.
    expect(expected.epochs.filter((e) => e.best).length).toBeGreaterThanOrEqual(2);
    const dir = join(root, 'run');
    const model = small();
    const snapshots = await snapshotsOf(dir, join(root, 'snapshots'), () => adversarialTrain(model, train, { ...options, checkpoints: dir }));
    expect(snapshots.filter((s) => s.op === 'rename' && /^best(-\d+)?\.tmp-[^/]+$/.test(s.path)).length).toBe(expected.epochs.filter((e) => e.best).length);
    expect(snapshots.length).toBeGreaterThan(20);
    const layouts: Array<{ at: string; entries: string[] }> = [];
    for (const { op, path, copy } of snapshots) {
      const resumed = small();
      const at = `before ${op} ${path}`;
      let result: TrainResult;
      try {
        result = await adversarialTrain(resumed, train, { ...options, checkpoints: copy, resume: true });
      } catch (e) {
        throw new Error(`resume ${at}: ${(e as Error).message}`);
      }
      expect(result.epochs, at).toEqual(expected.epochs);
      expect(result.best, at).toEqual(expected.best);
      expect(weights(resumed) === weights(reference), `weights ${at}`).toBe(true);
      layouts.push({ at, entries: readdirSync(copy).sort() });
      resumed.dispose();
      rmSync(copy, { recursive: true });
    }
    // Each resumed run tidied what the crash left: only the two checkpoints and their pointers remain.
    const tidy = [`best-${expected.best!.epoch + 1}`, 'best.json', 'epoch-2', 'latest.json'];
    expect(layouts.filter((l) => l.entries.join() !== tidy.join())).toEqual([]);
    [reference, model].forEach((m) => m.dispose());
  });

  it('replacing the checkpoint a pointer names (saveCheckpoint with the same name) always leaves the old or the new one', async () => {
    const dir = join(root, 'replace');
    const [a, b] = [small(1), small(2)];
    const state = (epoch: number) => ({ epoch, seed: 0, best: null, defense: 'standard' });
    const optimizer = (m: tfl.LayersModel, v: number) => ({ steps: v, buffers: m.trainableWeights.map((w) => ({ shape: w.shape as number[], data: new Float32Array(w.read().size).fill(v) })) });
    await saveCheckpoint(dir, 'slot', a, optimizer(a, 1), state(1), 'slot.json');
    const snapshots = await snapshotsOf(dir, join(root, 'replace-snapshots'), () => saveCheckpoint(dir, 'slot', b, optimizer(b, 2), state(2), 'slot.json'));
    expect(snapshots.map((s) => s.op)).toContain('rename');
    for (const { op, path, copy } of [...snapshots, { op: 'after', path: '', copy: dir }]) {
      const model = small(3);
      const loaded = await loadCheckpoint(copy, model, 'slot.json').catch((e: Error) => e);
      const at = `before ${op} ${path}`;
      expect(loaded, at).not.toBeInstanceOf(Error);
      const { state: s, optimizer: o } = loaded as Exclude<typeof loaded, Error | null>;
      expect(weights(model) === weights(s.epoch === 1 ? a : b), `weights ${at}`).toBe(true);
      expect(o.steps, at).toBe(s.epoch);
      model.dispose();
    }
    [a, b].forEach((m) => m.dispose());
  });
});

describe('I/O errors while checkpointing', () => {
  const twoEpochs: AdversarialTrainOptions = { ...options, epochs: 2, validation: undefined };

  // The operation of the second epoch's checkpoint that fails: its weights, its state, its pointer (the
  // second write of latest.json), its rename into place.
  it.each([
    ['writeFile', /^epoch-2\.tmp-[^/]+\/weights\.bin\.tmp-/, 1, noSpace],
    ['writeFile', /^epoch-2\.tmp-[^/]+\/state\.json\.tmp-/, 1, noSpace],
    ['writeFile', /^latest\.json\.tmp-/, 2, noSpace],
    ['rename', /^epoch-2\.tmp-[^/]+$/, 1, () => Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })],
  ] as Array<[FileOp, RegExp, number, () => Error]>)('%s of %s (occurrence %i) failing: the error names the path, nothing partial remains, the last checkpoint resumes', async (failing, target, nth, error) => {
    const reference = small();
    await adversarialTrain(reference, train, twoEpochs);
    const dir = mkdtempSync(join(root, 'fault-'));
    const model = small();
    let seen = 0;
    const restore = interceptFileOps((op, path) => {
      if (op === failing && path.startsWith(dir) && target.test(path.slice(dir.length + 1)) && ++seen === nth) throw error();
    });
    const run = adversarialTrain(model, train, { ...twoEpochs, checkpoints: dir });
    try {
      await expect(run).rejects.toThrow(new RegExp(`^checkpoint: cannot write ${dir}/\\S+: (ENOSPC: no space left on device|EIO: i/o error), (write|rename)$`));
    } finally {
      restore();
    }
    expect(seen).toBe(nth);
    const code = ((await run.catch((e: unknown) => e)) as NodeJS.ErrnoException).code;
    expect(code).toBe(failing === 'rename' ? 'EIO' : 'ENOSPC');
    expect(readdirSync(dir).sort()).toEqual(['epoch-1', 'latest.json']);
    expect(readdirSync(join(dir, 'epoch-1')).sort()).toEqual(['model.json', 'optimizer.bin', 'state.json', 'weights.bin']);
    const resumed = small(9);
    const result = await adversarialTrain(resumed, train, { ...twoEpochs, checkpoints: dir, resume: true });
    expect(result.startEpoch).toBe(1);
    expect(weights(resumed) === weights(reference)).toBe(true);
    [reference, model, resumed].forEach((m) => m.dispose());
  });

  it('fileSystem: a full disk names the file and leaves no temporary file', async () => {
    const dir = join(root, 'model');
    const model = small();
    const restore = interceptFileOps((op, path) => {
      if (op === 'writeFile' && path.startsWith(join(dir, 'weights.bin'))) throw noSpace();
    });
    try {
      await expect(model.save(fileSystem(dir))).rejects.toThrow(`cannot write ${join(dir, 'weights.bin')}: ENOSPC: no space left on device, write`);
    } finally {
      restore();
    }
    expect(readdirSync(dir)).toEqual([]);
    model.dispose();
  });
});

describe('what a crash left is removed at the next start', () => {
  it('temporary and aside copies of dead processes and unreferenced checkpoints go; anything else stays', async () => {
    const dir = join(root, 'stale');
    const model = small();
    await adversarialTrain(model, train, { ...options, epochs: 1, validation: undefined, checkpoints: dir });
    expect(readdirSync(dir).sort()).toEqual(['epoch-1', 'latest.json']);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited
    const alive = process.ppid;
    const stale = [`epoch-2.tmp-${dead}-a1b2`, `latest.json.tmp-${dead}-zz9`, `epoch-1.old-${dead}-q1`, `epoch-2.tmp-${process.pid}-own`, 'epoch-7', 'best-4'];
    const kept = [`epoch-2.tmp-${alive}-live`, 'notes.txt', 'epoch-2.tmp-not-ours', `model.tmp-${dead}-abc`, 'data', 'epoch-x'];
    for (const name of [...stale, ...kept]) {
      if (name.endsWith('.txt') || name.includes('.json')) writeFileSync(join(dir, name), '{"truncated": ');
      else {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'state.json'), '{"epoch": ');
      }
    }
    const resumed = small();
    const result = await adversarialTrain(resumed, train, { ...options, epochs: 2, validation: undefined, checkpoints: dir, resume: true });
    expect(result.startEpoch).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['epoch-2', 'latest.json', ...kept].sort());
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('{"truncated": ');
    [model, resumed].forEach((m) => m.dispose());
  });
});
