/**
 * Training checkpoints: a directory per checkpoint, written under a temporary name and renamed into
 * place, and a `latest.json` pointer replaced atomically last, so a crash never leaves a half-written
 * checkpoint behind the pointer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem, writeAtomic } from '../io/file-system.js';
import type { SgdState } from './sgd.js';

const fs = () => import('node:fs/promises');
const paths = () => import('node:path');

/** What a checkpoint holds besides the weights. */
export interface TrainingState {
  /** Epochs completed (the next epoch to run, 0-based). */
  epoch: number;
  /** The run's seed: shuffling, augmentation and attack starts derive from it and the epoch/batch. */
  seed: number;
  /** Best validation robust accuracy so far and its epoch, or null. */
  best: { epoch: number; robustAccuracy: number; cleanAccuracy: number } | null;
  /** The defense, to refuse resuming a different run. */
  defense: string;
}

interface StateFile extends TrainingState {
  optimizer: { steps: number; buffers: Array<{ shape: number[]; offset: number; length: number } | null> };
}

/** Writes weights, optimiser state and training state as `<dir>/<name>` and points `latest.json` at it. */
export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState, pointer = 'latest.json'): Promise<void> {
  const { join } = await paths();
  const { mkdir, rename, rm, writeFile } = await fs();
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

/** Reads the checkpoint `latest.json` points at, or null when there is none. */
export async function loadCheckpoint(dir: string, model: tfl.LayersModel, pointer = 'latest.json'): Promise<{ state: TrainingState; optimizer: SgdState } | null> {
  const { join } = await paths();
  const { readFile } = await fs();
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
  const byName = model.weights.map((w) => w.originalName);
  const missing = byName.filter((n) => !(n in weights));
  if (missing.length) throw new Error(`checkpoint ${base} does not fit the model: missing ${missing.slice(0, 5).join(', ')}`);
  model.weights.forEach((w) => w.write(weights[w.originalName]!));
  Object.values(weights).forEach((t) => t.dispose());
  const bytes = await readFile(join(base, 'optimizer.bin'));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const optimizer: SgdState = {
    steps: file.optimizer.steps,
    buffers: file.optimizer.buffers.map((b) => (b ? { shape: b.shape, data: data.slice(b.offset, b.offset + b.length) } : null)),
  };
  const { optimizer: _omit, ...state } = file;
  return { state, optimizer };
}
