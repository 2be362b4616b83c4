/**
 * Training checkpoints in a directory (Node). Each checkpoint is a directory written completely under
 * a temporary name (`<name>.tmp-<pid>-<random>`) and renamed into place; a pointer file (`latest.json`,
 * `best.json`) names the current one and is replaced atomically last. A checkpoint the pointer names is
 * never deleted before its replacement is in place: it is renamed aside (`<name>.old-<pid>-<random>`),
 * the new one renamed in, the old one removed; a load that finds the named directory missing takes the
 * aside copy back. So a crash at any instant leaves a loadable checkpoint, and the next start removes
 * what a crash left behind (only names of the patterns above, of processes no longer running).
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { applyWeights, type CheckpointStateCheck, type CheckpointStore, type TrainingCheckpoint, type TrainingState } from '../train/checkpoint.js';
import type { SgdState } from '../train/sgd.js';
import { fileError, fileSystem, temporaryName, writeAtomic } from './file-system.js';

/** Names this module writes: checkpoints and pointers being written (`.tmp-`) or replaced (`.old-`), with the writer's pid. */
const OURS = /^(?:epoch-\d+|best(?:-\d+)?|latest\.json|best\.json)\.(?:tmp|old)-(\d+)-[0-9a-z]+$/;
/** The directory store's checkpoints: `epoch-<n>`, `best-<n>`. */
const SLOT_DIRECTORY = /^(?:epoch|best)-\d+$/;
/** A checkpoint renamed aside while its replacement goes in: `<name>.old-<pid>-<random>`. */
const ASIDE_SUFFIX = /\.old-\d+-[0-9a-z]+$/;

interface StateFile extends TrainingState {
  optimizer: { steps: number; buffers: Array<{ shape: number[]; offset: number; length: number } | null> };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fileError(e, 'inspect', path);
  }
}

/** The checkpoint name in `<dir>/<pointer>`, null when there is no pointer; an unreadable pointer throws, naming it. */
async function readPointer(dir: string, pointer: string): Promise<string | null> {
  const file = join(dir, pointer);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`checkpoint: cannot read ${file}: ${(e as Error).message}`);
  }
  let target: unknown;
  try {
    target = (JSON.parse(text) as { checkpoint?: unknown })?.checkpoint;
  } catch (e) {
    throw new Error(`checkpoint: cannot read ${file}: ${(e as Error).message}`);
  }
  if (typeof target !== 'string' || target === '' || target.includes('/') || target.includes('\\') || target.startsWith('.')) {
    throw new Error(`checkpoint: cannot read ${file}: no checkpoint name in it`);
  }
  return target;
}

/** Writes weights, optimizer state and training state as `<dir>/<name>` and points `<dir>/<pointer>` at it. */
export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState, pointer = 'latest.json'): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw fileError(e, 'create the checkpoint directory', dir);
  });
  const final = join(dir, name);
  const tmp = temporaryName(final, 'tmp');
  const removeTmp = () => rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  try {
    await model.save(fileSystem(tmp));
    await writeAtomic(join(tmp, 'optimizer.bin'), optimizerBytes(optimizer));
    const file: StateFile = { ...state, optimizer: { steps: optimizer.steps, buffers: optimizerLayout(optimizer) } };
    await writeAtomic(join(tmp, 'state.json'), JSON.stringify(file, null, 1));
  } catch (e) {
    await removeTmp();
    throw checkpointError(e, tmp);
  }
  // The new checkpoint is complete under its temporary name: put it in place without ever leaving the
  // pointer's checkpoint missing (except for the instant between "aside" and "renamed", which a load
  // repairs by taking the aside copy back).
  let aside: string | null = null;
  try {
    if (await exists(final)) {
      const current = await readPointer(dir, pointer).catch(() => undefined); // unreadable: keep it aside too
      if (current === name || current === undefined) {
        aside = temporaryName(final, 'old');
        await rename(final, aside);
      } else {
        await rm(final, { recursive: true, force: true }); // a leftover no pointer names
      }
    }
    await rename(tmp, final);
  } catch (e) {
    await removeTmp();
    if (aside && !(await exists(final))) await rename(aside, final).catch(() => undefined);
    throw checkpointError(e, final);
  }
  try {
    await writeAtomic(join(dir, pointer), JSON.stringify({ checkpoint: name, epoch: state.epoch }));
  } catch (e) {
    // Without the pointer the new directory is a leftover (unless it replaced the pointer's own, which it now is).
    if (!aside) await rm(final, { recursive: true, force: true }).catch(() => undefined);
    throw checkpointError(e, join(dir, pointer));
  }
  if (aside) {
    await rm(aside, { recursive: true, force: true }).catch(() => undefined);
  }
}

function optimizerLayout(optimizer: SgdState): StateFile['optimizer']['buffers'] {
  let offset = 0;
  return optimizer.buffers.map((b) => {
    if (!b) return null;
    const entry = { shape: b.shape, offset, length: b.data.length };
    offset += b.data.length;
    return entry;
  });
}

