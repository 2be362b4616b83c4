/**
 * One run of a sweep: build the network, train it with its defense (checkpointing every epoch into the
 * results store and resuming from there when a retried run finds a checkpoint), evaluate it under the
 * grid's attacks, and record the result and the final model. The same code runs in the embedded
 * executor and in BullMQ workers, so both give the same numbers.
 */
import { hostname } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Attack } from '../../attacks/attack.js';
import { autoAttackAttack } from '../../attacks/autoattack.js';
import { deepfoolAttack } from '../../attacks/deepfool.js';
import { fgsmAttack } from '../../attacks/fgsm.js';
import { pgdAttack } from '../../attacks/pgd.js';
import { robustAccuracy } from '../../attacks/robust-accuracy.js';
import { imagesToTensor, loadCifar10, loadCifar100, type CifarSplit } from '../../data/cifar.js';
import { loadCifar10Sample } from '../../data/sample.js';
import { CIFAR100_STATS } from '../../models/layers/normalize.js';
import { alexnet } from '../../models/alexnet.js';
import { preActResNet18 } from '../../models/preact-resnet18.js';
import { resnet18 } from '../../models/resnet18.js';
import { vgg16 } from '../../models/vgg16.js';
import { wideResNet } from '../../models/wide-resnet.js';
import { adversarialTrain, type EpochInfo } from '../../train/adversarial-train.js';
import { checkpointStore } from '../../train/checkpoint.js';
import { presets } from '../../train/presets.js';
import { packageVersion, type Metric, type RunConfig, type SweepRun } from './grid.js';
import type { ScaleSettings } from './scale.js';
import type { ResultsStore, RunMetrics, RunResult } from './store.js';

/** A run whose configuration cannot run (a network its builder refuses, unknown data): retrying will not help. */
export class RunConfigError extends Error {
  /**
   * A configuration error.
   * @param message what is wrong with the configuration.
   */
  constructor(message: string) {
    super(message);
    this.name = 'RunConfigError';
  }
}

const BUILDERS = { resnet18, preactresnet18: preActResNet18, vgg16, alexnet, wrn: wideResNet } as const;

/** A fraction in [0, 1] as a percentage rounded to 0.01 (the paper's precision). */
export const percent = (v: number): number => Math.round(v * 10000) / 100;

/** The Table I attack `name` with the scale's step counts, seeded from the run's seed. */
export function paperAttack(name: Exclude<Metric, 'Natural'>, settings: Pick<ScaleSettings, 'evalSteps' | 'autoAttack'>, seed: number, onWarning?: (message: string) => void): Attack {
  const steps = settings.evalSteps;
  switch (name) {
    case 'FGSM':
      return fgsmAttack();
    case 'PGD-10':
      return pgdAttack({ name, steps: steps['PGD-10'], relStepSize: 0.25, seed });
    case 'PGD-20':
      return pgdAttack({ name, steps: steps['PGD-20'], relStepSize: 0.25, seed: seed + 1000 });
    case 'PGD-50':
      return pgdAttack({ name, steps: steps['PGD-50'], relStepSize: 0.033333, seed: seed + 2000 });
    case 'DeepFool':
      return deepfoolAttack({ name, steps: steps.DeepFool, overshoot: 0.02, candidates: 10 });
    case 'AutoAttack':
      return autoAttackAttack({ ...settings.autoAttack, seed: seed + 4000, ...(onWarning ? { onWarning } : {}) });
    default:
      throw new RangeError(`attack '${String(name)}': accepted values are FGSM, PGD-10, PGD-20, PGD-50, DeepFool, AutoAttack`);
  }
}

const dataCache = new Map<string, Promise<CifarSplit>>();

/** The `split` of data spec `spec` (`sample`, `cifar10:<dir>`, `cifar100:<dir>`), loaded once per process. */
export function loadSplit(spec: string, split: 'train' | 'test'): Promise<CifarSplit> {
  const key = `${spec}\n${split}`;
  let found = dataCache.get(key);
  if (!found) {
    const colon = spec.indexOf(':');
    const [kind, dir] = colon < 0 ? [spec, ''] : [spec.slice(0, colon), spec.slice(colon + 1)];
    if (kind === 'sample' && colon < 0) found = loadCifar10Sample(split);
    else if (kind === 'cifar10' && dir) found = loadCifar10(dir, { split });
    else if (kind === 'cifar100' && dir) found = loadCifar100(dir, { split });
    else throw new RunConfigError(`data '${spec}': expected sample, cifar10:<dir> or cifar100:<dir>`);
    found.catch(() => dataCache.delete(key));
    dataCache.set(key, found);
  }
  return found;
}

function first(split: CifarSplit, n: number | null): CifarSplit {
  const count = Math.min(n ?? split.count, split.count);
  return { images: split.images.subarray(0, count * 3072), labels: split.labels.subarray(0, count), count };
}

