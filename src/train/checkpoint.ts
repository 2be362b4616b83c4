/**
 * Training checkpoints behind one interface, {@link CheckpointStore}, with two kinds of store:
 * - a directory (Node): a directory per checkpoint, written under a temporary name and renamed into
 *   place, and a pointer file (`latest.json`, `best.json`) replaced atomically last; a crash at any
 *   instant leaves a loadable checkpoint (see src/node/checkpoints.ts);
 * - any tfjs IO handler ({@link ioCheckpoints}): `indexeddb://`, `localstorage://`, `http://` or a
 *   custom one, the whole checkpoint (weights, optimizer buffers, training state) in one model
 *   artifact, so it is as atomic as the handler's own save (IndexedDB: one transaction).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { nodePlatform } from '../io/platform.js';
import type { EpochInfo } from './adversarial-train.js';
import type { RunSettings } from './run-identity.js';
import type { SgdState } from './sgd.js';

/** What a checkpoint holds besides the weights. */
export interface TrainingState {
  /** Epochs completed (the next epoch to run, 0-based). */
  epoch: number;
  /** The run's seed: shuffling, augmentation and attack starts derive from it and the epoch/batch. */
  seed: number;
  /** Best validation robust accuracy so far and its epoch, or null. */
  best: {
    /** 0-based epoch after which the best weights were validated. */
    epoch: number;
    /** Fraction in [0, 1] of validation images classified correctly under the validation PGD. */
    robustAccuracy: number;
    /** Fraction in [0, 1] of validation images classified correctly without attack. */
    cleanAccuracy: number;
  } | null;
  /** The defense (also in `run`). */
  defense: string;
  /**
   * Every setting that shapes the model or the data order ({@link RunSettings}: version, defense and its
   * hyperparameters, batch size, seed, model architecture, data checksum, the caller's `runSettings`);
   * resuming refuses a checkpoint whose settings differ. Absent in checkpoints of 0.1.0.
   */
  run?: RunSettings;
  /** The summary of every completed epoch, in order, so a resumed run reports its whole history. Absent in checkpoints of 0.1.0. */
  history?: EpochInfo[];
}

/**
 * Called by {@link CheckpointStore.load} with a checkpoint's training state before any weight of the
 * model is written; throwing aborts the load and leaves the model as it was.
 */
export type CheckpointStateCheck = (state: TrainingState) => void;

/** A loaded checkpoint: the training state and the optimizer's momentum buffers (the weights are in the model). */
export interface TrainingCheckpoint {
  /** The epoch counter, seed, best validation and defense saved with the checkpoint. */
  state: TrainingState;
  /** The optimizer's step count and momentum buffers, for {@link TorchSGD.setState}. */
  optimizer: SgdState;
}

/** The two checkpoints a training run keeps: the last completed epoch and the best validated one. */
export type CheckpointSlot = 'latest' | 'best';

/**
 * Where {@link adversarialTrain} keeps its checkpoints. Make one with {@link checkpointStore} (a
 * directory or a tfjs URL) or {@link ioCheckpoints} (custom IO handlers), or implement it.
 */
export interface CheckpointStore {
  /** Where the checkpoints go, for messages (a directory or a URL). */
  readonly location: string;
  /** Saves the model's weights, the optimizer state and `state` as `slot`, replacing the previous one. */
  save(slot: CheckpointSlot, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState): Promise<void>;
  /**
   * Loads `slot` into `model` (its weights) and returns the rest, or null when there is no such
   * checkpoint. `check`, when given, sees the training state before the weights are written (the
   * trainer refuses another run's checkpoint there); a store that ignores it is checked after the load.
   */
  load(slot: CheckpointSlot, model: tfl.LayersModel, check?: CheckpointStateCheck): Promise<TrainingCheckpoint | null>;
}

/**
 * A {@link CheckpointStore} for `location`:
 * - a tfjs URL (`indexeddb://run-1`, `localstorage://run-1`, `http(s)://...`): {@link ioCheckpoints}
 *   with the slots at `<location>/latest` and `<location>/best`;
 * - `file://<dir>` or a plain path (Node only): a directory of checkpoints (`epoch-<n>/`, `best-<n>/`,
 *   `latest.json`, `best.json`), each written to a temporary name and renamed; the first load or save
 *   removes what a crash left behind (temporary copies of processes no longer running);
 * - a store, returned as it is.
 *
 * @example adversarialTrain(model, data, { defense: 'trades', checkpoints: 'indexeddb://trades-run' }) // browser
 * @example adversarialTrain(model, data, { defense: 'trades', checkpoints: './runs/trades' })           // Node
 */
