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
import { nonFiniteName, nonFiniteWeight, TrainingDivergedError } from './divergence.js';
import { presets, type Defense, type TrainingPreset } from './presets.js';
import { fingerprint, ResumeMismatchError, runSettings, settingDifferences, type DataIdentity, type RunSettings } from './run-identity.js';
import { piecewiseLr } from './schedule.js';
import { TorchSGD, type SgdState } from './sgd.js';

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
    /** Validate every `every` epochs (an integer >= 1, default 1); the last epoch is always validated. */
    every?: number;
    /** Linf radius of the validation PGD in pixel units (>= 0, default 8/255). */
    eps?: number;
    /** PGD iterations (an integer >= 1, default 10, the reference's PGD-10). */
    steps?: number;
    /** PGD step in pixel units (>= 0, default 2/255). */
    stepSize?: number;
    /** Images per validation batch (an integer >= 1, default 256); each batch's random start has its own seed. */
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
  /**
   * Continue from the checkpoint in `checkpoints` if there is one (default false). The checkpoint must
   * be of the same run: every setting in its {@link RunSettings} (version, defense and its
   * hyperparameters, batch size, seed, augmentation, the model's architecture, the data's checksum and
   * `runSettings`) must equal this call's, else a {@link ResumeMismatchError} lists each difference.
   * `epochs` may differ (to extend a run).
   */
  resume?: boolean;
  /**
   * Settings that shape the run but that the trainer cannot see in the model and data, such as the
   * architecture's options or the data set's name (`{ architecture: 'resnet18', data: 'cifar10' }`):
   * recorded in the checkpoints next to the trainer's own and compared on resume.
   */
  runSettings?: RunSettings;
  /**
   * Called once, before training, when the run resumed from a checkpoint (`resume`), with the epochs
   * the checkpoint holds (training goes on from that 0-based epoch); a returned promise is awaited.
   */
  onResume?: (info: { epoch: number }) => void | Promise<void>;
  /** Called after each SGD step with the batch's progress; a returned promise is awaited. */
  onBatchEnd?: (info: BatchInfo) => void;
  /** Called after each epoch, once validated and checkpointed, with its summary; a returned promise is awaited. */
  onEpochEnd?: (info: EpochInfo) => void | Promise<void>;
}

/** What {@link adversarialTrain} returns. */
export interface TrainResult {
  /** Summary of every epoch of the run, in order: when resumed, the checkpoint's history, then the epochs this call ran (from `startEpoch`). */
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
  labels: tf.Tensor1D;
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
      labels,
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
    labels,
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

/** The data's size and checksum, for the run's identity. */
function dataIdentity(data: TrainingData, labels: tf.Tensor1D): DataIdentity {
  const images = 'images' in data ? data.images : data.x.dataSync();
  return { images: labels.shape[0], checksum: fingerprint(images, labels.dataSync()) };
}

/**
 * Trains `model` with a defense of the paper (`'standard' | 'at' | 'alp' | 'trades' | 'mart' | 'fat' |
 * 'fat-trades' | 'awp-at' | 'awp-trades'`) on in-memory data (NHWC images in [0, 1], int32 labels).
 * Settings not given come from {@link presets} (the reference table): SGD with momentum 0.9 and
 * weight decay as PyTorch applies them, the piecewise schedule, batch 128, eps 8/255, 10 attack steps.
 * Adversarial examples are generated in inference mode; the loss step runs in training mode. All
 * randomness derives from `seed`, the epoch and the batch, so a resumed run ends with the same weights
 * as an uninterrupted one (models with dropout excepted: tfjs's dropout takes no seed). A resumed run
 * must have the checkpoint's settings ({@link ResumeMismatchError} otherwise). Training stops with a
 * {@link TrainingDivergedError} at the first NaN or infinite loss (checked every batch, before the step)
 * or weight (checked after each epoch, before validating and checkpointing).
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
  const validationSettings = validation ? checkValidation(validation) : null;
  const validationLabels = validation ? toLabels(validation.y, validation.x.shape[0], numClasses, 'validation.y') : null;

  const trainable = model.trainableWeights;
  const optimizer = new TorchSGD(trainable, { lr: lrAt(0), momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  let best: TrainingState['best'] = null;
  let bestWeights: tf.Tensor[] | null = null;
  let startEpoch = 0;
  /** Epochs completed in the last checkpoint written or resumed from (0: none). */
  let lastCheckpointEpoch = 0;
  const history: EpochInfo[] = [];

