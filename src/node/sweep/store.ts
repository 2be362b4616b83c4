/**
 * Where a sweep's runs keep their results, final models and checkpoints: a directory all workers reach
 * (a shared file system) by default. Every file is written to a temporary name and renamed; a run's
 * `result.json` is written last, so its presence means the run is done.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem, writeAtomic } from '../file-system.js';
import type { Metric, RunConfig } from './grid.js';
import type { CheckpointStore } from '../../train/checkpoint.js';

/** Accuracies (%) of a model, by metric. */
export type RunMetrics = Partial<Record<Metric, number>>;

/** What a finished run records. */
export interface RunResult {
  /** The run's id (hash of `config`). */
  id: string;
  /** What the run trained and evaluated. */
  config: RunConfig;
  /** Accuracies (%) of the final weights. */
  metrics: RunMetrics;
  /** With `config.validate`: the best epoch under PGD-10 validation (0-based) and its weights' accuracies. */
  best: {
    /** The best epoch (0-based). */
    epoch: number;
    /** Its weights' accuracies (%). */
    metrics: RunMetrics;
  } | null;
  /** Mean training loss of every epoch of the run, those before a resume included. */
  losses: number[];
  /** The epoch training started from: 0, or the checkpoint's epoch when a retried run resumed. */
  startEpoch: number;
  /** Seconds of the last (finishing) attempt. */
  seconds: number;
  /** Host and process id of the worker that finished it. */
  worker: string;
  /** ISO time it finished. */
  finishedAt: string;
}

/** A results store: what every worker of a sweep writes to and `collect` reads. */
export interface ResultsStore {
  /** Where it is, for messages and for workers (a directory). */
  readonly location: string;
  /** The result of run `id`, or null when it has not finished. */
  readResult(id: string): Promise<RunResult | null>;
  /** Records a finished run (atomically). */
  writeResult(result: RunResult): Promise<void>;
  /** Saves a run's final model (atomically: the directory is renamed into place). */
  saveModel(id: string, model: tfl.LayersModel): Promise<void>;
  /**
   * Where run `id` checkpoints, so a retried run resumes: a directory, a tfjs URL, or a
   * `CheckpointStore` (e.g. `ioCheckpoints` over an object store's IO handlers).
   */
  checkpoints(id: string): string | CheckpointStore;
}

function checkId(id: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new RangeError(`run id '${id}': expected hex digits`);
  return id;
}

/** A {@link ResultsStore} in directory `dir`: `runs/<id>/{result.json, model/, checkpoints/}`. */
export function directoryStore(dir: string): ResultsStore {
  const root = resolve(dir);
  const runDir = (id: string) => join(root, 'runs', checkId(id));
  return {
    location: root,
    async readResult(id) {
      try {
        return JSON.parse(await readFile(join(runDir(id), 'result.json'), 'utf8')) as RunResult;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new Error(`results store ${root}: cannot read the result of run ${id}: ${(e as Error).message}`);
      }
    },
    async writeResult(result) {
      await mkdir(runDir(result.id), { recursive: true });
      await writeAtomic(join(runDir(result.id), 'result.json'), `${JSON.stringify(result, null, 1)}\n`);
    },
    async saveModel(id, model) {
      const final = join(runDir(id), 'model');
      const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await mkdir(runDir(id), { recursive: true });
      try {
        await model.save(fileSystem(tmp));
        await rm(final, { recursive: true, force: true });
        await rename(tmp, final);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    },
    checkpoints: (id) => join(runDir(id), 'checkpoints'),
  };
}