export function checkpointStore(location: string | CheckpointStore): CheckpointStore {
  if (typeof location === 'object' && location !== null && typeof location.save === 'function' && typeof location.load === 'function') return location;
  if (typeof location !== 'string' || location === '') {
    throw new TypeError('checkpoints: expected a directory, a tfjs URL (indexeddb://name, localstorage://name) or a CheckpointStore');
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') {
    const dir = scheme === 'file' ? location.slice('file://'.length) : location;
    return nodePlatform(`checkpoints '${location}'`, "In a browser use a tfjs URL such as 'indexeddb://my-run', or ioCheckpoints(handlers)").directoryCheckpoints(dir);
  }
  return ioCheckpoints(location);
}

/** Name prefix of the optimizer's buffers among a checkpoint artifact's weights. */
const OPTIMIZER_PREFIX = 'rmc_optimizer/';
/** Key of the training state in a checkpoint artifact's `userDefinedMetadata`. */
const METADATA_KEY = 'rmcTraining';

interface CheckpointMetadata {
  format: 1;
  state: TrainingState;
  optimizer: { steps: number; buffers: Array<{ shape: number[] } | null> };
}

/**
 * A {@link CheckpointStore} over tfjs IO handlers: each slot is one model artifact whose weights are
 * the model's plus the optimizer's momentum buffers (named `rmc_optimizer/<i>`) and whose
 * `userDefinedMetadata.rmcTraining` holds the training state.
 *
 * @param target A URL prefix (`indexeddb://run-1`; slots at `<prefix>/latest` and `<prefix>/best`,
 *   through tfjs's registered routers), or a function giving the handler of a slot: for `'load'` it may
 *   return null when the slot holds no checkpoint.
 * @example ioCheckpoints('indexeddb://trades-run')
 * @example ioCheckpoints((slot, mode) => mode === 'save' ? tf.io.withSaveHandler(upload(slot)) : myLoader(slot))
 */
export function ioCheckpoints(target: string | ((slot: CheckpointSlot, mode: 'save' | 'load') => tf.io.IOHandler | null)): CheckpointStore {
  if (typeof target !== 'string' && typeof target !== 'function') throw new TypeError('ioCheckpoints: expected a URL prefix or a function (slot, mode) => IOHandler');
  const url = (slot: CheckpointSlot) => `${(target as string).replace(/\/+$/, '')}/${slot}`;
  const handler = (slot: CheckpointSlot, mode: 'save' | 'load'): tf.io.IOHandler | null => {
    if (typeof target === 'function') return target(slot, mode);
    const found = mode === 'save' ? tf.io.getSaveHandlers(url(slot)) : tf.io.getLoadHandlers(url(slot));
    if (found.length === 0) throw new Error(`checkpoints: tfjs has no IO handler for ${url(slot)} here (indexeddb:// and localstorage:// exist in browsers)`);
    return found[0]!;
  };
  const exists = async (slot: CheckpointSlot): Promise<boolean> => {
    if (typeof target === 'function') return true;
    const scheme = /^([a-z]+):\/\//i.exec(target)?.[1]?.toLowerCase();
    if (scheme !== 'indexeddb' && scheme !== 'localstorage') return true;
    return url(slot) in (await tf.io.listModels());
  };
  return {
    location: typeof target === 'string' ? target : 'custom IO handlers',
    async save(slot, model, optimizer, state) {
      const out = handler(slot, 'save');
      if (!out?.save) throw new Error(`checkpoints: the IO handler of slot '${slot}' cannot save`);
      await model.save(tf.io.withSaveHandler(async (artifacts) => out.save!(withTraining(artifacts, optimizer, state))));
    },
    async load(slot, model, check) {
      if (!(await exists(slot))) return null;
      const input = handler(slot, 'load');
      if (input === null) return null;
      if (!input.load) throw new Error(`checkpoints: the IO handler of slot '${slot}' cannot load`);
      const where = typeof target === 'string' ? url(slot) : `slot '${slot}'`;
      return readTraining(await input.load(), model, where, check);
    },
  };
}