  try {
    const identity = store ? runSettings(model, cfg, { seed, augment, data: dataIdentity(data, source.labels), extra: options.runSettings }) : null;
    if (options.resume && store && identity) {
      const resumed = await resumeFrom(store, model, identity);
      if (resumed) {
        optimizer.setState(resumed.optimizer);
        startEpoch = lastCheckpointEpoch = resumed.epoch;
        history.push(...resumed.history);
        best = resumed.best;
        bestWeights = resumed.bestWeights;
        await options.onResume?.({ epoch: startEpoch });
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
    const diverged = (what: string, epoch: number, batch: number | null) =>
      new TrainingDivergedError(what, { epoch, batch, batches, lr: optimizer.lr, lastCheckpointEpoch, location: store?.location ?? null });
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      optimizer.lr = lrAt(epoch);
      const order = permutation(n, deriveSeed(seed, epoch, 0));
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const index = tf.tensor1d(order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize)), 'int32');
        const { x: raw, y } = source.batch(index);
        const batchTensors: tf.Tensor[] = [index, raw, y];
        let loss: number;
        try {
          const x = augment ? augmentBatch(raw, { seed: deriveSeed(seed, epoch, b + 1, 1) }) : raw;
          batchTensors.push(x);
          const xAdv = adversary(x, y, epoch, deriveSeed(seed, epoch, b + 1, 2));
          if (xAdv) batchTensors.push(xAdv);
          const lossFn = trainingLoss(x, xAdv, y);
          const awp = (cfg.defense === 'awp-at' || cfg.defense === 'awp-trades') && epoch >= (cfg.awpWarmup ?? 0)
            ? awpPerturb(model, lossFn, { gamma: checkNumber(cfg.gamma, 'gamma', { min: 0 }) })
            : null;
          const { value, grads } = tf.variableGrads(lossFn, trainable.map((w) => w.read() as tf.Variable));
          batchTensors.push(value, ...Object.values(grads));
          loss = value.dataSync()[0]!;
          // A non-finite loss stops training before its step: the trainable weights stay those that
          // produced it (this forward pass may have updated batch-norm statistics).
          if (Number.isFinite(loss)) optimizer.step(trainable.map((w) => grads[(w.read() as tf.Variable).name] ?? null));
          awp?.restore();
        } finally {
          tf.dispose(batchTensors);
        }
        if (!Number.isFinite(loss)) throw diverged(`the loss is ${nonFiniteName(loss)}`, epoch, b);
        lossSum += loss;
        await options.onBatchEnd?.({ epoch, batch: b, batches, loss, lr: optimizer.lr });
        await nextTick(); // lets signals (Ctrl-C) and timers in between batches
      }
      const info: EpochInfo = { epoch, loss: lossSum / batches, lr: optimizer.lr };
      // One reduction over the weights. (A non-finite momentum buffer makes its weight non-finite in
      // the same step, so the weights tell for the optimizer state too.)
      const badWeight = nonFiniteWeight(model);
      if (badWeight !== null) throw diverged(`weight ${badWeight} is not finite`, epoch, null);
      let newBest = false;
      if (validationSettings && validationLabels && ((epoch + 1) % validationSettings.every === 0 || epoch === epochs - 1)) {
        info.validation = validate(model, validation!.x, validationLabels, { ...validationSettings, seed: deriveSeed(seed, epoch, 0, 3) });
        // A best record of this very epoch comes from an attempt that crashed before its latest
        // checkpoint (see resumeFrom): this validation of the repeated epoch supersedes it.
        if (!best || best.epoch === epoch || info.validation.robustAccuracy > best.robustAccuracy) {
          best = { epoch, ...info.validation };
          info.best = true;
          newBest = true;
          tf.dispose(bestWeights ?? []);
          bestWeights = model.weights.map((w) => tf.keep(w.read().clone()));
        }
      }
      history.push(info);
      if (store && identity) {
        const optimizerState = optimizer.getState();
        const state: TrainingState = { epoch: epoch + 1, seed, best, defense: cfg.defense, run: identity, history: history.slice() };
        // Best first, then latest: a crash between them leaves a best one epoch ahead of latest, which
        // resuming recognises (see resumeFrom); never a latest whose best record has no weights.
        if (newBest) await store.save('best', model, optimizerState, state);
        await store.save('latest', model, optimizerState, state);
        lastCheckpointEpoch = epoch + 1;
      }
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

/** Resolves after the event loop's pending events (Node's setImmediate; elsewhere at once). */
function nextTick(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : resolve()));
}

