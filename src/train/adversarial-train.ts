/**
 * The adversarial trainer: any of the paper's defenses on any model, with the reference optimiser,
 * schedule and augmentation, PGD-10 validation that keeps the best weights (the paper's early
 * stopping), and resumable checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { logitsOf } from '../attacks/model.js';
import { pgd } from '../attacks/pgd.js';
import { checkImages, checkNumber, toLabels, type LabelsLike } from '../attacks/validate.js';
import { augmentBatch } from '../data/augment.js';
import type { CifarSplit } from '../data/cifar.js';
import { deriveSeed, permutation } from '../data/random.js';
import { friendlyAdversary, tradesAdversary, awpPerturb } from '../defenses/adversaries.js';
import { alpLoss } from '../defenses/alp.js';
import { meanCrossEntropy } from '../defenses/common.js';
import { martLoss } from '../defenses/mart.js';
import { tradesLoss } from '../defenses/trades.js';
import { checkpointStore, type CheckpointStore, type TrainingState } from './checkpoint.js';
import { presets, type Defense, type TrainingPreset } from './presets.js';
import { piecewiseLr } from './schedule.js';
import { TorchSGD } from './sgd.js';

/** Progress after each batch. */
export interface BatchInfo {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based index of the batch within the epoch. */
  batch: number;
  /** Batches per epoch, `ceil(images / batchSize)`. */
  batches: number;
  /** The defense's training loss on this batch (for AWP, at the perturbed weights), before the step. */
  loss: number;
  /** Learning rate of the step just taken (the epoch's rate from the schedule). */
  lr: number;
}

/** Summary after each epoch. */
export interface EpochInfo {
  /** 0-based epoch. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** The learning rate used throughout the epoch. */
  lr: number;
  /** Validation accuracies (clean and PGD-10), when validation ran this epoch. */
  validation?: {
    /** Fraction in [0, 1] of the validation images classified correctly. */
    cleanAccuracy: number;
    /** Fraction in [0, 1] of the validation images still classified correctly under the validation PGD. */
    robustAccuracy: number;
  };
  /** Whether these weights are the best so far (highest validation robust accuracy). */
  best?: boolean;
}