/** `artifacts` with the optimizer buffers appended to the weights and the state in the metadata. */
function withTraining(artifacts: tf.io.ModelArtifacts, optimizer: SgdState, state: TrainingState): tf.io.ModelArtifacts {
  const specs = [...(artifacts.weightSpecs ?? [])];
  const parts: ArrayBuffer[] = artifacts.weightData === undefined ? [] : [tf.io.CompositeArrayBuffer.join(artifacts.weightData)];
  const buffers: CheckpointMetadata['optimizer']['buffers'] = optimizer.buffers.map((b, i) => {
    if (!b) return null;
    specs.push({ name: `${OPTIMIZER_PREFIX}${i}`, shape: b.shape, dtype: 'float32' });
    parts.push(b.data.slice().buffer as ArrayBuffer);
    return { shape: b.shape };
  });
  const metadata: CheckpointMetadata = { format: 1, state, optimizer: { steps: optimizer.steps, buffers } };
  return {
    ...artifacts,
    weightSpecs: specs,
    weightData: tf.io.CompositeArrayBuffer.join(parts),
    userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), [METADATA_KEY]: metadata as unknown as object },
  };
}

function readTraining(artifacts: tf.io.ModelArtifacts, model: tfl.LayersModel, where: string, check?: CheckpointStateCheck): TrainingCheckpoint {
  const metadata = artifacts.userDefinedMetadata?.[METADATA_KEY] as CheckpointMetadata | undefined;
  if (!metadata || metadata.format !== 1 || !artifacts.weightSpecs || artifacts.weightData === undefined) {
    throw new Error(`checkpoint ${where} is not an rmc-robust training checkpoint (no ${METADATA_KEY} metadata or no weights)`);
  }
  check?.(metadata.state);
  const weights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  try {
    const buffers = metadata.optimizer.buffers.map((b, i) => {
      if (!b) return null;
      const t = weights[`${OPTIMIZER_PREFIX}${i}`];
      if (!t) throw new Error(`checkpoint ${where}: optimizer buffer ${i} is missing`);
      return { shape: b.shape, data: t.dataSync() as Float32Array };
    });
    applyWeights(model, weights, where);
    return { state: metadata.state, optimizer: { steps: metadata.optimizer.steps, buffers } };
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/**
 * Writes the decoded `weights` (by original name) into `model`'s weights, after checking that every
 * one is there with its shape. Does not dispose `weights`. @internal
 */
export function applyWeights(model: tfl.LayersModel, weights: tf.NamedTensorMap, where: string): void {
  const missing = model.weights.filter((w) => !(w.originalName in weights)).map((w) => w.originalName);
  if (missing.length) throw new Error(`checkpoint ${where} does not fit the model: missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  for (const w of model.weights) {
    const t = weights[w.originalName]!;
    if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
      throw new Error(`checkpoint ${where} does not fit the model: ${w.originalName} has shape [${t.shape}] in the checkpoint, [${w.shape}] in the model`);
    }
  }
  model.weights.forEach((w) => w.write(weights[w.originalName]!));
}

/**
 * Writes weights, optimizer state and training state as `<dir>/<name>` and points `<dir>/<pointer>` at
 * it (Node only; {@link checkpointStore} is the general form).
 */
export async function saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState, pointer = 'latest.json'): Promise<void> {
  return nodePlatform('saveCheckpoint(dir)', 'In a browser use ioCheckpoints').saveCheckpoint(dir, name, model, optimizer, state, pointer);
}

/**
 * Reads the checkpoint `<dir>/<pointer>` points at into `model` and returns the rest, or null when there
 * is none (Node only; {@link checkpointStore} is the general form). `check` sees the training state
 * before the weights are written.
 */
export async function loadCheckpoint(dir: string, model: tfl.LayersModel, pointer = 'latest.json', check?: CheckpointStateCheck): Promise<TrainingCheckpoint | null> {
  return nodePlatform('loadCheckpoint(dir)', 'In a browser use ioCheckpoints').loadCheckpoint(dir, model, pointer, check);
}