/** The validation options checked, with their defaults. */
function checkValidation(v: NonNullable<AdversarialTrainOptions['validation']>) {
  checkImages(v.x, [0, 1], 'validation.x');
  return {
    every: checkNumber(v.every ?? 1, 'validation.every', { min: 1, integer: true }),
    eps: checkNumber(v.eps ?? 8 / 255, 'validation.eps', { min: 0 }),
    steps: checkNumber(v.steps ?? 10, 'validation.steps', { min: 1, integer: true }),
    stepSize: checkNumber(v.stepSize ?? 2 / 255, 'validation.stepSize', { min: 0 }),
    batchSize: checkNumber(v.batchSize ?? 256, 'validation.batchSize', { min: 1, integer: true }),
  };
}

/** A run resumed from a checkpoint: where it stands, and the best validated weights (kept tensors) when there are. */
interface Resumed {
  epoch: number;
  optimizer: SgdState;
  history: EpochInfo[];
  best: TrainingState['best'];
  bestWeights: tf.Tensor[] | null;
}

/**
 * Loads the `latest` checkpoint into `model` after checking that it is of the run `identity` describes
 * (before any weight is written), and the best validated weights from the `best` one. A `best` without
 * a `latest` (a crash between the two saves of the first epoch) is ignored: the run starts afresh. A
 * `best` one epoch ahead of `latest` (a crash between the two saves of a later epoch) is the best so
 * far. Returns null when there is no `latest` checkpoint.
 */
async function resumeFrom(store: CheckpointStore, model: tfl.LayersModel, identity: RunSettings): Promise<Resumed | null> {
  const check = (state: TrainingState) => {
    if (!state.run) throw new ResumeMismatchError(store.location, []);
    const differences = settingDifferences(state.run, identity);
    if (differences.length > 0) throw new ResumeMismatchError(store.location, differences);
  };
  const latest = await store.load('latest', model, check);
  if (!latest) return null;
  check(latest.state); // a custom store may not call check
  const epoch = checkNumber(latest.state.epoch, `checkpoint ${store.location}: epoch`, { min: 1, integer: true });
  let best = latest.state.best;
  let bestWeights: tf.Tensor[] | null = null;
  const current = model.weights.map((w) => w.read().clone());
  try {
    const saved = await store.load('best', model, check);
    const record = saved?.state.best ?? null;
    if (saved) check(saved.state);
    const same = record !== null && best !== null && record.epoch === best.epoch;
    const ahead = record !== null && saved!.state.epoch === epoch + 1 && record.epoch === epoch;
    if (same || ahead) {
      best = record;
      bestWeights = model.weights.map((w) => tf.keep(w.read().clone()));
    } else if (best !== null) {
      throw new Error(
        `resume: the latest checkpoint in ${store.location} records epoch ${best.epoch + 1} as the best, but ${record ? `the best checkpoint holds epoch ${record.epoch + 1}` : 'there is no best checkpoint'}`,
      );
    }
  } catch (e) {
    tf.dispose(bestWeights ?? []);
    throw e;
  } finally {
    model.weights.forEach((w, i) => w.write(current[i]!));
    tf.dispose(current);
  }
  return { epoch, optimizer: latest.optimizer, history: Array.isArray(latest.state.history) ? latest.state.history.slice(0, epoch) : [], best, bestWeights };
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
