import * as tf from '@tensorflow/tfjs-core';
import { fileSystem } from '../io/file-system.js';
import { featureMapShape } from '../models/inspect.js';
import { adversarialTrain } from '../train/adversarial-train.js';
import { TrainingDivergedError } from '../train/divergence.js';
import { presets, type Defense } from '../train/presets.js';
import { describeDifferences, ResumeMismatchError, type RunSettings, type SettingDifference } from '../train/run-identity.js';
import { buildModel, loadData, parseInteger, parseNumber, parseUpsample, progressBar, RunDir, statsFor, subset, timestamp, UsageError } from './common.js';

/** Options of `rmc-robust train`. */
export interface TrainCommandOptions {
  arch: string;
  strides?: string;
  pooling: string;
  upsample?: string;
  defense: string;
  epochs?: string;
  width: string;
  data: string;
  subset?: string;
  test: string;
  batchSize?: string;
  seed: string;
  out?: string;
  checkpointDir?: string;
  resume?: boolean;
}

export async function trainCommand(o: TrainCommandOptions): Promise<void> {
  if (!(o.defense in presets)) throw new UsageError(`--defense '${o.defense}': accepted values are ${Object.keys(presets).join(', ')}`);
  if (o.pooling !== 'avg' && o.pooling !== 'max') throw new UsageError(`--pooling '${o.pooling}': accepted values are avg and max`);
  const defense = o.defense as Defense;
  const width = parseNumber(o.width, '--width', 0, true);
  const seed = parseInteger(o.seed, '--seed', 0);
  const epochs = o.epochs ? parseInteger(o.epochs, '--epochs', 1) : presets[defense].epochs;
  const batchSize = o.batchSize ? parseInteger(o.batchSize, '--batch-size', 1) : presets[defense].batchSize;
  const limit = o.subset ? parseInteger(o.subset, '--subset', 1) : undefined;
  const testLimit = parseInteger(o.test, '--test', 0);
  const train = await loadData(o.data, 'train');
  const modelOptions = {
    numClasses: train.classes,
    pooling: o.pooling as 'avg' | 'max',
    width,
    seed,
    ...(o.strides ? { strides: o.strides } : {}),
    ...(o.upsample ? { upsample: parseUpsample(o.upsample) } : {}),
    ...(statsFor(o.data) ? { normalize: statsFor(o.data) } : {}),
  };
  let model;
  try {
    model = buildModel(o.arch, modelOptions);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  const out = o.out ?? `runs/${timestamp()}-${o.arch}-${model.name.split('_').pop()}-${defense}`;
  const checkpointDir = o.checkpointDir ?? `${out}/checkpoints`;
  if (o.resume) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(`${checkpointDir}/latest.json`)) {
      throw new UsageError(`--resume: no checkpoint in ${checkpointDir} (give the run's --checkpoint-dir or --out)`);
    }
  }
  const run = await RunDir.create(out, { command: 'train', ...o, epochs, batchSize, model: model.name, checkpointDir }, { resume: o.resume ?? false });
  const f = featureMapShape(model);
  await run.log(`${model.name}: feature map ${f.height}x${f.width} before ${f.pooling} pooling; ${defense}, ${epochs} epochs, batch ${batchSize}, data ${o.data}`);
  const count = limit ? Math.min(limit, train.data.count) : train.data.count;
  const trainSplit = { images: train.data.images.subarray(0, count * 3072), labels: train.data.labels.subarray(0, count), count };
  const test = testLimit > 0 ? subset((await loadData(o.data, 'test')).data, testLimit) : null;
  const batches = Math.ceil(count / batchSize);
  let bar: Awaited<ReturnType<typeof progressBar>> | null = null;
  // Epochs in the checkpoint: those completed (each is checkpointed before onEpochEnd), or on resume
  // the checkpoint's until the first batch tells (null: not known yet, the checkpoint is untouched).
  let checkpointed: number | null = o.resume ? null : 0;
  let resumedAt: number | null = null;
  const stopBar = () => bar?.stop();
  process.once('SIGINT', () => {
    stopBar();
    const resume = `--resume --checkpoint-dir ${checkpointDir}`;
    console.log(
      checkpointed === 0
        ? '\ninterrupted during epoch 1: no epoch completed, so nothing is checkpointed; start the run again (without --resume)'
        : checkpointed === null
          ? `\ninterrupted before training resumed: the checkpoint in ${checkpointDir} is unchanged; continue with ${resume}`
          : `\ninterrupted: the last completed epoch is checkpointed in ${checkpointDir} (epoch ${checkpointed}); continue with ${resume}`,
    );
    process.exit(130);
  });
  const dataKind = o.data.includes(':') ? o.data.slice(0, o.data.indexOf(':')) : o.data;
  const runSettings: RunSettings = {
    architecture: o.arch,
    strides: model.name.split('_').pop() ?? null,
    pooling: o.pooling,
    upsample: o.upsample ? JSON.stringify(parseUpsample(o.upsample)) : 'none',
    width,
    data: dataKind,
    normalization: statsFor(o.data) ? 'cifar100' : 'cifar10',
  };
  let result;
  try {
    result = await adversarialTrain(model, trainSplit, {
      ...presets[defense],
      epochs,
      batchSize,
      seed,
      checkpointDir,
      resume: o.resume ?? false,
      runSettings,
      ...(test ? { validation: { x: test.x, y: test.y } } : {}),
      onBatchEnd: async (b) => {
        if (b.batch === 0) {
          if (checkpointed === null) resumedAt = b.epoch;
          checkpointed = b.epoch;
          bar = await progressBar(`epoch ${b.epoch + 1}/${epochs}`, batches);
        }
        bar?.update(b.batch + 1, `loss ${b.loss.toFixed(4)}`);
      },
      onEpochEnd: async (e) => {
        bar?.stop();
        checkpointed = e.epoch + 1;
        if (resumedAt !== null) await run.log(`(resumed from the checkpoint of epoch ${resumedAt} in ${checkpointDir})`);
        resumedAt = null;
        const v = e.validation ? `, validation clean ${(100 * e.validation.cleanAccuracy).toFixed(2)}% PGD-10 ${(100 * e.validation.robustAccuracy).toFixed(2)}%${e.best ? ' (best)' : ''}` : '';
        await run.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)}, lr ${e.lr}${v}`);
      },
    });
  } catch (e) {
    stopBar();
    if (e instanceof ResumeMismatchError) {
      const error = new UsageError(resumeRefusal(e, checkpointDir));
      await run.log(error.message, false);
      throw error;
    }
    if (e instanceof TrainingDivergedError) await run.log(e.message, false);
    throw e;
  }
  await model.save(fileSystem(`${out}/model`));
  await run.write('result.json', JSON.stringify(result, null, 1));
  await run.log(`saved ${out}/model${result.best ? ` (best validated weights, epoch ${result.best.epoch + 1})` : ''}`);
  tf.dispose(test ? [test.x] : []);
  model.dispose();
}

/** The CLI option of each run setting the command line controls. */
const OPTION_OF: Record<string, string> = {
  defense: '--defense',
  seed: '--seed',
  batchSize: '--batch-size',
  architecture: '--arch',
  strides: '--strides',
  pooling: '--pooling',
  upsample: '--upsample',
  width: '--width',
  data: '--data',
  normalization: 'normalisation (from --data)',
  'data.images': 'training images (--subset)',
  'data.checksum': 'training data checksum',
  version: 'rmc-robust version',
};
const ARCHITECTURE_SETTINGS = ['architecture', 'strides', 'pooling', 'upsample', 'width', 'normalization'];

/**
 * The refusal of `--resume` with other settings, in the command line's terms: each differing option,
 * without the model fingerprints when an option already explains them, and the way to a fresh run.
 */
function resumeRefusal(e: ResumeMismatchError, checkpointDir: string): string {
  if (e.differences.length === 0) {
    return `--resume: the checkpoint in ${checkpointDir} records no run settings (written by rmc-robust 0.1.0 or earlier), so it cannot be checked to be this run; finish it with the version that started it, or start a fresh run with another --out`;
  }
  const explained = (prefixes: string[]) => e.differences.some((d: SettingDifference) => prefixes.includes(d.setting));
  const shown = e.differences.filter(
    (d) => !(d.setting.startsWith('model.') && explained(ARCHITECTURE_SETTINGS)) && !(d.setting === 'data.checksum' && explained(['data.images', 'data'])),
  );
  return `--resume: the checkpoint in ${checkpointDir} is of a different run: ${describeDifferences(shown, (s) => OPTION_OF[s] ?? s)}; resume with the checkpoint's settings, or start a fresh run with another --out`;
}