/** Builds the run's network (refusals become {@link RunConfigError}). */
export function buildRunModel(config: RunConfig): tfl.LayersModel {
  const cifar100 = config.data.startsWith('cifar100:');
  try {
    return BUILDERS[config.arch]({
      ...(config.strides !== null ? { strides: config.strides } : {}),
      pooling: config.pooling,
      ...(config.upsample ? { upsample: config.upsample } : {}),
      width: config.width,
      numClasses: cifar100 ? 100 : 10,
      ...(cifar100 ? { normalize: CIFAR100_STATS } : {}),
      seed: config.seed,
    });
  } catch (e) {
    throw new RunConfigError(`${config.arch}${config.strides ? ` ${config.strides}` : ''}: ${(e as Error).message}`);
  }
}

/** Options of {@link executeRun}. */
export interface ExecuteRunOptions {
  /** Called after each epoch (checkpointed) with its summary. */
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
  /** Called once before training when the run resumes from its checkpoint, with the epochs it holds. */
  onResume?: (info: { epoch: number }) => void | Promise<void>;
  /** Called after each batch; throwing stops the run (e.g. when the worker that owns it is gone). */
  onBatch?: () => void;
}

/**
 * Runs `run` and records its result and final model in `store`, resuming from the checkpoint the store
 * holds for it (a retried run continues where the last attempt stopped; the trainer makes the resumed
 * run end with the same weights as an uninterrupted one). Returns the result; a run already done is
 * not run again.
 */
export async function executeRun(run: Pick<SweepRun, 'id' | 'config'>, store: ResultsStore, options: ExecuteRunOptions = {}): Promise<RunResult> {
  const done = await store.readResult(run.id);
  if (done) return done;
  const { config } = run;
  // The version is part of the run's id: results of another version's code must not carry it.
  const installed = packageVersion();
  if (config.version !== installed) {
    throw new RunConfigError(
      `run ${run.id} was submitted with rmc-robust ${config.version}, this worker has ${installed}: run one version on every machine of a sweep (npm install rmc-robust@${config.version}), or submit the grid again with this one (its runs get new ids)`,
    );
  }
  const started = Date.now();
  const model = buildRunModel(config);
  try {
    const train = first(await loadSplit(config.data, 'train'), config.trainSize);
    const test = first(await loadSplit(config.data, 'test'), config.testSize);
    const checkpoints = store.checkpoints(run.id);
    const validationX = config.validate ? imagesToTensor(test) : null;
    let result;
    try {
      result = await adversarialTrain(model, train, {
        ...presets[config.defense],
        epochs: config.epochs,
        ...(config.lrMilestones ? { lr: { ...presets[config.defense].lr, milestones: config.lrMilestones } } : {}),
        batchSize: config.batchSize,
        ...(config.trainAttackSteps !== null ? { attackSteps: config.trainAttackSteps } : {}),
        seed: config.seed,
        ...(validationX ? { validation: { x: validationX, y: test.labels, batchSize: config.evalBatchSize } } : {}),
        restoreBest: false,
        checkpoints,
        resume: true,
        ...(options.onResume ? { onResume: options.onResume } : {}),
        onBatchEnd: () => options.onBatch?.(),
        onEpochEnd: options.onEpoch,
      });
    } finally {
      validationX?.dispose();
    }
    const evaluate = (): RunMetrics => {
      const attacks = config.attacks.map((a) => paperAttack(a, config, config.seed));
      // With no attack, an identity "attack" lets robustAccuracy report the clean accuracy alone.
      const identity: Attack = { name: 'none', norm: 'linf', kind: 'fixed-epsilon', targeted: false, bounds: [0, 1], run: (_m, x) => x.clone() };
      const r = robustAccuracy(model, test, attacks.length ? attacks : [identity], { eps: 8 / 255, batchSize: config.evalBatchSize });
      const metrics: RunMetrics = { Natural: percent(r.clean) };
      for (const a of config.attacks) metrics[a] = percent(r.perAttack[a]!);
      return metrics;
    };
    const metrics = evaluate();
    await store.saveModel(run.id, model);
    let best: RunResult['best'] = null;
    if (config.validate) {
      const loaded = await checkpointStore(checkpoints).load('best', model);
      if (!loaded?.state.best) throw new Error(`run ${run.id}: no best checkpoint in ${typeof checkpoints === 'string' ? checkpoints : 'its checkpoint store'}`);
      const epoch = loaded.state.best.epoch;
      // When the last epoch validated best, the best weights are the final ones: same results.
      best = { epoch, metrics: epoch === config.epochs - 1 ? metrics : evaluate() };
    }
    const record: RunResult = {
      id: run.id,
      config,
      metrics,
      best,
      losses: result.epochs.map((e) => e.loss),
      startEpoch: result.startEpoch,
      seconds: (Date.now() - started) / 1000,
      worker: `${hostname()}:${process.pid}`,
      finishedAt: new Date().toISOString(),
    };
    await store.writeResult(record);
    return record;
  } finally {
    model.dispose();
  }
}
