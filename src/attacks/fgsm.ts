/** The fast gradient sign method (Goodfellow et al. 2015), foolbox's `LinfFastGradientAttack`. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Attack } from './attack.js';
import type { LossOption } from './losses.js';
import type { ModelLike } from './model.js';
import { pgdAs } from './pgd.js';
import { checkOptionKeys, factoryOptions, optionKeys, type Bounds, type LabelsLike } from './validate.js';

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

const FGSM_OPTION_KEYS = optionKeys<FgsmOptions>({ eps: true, loss: true, targeted: true, bounds: true });

/**
 * FGSM: one step `x + eps * sign(grad of the summed loss)`, clipped to the bounds; no random start.
 * Returns adversarial images inside the Linf eps-ball and the bounds. Unknown option keys are
 * rejected; non-finite logits throw a {@link NonFiniteLogitsError} (as {@link pgd}).
 */
export function fgsm(model: ModelLike, x: tf.Tensor4D, y: LabelsLike, options: FgsmOptions): tf.Tensor4D {
  if (options && typeof options === 'object') checkOptionKeys(options, FGSM_OPTION_KEYS, 'fgsm');
  return pgdAs('fgsm', model, x, y, options && { ...options, norm: 'linf', steps: 1, relStepSize: 1, randomStart: false });
}

/** FGSM as an {@link Attack} value. */
export function fgsmAttack(options: Omit<FgsmOptions, 'eps'> & { name?: string } = {}): Attack {
  const { name, rest } = factoryOptions(options, FGSM_OPTION_KEYS, 'fgsmAttack');
  return {
    name: name ?? 'FGSM',
    norm: 'linf',
    kind: 'fixed-epsilon',
    targeted: options.targeted ?? false,
    bounds: options.bounds ?? [0, 1],
    run: (model, x, labels, eps) => fgsm(model, x, labels, { ...rest, eps }),
  };
}
