/**
 * Divergence: training stops at the first non-finite loss or weight, with the epoch and batch, instead
 * of validating, keeping as best or checkpointing NaN weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Thrown by {@link adversarialTrain} when a loss or a weight is NaN or infinite. */
export class TrainingDivergedError extends Error {
  /** 0-based epoch in which the non-finite value appeared. */
  readonly epoch: number;
  /** 0-based batch whose loss was non-finite, or null when a weight was found non-finite at the epoch's end. */
  readonly batch: number | null;
  /** Epochs completed in the last checkpoint this run wrote or resumed from (0: none). */
  readonly lastCheckpointEpoch: number;

  /**
   * Builds the message from what was non-finite and where.
   *
   * @param what What was non-finite, e.g. `the loss is NaN`.
   * @param where `epoch` and `batch` (0-based; batch null for an end-of-epoch weight check), `batches`
   *   per epoch, the learning rate, the last checkpoint's epoch (0: none) and its location (null: no store).
   */
  constructor(what: string, where: { epoch: number; batch: number | null; batches: number; lr: number; lastCheckpointEpoch: number; location: string | null }) {
    const at = where.batch === null
      ? `epoch ${where.epoch + 1} (checked after its last batch)`
      : `epoch ${where.epoch + 1}, batch ${where.batch + 1} of ${where.batches}`;
    const checkpoint = where.location === null
      ? 'no checkpoints were kept'
      : where.lastCheckpointEpoch > 0
        ? `last good checkpoint: epoch ${where.lastCheckpointEpoch} in ${where.location}`
        : `no checkpoint was written in ${where.location} (no epoch completed)`;
    super(`training diverged at ${at}: ${what}; ${checkpoint}; lower the learning rate (it was ${where.lr})`);
    this.name = 'TrainingDivergedError';
    this.epoch = where.epoch;
    this.batch = where.batch;
    this.lastCheckpointEpoch = where.lastCheckpointEpoch;
  }
}

/** `'NaN'`, `'Infinity'` or `'-Infinity'` for a non-finite number. */
export function nonFiniteName(value: number): string {
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/**
 * The name of the first of `model`'s weights (trainable or not, e.g. batch-norm statistics) holding a
 * NaN or an infinity, or null when all are finite: one reduction and one read-back (`sum(w * 0)` is 0
 * exactly when every element is finite), then a per-weight search only when something is wrong.
 */
export function nonFiniteWeight(model: tfl.LayersModel): string | null {
  const weights = model.weights;
  if (weights.length === 0) return null;
  const probe = (values: tf.Tensor[]) => tf.tidy(() => tf.addN(values.map((v) => tf.sum(tf.mul(tf.cast(v, 'float32'), 0)))).dataSync()[0]!);
  if (Number.isFinite(probe(weights.map((w) => w.read())))) return null;
  const bad = weights.find((w) => !Number.isFinite(probe([w.read()])));
  return bad ? bad.originalName : null;
}
