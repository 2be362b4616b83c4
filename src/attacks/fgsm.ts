/** The fast gradient sign method (Goodfellow et al. 2015), foolbox's `LinfFastGradientAttack`. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Attack } from './attack.js';
import type { LossOption } from './losses.js';
import type { ModelLike } from './model.js';
import { pgd } from './pgd.js';
import type { Bounds, LabelsLike } from './validate.js';

/** Options of {@link fgsm}. */
export interface FgsmOptions {
  /** Linf budget (>= 0). */
  eps: number;
  /** Loss to ascend (default `'ce'`, summed cross-entropy). */
  loss?: LossOption;
  /** Descend towards target labels `y` (default false). */
  targeted?: boolean;
  /** Pixel bounds (default [0, 1]). */
  bounds?: Bounds;
}

/**
 * FGSM: one step `x + eps * sign(grad of the summed loss)`, clipped to the bounds; no random start.
 * Returns adversarial images inside the Linf eps-ball and the bounds.
 */
export function fgsm(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: FgsmOptions): tf.Tensor4D {
  return pgd(model, x, y, { ...options, norm: 'linf', steps: 1, relStepSize: 1, randomStart: false });
}

/** FGSM as an {@link Attack} value. */
export function fgsmAttack(options: Omit<FgsmOptions, 'eps'> & { name?: string } = {}): Attack {
  return {
    name: options.name ?? 'FGSM',
    norm: 'linf',
    kind: 'fixed-epsilon',
    targeted: options.targeted ?? false,
    bounds: options.bounds ?? [0, 1],
    run: (model, x, labels, eps) => fgsm(model, x, labels, { ...options, eps }),
  };
}
