/**
 * Training checkpoints in a directory (Node): a directory per checkpoint, written under a temporary
 * name and renamed into place, and a pointer file (`latest.json`, `best.json`) replaced atomically
 * last, so a crash never leaves a half-written checkpoint behind the pointer.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { applyWeights, type CheckpointStore, type TrainingCheckpoint, type TrainingState } from '../train/checkpoint.js';
import type { SgdState } from '../train/sgd.js';
import { fileSystem, writeAtomic } from './file-system.js';

interface StateFile extends TrainingState {
  optimizer: { steps: number; buffers: Array<{ shape: number[]; offset: number; length: number } | null> };
}

/** Writes weights, optimizer state and training state as `<dir>/<name>` and points `<dir>/<pointer>` at it. */
export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState, pointer = 'latest.json'): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${name}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await model.save(fileSystem(tmp));
  const buffers: StateFile['optimizer']['buffers'] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const b of optimizer.buffers) {
    if (!b) {
      buffers.push(null);
      continue;
    }
    buffers.push({ shape: b.shape, offset, length: b.data.length });
    chunks.push(b.data);
    offset += b.data.length;
  }
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  await writeFile(join(tmp, 'optimizer.bin'), new Uint8Array(all.buffer));
  const file: StateFile = { ...state, optimizer: { steps: optimizer.steps, buffers } };
  await writeFile(join(tmp, 'state.json'), JSON.stringify(file, null, 1));
  const final = join(dir, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await writeAtomic(join(dir, pointer), JSON.stringify({ checkpoint: name, epoch: state.epoch }));
}

/** Reads the checkpoint `<dir>/<pointer>` points at into `model`, or null when there is none. */
export async function loadCheckpoint(dir: string, model: tfl.LayersModel, pointer = 'latest.json'): Promise<TrainingCheckpoint | null> {
  let target: { checkpoint: string };
  try {
    target = JSON.parse(await readFile(join(dir, pointer), 'utf8')) as { checkpoint: string };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`checkpoint: cannot read ${join(dir, pointer)}: ${(e as Error).message}`);
  }
  const base = join(dir, target.checkpoint);
  const file = JSON.parse(await readFile(join(base, 'state.json'), 'utf8')) as StateFile;
  const loaded = await fileSystem(base).load!();
  const weights = tf.io.decodeWeights(loaded.weightData!, loaded.weightSpecs!);
  try {
    applyWeights(model, weights, base);
  } finally {
    tf.dispose(Object.values(weights));
  }
  const bytes = await readFile(join(base, 'optimizer.bin'));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const optimizer: SgdState = {
    steps: file.optimizer.steps,
    buffers: file.optimizer.buffers.map((b) => (b ? { shape: b.shape, data: data.slice(b.offset, b.offset + b.length) } : null)),
  };
  const { optimizer: _omit, ...state } = file;
  return { state, optimizer };
}

/**
 * The directory {@link CheckpointStore}: slot `latest` is `epoch-<n>/` behind `latest.json` (older
 * epochs removed once the pointer moved), slot `best` is `best/` behind `best.json`.
 */
export function directoryCheckpoints(dir: string): CheckpointStore {
  return {
    location: dir,
    async save(slot, model, optimizer, state) {
      if (slot === 'best') return saveCheckpoint(dir, 'best', model, optimizer, state, 'best.json');
      const name = `epoch-${state.epoch}`;
      await saveCheckpoint(dir, name, model, optimizer, state, 'latest.json');
      for (const entry of await readdir(dir)) {
        if (entry.startsWith('epoch-') && entry !== name && !entry.includes('.tmp-')) await rm(join(dir, entry), { recursive: true, force: true });
      }
    },
    load: (slot, model) => loadCheckpoint(dir, model, slot === 'best' ? 'best.json' : 'latest.json'),
  };
}