function optimizerBytes(optimizer: SgdState): Uint8Array {
  const all = new Float32Array(optimizer.buffers.reduce((n, b) => n + (b ? b.data.length : 0), 0));
  let at = 0;
  for (const b of optimizer.buffers) {
    if (!b) continue;
    all.set(b.data, at);
    at += b.data.length;
  }
  return new Uint8Array(all.buffer);
}

function checkpointError(e: unknown, path: string): Error {
  const error = fileError(e, 'write', path);
  if (!error.message.startsWith('checkpoint')) error.message = `checkpoint: ${error.message}`;
  return error;
}

/**
 * `<dir>/<name>` when it exists; else, when a crash left it renamed aside (`<name>.old-*`), that copy
 * moved back; else null.
 */
async function checkpointDirectory(dir: string, name: string): Promise<string | null> {
  const base = join(dir, name);
  if (await exists(base)) return base;
  const asides = (await readdir(dir)).filter((entry) => entry.startsWith(`${name}.old-`) && ASIDE_SUFFIX.test(entry)).sort();
  if (asides.length === 0) return null;
  await rename(join(dir, asides[asides.length - 1]!), base).catch((e: unknown) => {
    throw fileError(e, 'restore the checkpoint', base);
  });
  return base;
}

/** Reads the checkpoint `<dir>/<pointer>` points at into `model`, or null when there is none. */
export async function loadCheckpoint(dir: string, model: tfl.LayersModel, pointer = 'latest.json', check?: CheckpointStateCheck): Promise<TrainingCheckpoint | null> {
  const name = await readPointer(dir, pointer);
  if (name === null) return null;
  const base = await checkpointDirectory(dir, name);
  if (base === null) throw new Error(`checkpoint: ${join(dir, pointer)} names ${name}, which is missing from ${dir}`);
  let file: StateFile;
  try {
    file = JSON.parse(await readFile(join(base, 'state.json'), 'utf8')) as StateFile;
  } catch (e) {
    throw new Error(`checkpoint: cannot read ${join(base, 'state.json')}: ${(e as Error).message}`);
  }
  const { optimizer: layout, ...state } = file;
  check?.(state);
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
    steps: layout.steps,
    buffers: layout.buffers.map((b) => (b ? { shape: b.shape, data: data.slice(b.offset, b.offset + b.length) } : null)),
  };
  return { state, optimizer };
}

function running(pid: number): boolean {
  if (pid === process.pid) return false; // nothing of this process is being written when a store starts
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What a crash may leave in a checkpoint directory, repaired and removed: a pointer's checkpoint
 * renamed aside is moved back; then temporary and aside copies of processes no longer running, and
 * checkpoint directories no pointer names, are removed. Nothing else is touched; with an unreadable
 * pointer, only the temporary copies go. @internal
 */
export async function tidyCheckpoints(dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  const named: string[] = [];
  let pointersReadable = true;
  for (const pointer of ['latest.json', 'best.json']) {
    try {
      const name = await readPointer(dir, pointer);
      if (name !== null) {
        named.push(name);
        await checkpointDirectory(dir, name);
      }
    } catch {
      pointersReadable = false;
    }
  }
  for (const entry of await readdir(dir)) {
    const ours = OURS.exec(entry);
    const stale = ours ? !running(Number(ours[1])) && (entry.includes('.tmp-') || pointersReadable) : pointersReadable && SLOT_DIRECTORY.test(entry) && !named.includes(entry);
    if (stale) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * The directory {@link CheckpointStore}: slot `latest` is `epoch-<n>/` behind `latest.json`, slot `best`
 * is `best-<n>/` behind `best.json` (n: epochs completed); the previous ones are removed once the
 * pointer moved. The first load or save repairs and tidies what an earlier crash left ({@link tidyCheckpoints}).
 */
export function directoryCheckpoints(dir: string): CheckpointStore {
  let tidied: Promise<void> | null = null;
  const tidy = () => (tidied ??= tidyCheckpoints(dir));
  return {
    location: dir,
    async save(slot, model, optimizer, state) {
      await tidy();
      const [prefix, pointer] = slot === 'best' ? ['best', 'best.json'] : ['epoch', 'latest.json'];
      const name = `${prefix}-${state.epoch}`;
      await saveCheckpoint(dir, name, model, optimizer, state, pointer);
      // The older checkpoints of this slot (and 0.1.0's `best/`).
      for (const entry of await readdir(dir)) {
        if ((SLOT_DIRECTORY.test(entry) || entry === 'best') && entry.startsWith(prefix) && entry !== name) {
          await rm(join(dir, entry), { recursive: true, force: true });
        }
      }
    },
    async load(slot, model, check) {
      await tidy();
      return loadCheckpoint(dir, model, slot === 'best' ? 'best.json' : 'latest.json', check);
    },
  };
}