/** Options of {@link adversarialTrain}; unspecified settings come from `presets[defense]`. */
export interface AdversarialTrainOptions extends Partial<Omit<TrainingPreset, 'defense'>> {
  /** The defense to train (required); its {@link presets} entry fills the settings not given. */
  defense: Defense;
  /** Apply reflect-pad-4 random crops and horizontal flips to training batches (default true). */
  augment?: boolean;
  /** Seed of shuffling, augmentation and attack starts (default 0). */
  seed?: number;
  /** Validation set for the per-epoch PGD-10 evaluation that keeps the best weights. */
  validation?: {
    /** Validation images, NHWC float32 pixels in [0, 1] (e.g. a CIFAR-10 test subset). */
    x: tf.Tensor4D;
    /** Their class indices, one per image. */
    y: LabelsLike;
    /** Validate every `every` epochs (default 1); the last epoch is always validated. */
    every?: number;
    /** Linf radius of the validation PGD in pixel units (default 8/255). */
    eps?: number;
    /** PGD iterations (default 10, the reference's PGD-10). */
    steps?: number;
    /** PGD step in pixel units (default 2/255). */
    stepSize?: number;
    /** Images per validation batch (default 256); each batch's random start has its own seed. */
    batchSize?: number;
  };
  /** At the end, load the best validated weights into the model (default true when validating). */
  restoreBest?: boolean;
  /**
   * Where to checkpoint after every epoch (the last epoch, and the best validated one): a directory
   * (Node), a tfjs URL such as `'indexeddb://my-run'` (browser), or a {@link CheckpointStore} (custom
   * IO handlers: {@link ioCheckpoints}). See {@link checkpointStore}.
   */
  checkpoints?: string | CheckpointStore;
  /** The same as `checkpoints` with a directory (the 0.1 name, kept). */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpoints` if there is one (default false). */
  resume?: boolean;
  /** Called after each SGD step with the batch's progress. */
  onBatchEnd?: (info: BatchInfo) => void;
  /** Called after each epoch, once validated and checkpointed, with its summary; a returned promise is awaited. */
  onEpochEnd?: (info: EpochInfo) => void | Promise<void>;
}

/** What {@link adversarialTrain} returns. */
export interface TrainResult {
  /** Summary of each epoch this call ran, in order (from `startEpoch` when resumed). */
  epochs: EpochInfo[];
  /** The best validated epoch and its accuracies (also from before a resume), or null without validation. */
  best: TrainingState['best'];
  /** Epoch the run started from (0, or the resumed checkpoint's). */
  startEpoch: number;
}

/**
 * Training data: NHWC float images in [0, 1] with labels, or a CIFAR split as loaded (uint8 images),
 * from which each batch is converted on the fly so the data set is never held twice.
 */
export type TrainingData =
  | {
      /** Training images, NHWC float32 pixels in [0, 1]. */
      x: tf.Tensor4D;
      /** Their class indices, one per image. */
      y: LabelsLike;
    }
  | CifarSplit;

interface BatchSource {
  count: number;
  batch(index: tf.Tensor1D): { x: tf.Tensor4D; y: tf.Tensor1D };
  dispose(): void;
}

function batchSource(data: TrainingData, numClasses: number): BatchSource {
  if ('images' in data) {
    const { images, count } = data;
    const pixels = images.length / count;
    if (!Number.isInteger(pixels) || pixels !== 32 * 32 * 3) throw new RangeError(`data: expected ${count} images of 32x32x3 bytes, got ${images.length} bytes`);
    const labels = toLabels(data.labels, count, numClasses, 'data.labels');
    return {
      count,
      batch(index) {
        const rows = index.dataSync();
        const out = new Float32Array(rows.length * pixels);
        rows.forEach((row, k) => {
          const src = images.subarray(row * pixels, (row + 1) * pixels);
          for (let i = 0; i < pixels; i++) out[k * pixels + i] = src[i]! / 255;
        });
        return { x: tf.tensor4d(out, [rows.length, 32, 32, 3]), y: tf.gather(labels, index) as tf.Tensor1D };
      },
      dispose: () => labels.dispose(),
    };
  }
  checkImages(data.x, [0, 1], 'data.x');
  const labels = toLabels(data.y, data.x.shape[0], numClasses, 'data.y');
  return {
    count: data.x.shape[0],
    batch: (index) => ({ x: tf.gather(data.x, index) as tf.Tensor4D, y: tf.gather(labels, index) as tf.Tensor1D }),
    dispose: () => labels.dispose(),
  };
}

const DEFENSES = Object.keys(presets) as Defense[];

function tauAt(tau: TrainingPreset['tau'], epoch: number): number {
  if (!tau) return 0;
  let value = tau.values[0] ?? 0;
  tau.epochs.forEach((e, i) => {
    if (epoch >= e) value = tau.values[i]!;
  });
  return value;
}

/**
 * Trains `model` with a defense of the paper (`'standard' | 'at' | 'alp' | 'trades' | 'mart' | 'fat' |
 * 'fat-trades' | 'awp-at' | 'awp-trades'`) on in-memory data (NHWC images in [0, 1], int32 labels).
 * Settings not given come from {@link presets} (the reference table): SGD with momentum 0.9 and
 * weight decay as PyTorch applies them, the piecewise schedule, batch 128, eps 8/255, 10 attack steps.
 * Adversarial examples are generated in inference mode; the loss step runs in training mode. All
 * randomness derives from `seed`, the epoch and the batch, so a resumed run ends with the same weights
 * as an uninterrupted one (models with dropout excepted: tfjs's dropout takes no seed).
 */
export async function adversarialTrain(model: tfl.LayersModel, data: TrainingData, options: AdversarialTrainOptions): Promise<TrainResult> {
  if (!options || !DEFENSES.includes(options.defense)) {
    throw new RangeError(`defense = ${JSON.stringify(options?.defense)}: accepted values are ${DEFENSES.map((d) => `'${d}'`).join(', ')}`);
  }
  const cfg: TrainingPreset = { ...presets[options.defense], ...stripUndefined(options) } as TrainingPreset;
  const epochs = checkNumber(cfg.epochs, 'epochs', { min: 1, integer: true });
  const batchSize = checkNumber(cfg.batchSize, 'batchSize', { min: 1, integer: true });
  const eps = checkNumber(cfg.eps, 'eps', { min: 0 });
  const attackSteps = cfg.defense === 'standard' ? 0 : checkNumber(cfg.attackSteps, 'attackSteps', { min: 1, integer: true });
  const attackStepSize = checkNumber(cfg.attackStepSize, 'attackStepSize', { min: 0 });
  const beta = checkNumber(cfg.beta ?? 0, 'beta', { min: 0 });
  const lrAt = piecewiseLr(cfg.lr);
  const seed = checkNumber(options.seed ?? 0, 'seed', { min: 0, integer: true });
  const augment = options.augment ?? true;
  if (options.checkpoints !== undefined && options.checkpointDir !== undefined) throw new RangeError('checkpoints, checkpointDir: give one of them');
  const location = options.checkpoints ?? options.checkpointDir;
  const store = location === undefined ? null : checkpointStore(location);
  if (options.resume && !store) throw new RangeError('resume: needs checkpoints (or checkpointDir)');
  const numClasses = model.outputs[0]!.shape[1] as number;
  const source = batchSource(data, numClasses);
  const n = source.count;
  const validation = options.validation;
  if (validation) checkImages(validation.x, [0, 1], 'validation.x');
  const validationLabels = validation ? toLabels(validation.y, validation.x.shape[0], numClasses, 'validation.y') : null;

  const trainable = model.trainableWeights;
  const optimizer = new TorchSGD(trainable, { lr: lrAt(0), momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  let best: TrainingState['best'] = null;
  let bestWeights: tf.Tensor[] | null = null;
  let startEpoch = 0;
  const history: EpochInfo[] = [];

  try {
    if (options.resume && store) {
      // The best validated weights so far, to restore at the end even if no later epoch beats them.
      if (await store.load('best', model)) {
        bestWeights = model.weights.map((w) => tf.keep(w.read().clone()));
      }
      const loaded = await store.load('latest', model);
      if (loaded) {
        if (loaded.state.defense !== cfg.defense) {
          throw new RangeError(`resume: the checkpoint in ${store.location} was trained with '${loaded.state.defense}', not '${cfg.defense}'`);
        }
        if (loaded.state.seed !== seed) throw new RangeError(`resume: the checkpoint used seed ${loaded.state.seed}, this run ${seed}`);
        optimizer.setState(loaded.optimizer);
        startEpoch = loaded.state.epoch;
        best = loaded.state.best;
      }
    }

    const trainingLoss = (x: tf.Tensor4D, xAdv: tf.Tensor4D | null, y: tf.Tensor1D) => (): tf.Scalar => {
      const logits = (input: tf.Tensor4D) => model.apply(input, { training: true }) as tf.Tensor2D;
      switch (cfg.defense) {
        case 'standard':
          return meanCrossEntropy(logits(x), y);
        case 'at':
        case 'fat':
        case 'awp-at':
          return meanCrossEntropy(logits(xAdv!), y);
        case 'alp':
          return alpLoss(logits(x), logits(xAdv!), y, { weight: cfg.beta ?? 0.5 });
        case 'mart':
          return martLoss(logits(x), logits(xAdv!), y, { beta });
        default:
          return tradesLoss(logits(x), logits(xAdv!), y, { beta });
      }
    };

    const adversary = (x: tf.Tensor4D, y: tf.Tensor1D, epoch: number, attackSeed: number): tf.Tensor4D | null => {
      const common = { eps, steps: attackSteps, stepSize: attackStepSize, seed: attackSeed };
      switch (cfg.defense) {
        case 'standard':
          return null;
        case 'at':
        case 'alp':
        case 'awp-at':
          return pgd(model, x, y, { eps, steps: attackSteps, stepSize: attackStepSize, randomStart: true, seed: attackSeed });
        case 'mart':
          // MART's official attack: CE, start x + 0.001 N(0, 1), no early stop.
          return friendlyAdversary(model, x, y, { ...common, tau: attackSteps, loss: 'ce', start: 'normal' });
        case 'fat':
          return friendlyAdversary(model, x, y, { ...common, tau: tauAt(cfg.tau, epoch), loss: 'ce', start: 'uniform' });
        case 'fat-trades':
          return friendlyAdversary(model, x, y, { ...common, tau: tauAt(cfg.tau, epoch), loss: 'kl', start: 'normal' });
        default:
          return tradesAdversary(model, x, common);
      }
    };

    const batches = Math.ceil(n / batchSize);
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      optimizer.lr = lrAt(epoch);
      const order = permutation(n, deriveSeed(seed, epoch, 0));
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const index = tf.tensor1d(order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize)), 'int32');
        const { x: raw, y } = source.batch(index);
        const x = augment ? augmentBatch(raw, { seed: deriveSeed(seed, epoch, b + 1, 1) }) : raw;
        const xAdv = adversary(x, y, epoch, deriveSeed(seed, epoch, b + 1, 2));
        const lossFn = trainingLoss(x, xAdv, y);
        const awp = (cfg.defense === 'awp-at' || cfg.defense === 'awp-trades') && epoch >= (cfg.awpWarmup ?? 0)
          ? awpPerturb(model, lossFn, { gamma: checkNumber(cfg.gamma, 'gamma', { min: 0 }) })
          : null;
        const { value, grads } = tf.variableGrads(lossFn, trainable.map((w) => w.read() as tf.Variable));
        optimizer.step(trainable.map((w) => grads[(w.read() as tf.Variable).name] ?? null));
        awp?.restore();
        const loss = value.dataSync()[0]!;
        lossSum += loss;
        tf.dispose([index, raw, y, x, ...(xAdv ? [xAdv] : []), value, ...Object.values(grads)]);
        options.onBatchEnd?.({ epoch, batch: b, batches, loss, lr: optimizer.lr });
      }
      const info: EpochInfo = { epoch, loss: lossSum / batches, lr: optimizer.lr };
      const every = validation?.every ?? 1;
      if (validation && validationLabels && ((epoch + 1) % every === 0 || epoch === epochs - 1)) {
        info.validation = validate(model, validation.x, validationLabels, {
          eps: validation.eps ?? 8 / 255,
          steps: validation.steps ?? 10,
          stepSize: validation.stepSize ?? 2 / 255,
          batchSize: validation.batchSize ?? 256,
          seed: deriveSeed(seed, epoch, 0, 3),
        });
        if (!best || info.validation.robustAccuracy > best.robustAccuracy) {
          best = { epoch, ...info.validation };
          info.best = true;
          tf.dispose(bestWeights ?? []);
          bestWeights = model.weights.map((w) => tf.keep(w.read().clone()));
          if (store) await store.save('best', model, optimizer.getState(), { epoch: epoch + 1, seed, best, defense: cfg.defense });
        }
      }
      if (store) await store.save('latest', model, optimizer.getState(), { epoch: epoch + 1, seed, best, defense: cfg.defense });
      history.push(info);
      await options.onEpochEnd?.(info);
    }
    if (bestWeights && (options.restoreBest ?? true)) {
      model.weights.forEach((w, i) => w.write(bestWeights![i]!));
    }
  } finally {
    optimizer.dispose();
    source.dispose();
    tf.dispose([...(validationLabels ? [validationLabels] : []), ...(bestWeights ?? [])]);
  }
  return { epochs: history, best, startEpoch };
}

/** Clean and PGD accuracy on a validation set, in batches. */
function validate(model: tfl.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, o: { eps: number; steps: number; stepSize: number; batchSize: number; seed: number }) {
  const n = x.shape[0];
  let clean = 0;
  let robust = 0;
  for (let start = 0; start < n; start += o.batchSize) {
    const size = Math.min(o.batchSize, n - start);
    const xb = tf.slice(x, start, size) as tf.Tensor4D;
    const yb = tf.slice(y, start, size) as tf.Tensor1D;
    const adv = pgd(model, xb, yb, { eps: o.eps, steps: o.steps, stepSize: o.stepSize, randomStart: true, seed: o.seed + start });
    const count = (images: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logitsOf(model, images), 1), yb), 'int32')).dataSync()[0]!);
    clean += count(xb);
    robust += count(adv);
    tf.dispose([xb, yb, adv]);
  }
  return { cleanAccuracy: clean / n, robustAccuracy: robust / n };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
