import * as tf from '@tensorflow/tfjs-core';
import { fileSystem } from '../io/file-system.js';
import { featureMapShape } from '../models/inspect.js';
import { adversarialTrain } from '../train/adversarial-train.js';
import { presets, type Defense } from '../train/presets.js';
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
  const run = await RunDir.create(out, { command: 'train', ...o, epochs, batchSize, model: model.name, checkpointDir });
  const f = featureMapShape(model);
  await run.log(`${model.name}: feature map ${f.height}x${f.width} before ${f.pooling} pooling; ${defense}, ${epochs} epochs, batch ${batchSize}, data ${o.data}`);
  const count = limit ? Math.min(limit, train.data.count) : train.data.count;
  const trainSplit = { images: train.data.images.subarray(0, count * 3072), labels: train.data.labels.subarray(0, count), count };
  const test = testLimit > 0 ? subset((await loadData(o.data, 'test')).data, testLimit) : null;
  const batches = Math.ceil(count / batchSize);
  let bar: Awaited<ReturnType<typeof progressBar>> | null = null;
  process.once('SIGINT', () => {
    bar?.stop();
    console.log(`\ninterrupted: the last completed epoch is checkpointed in ${checkpointDir}; continue with --resume --checkpoint-dir ${checkpointDir}`);
    process.exit(130);
  });
  const result = await adversarialTrain(model, trainSplit, {
    ...presets[defense],
    epochs,
    batchSize,
    seed,
    checkpointDir,
    resume: o.resume ?? false,
    ...(test ? { validation: { x: test.x, y: test.y } } : {}),
    onBatchEnd: async (b) => {
      if (b.batch === 0) bar = await progressBar(`epoch ${b.epoch + 1}/${epochs}`, batches);
      bar?.update(b.batch + 1, `loss ${b.loss.toFixed(4)}`);
    },
    onEpochEnd: async (e) => {
      bar?.stop();
      const v = e.validation ? `, validation clean ${(100 * e.validation.cleanAccuracy).toFixed(2)}% PGD-10 ${(100 * e.validation.robustAccuracy).toFixed(2)}%${e.best ? ' (best)' : ''}` : '';
      await run.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)}, lr ${e.lr}${v}`);
    },
  });
  await model.save(fileSystem(`${out}/model`));
  await run.write('result.json', JSON.stringify(result, null, 1));
  await run.log(`saved ${out}/model${result.best ? ` (best validated weights, epoch ${result.best.epoch + 1})` : ''}`);
  tf.dispose(test ? [test.x] : []);
  model.dispose();
}
