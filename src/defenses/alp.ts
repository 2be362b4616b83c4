import * as tf from '@tensorflow/tfjs-core';
import { checkLogits, checkWeight, meanCrossEntropy } from './common.js';

/** Options of {@link alpLoss}. */
export interface AlpOptions {
  /** Weight of the logit pairing term (default 0.5, the reference's). */
  weight?: number;
}

/**
 * Adversarial logit pairing (Kannan et al. 2018) as the paper's code trains it:
 * `CE(nat) + CE(adv) + weight * MSE(logitsAdv, logitsNat)`, cross-entropies averaged over the batch
 * and the squared error over all logits (PyTorch's `F.mse_loss`, reduction mean).
 */
export function alpLoss(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D, options: AlpOptions = {}): tf.Scalar {
  checkLogits('alpLoss', logitsNat, y, logitsAdv);
  const weight = checkWeight(options.weight ?? 0.5, 'alpLoss: weight');
  return tf.tidy(() =>
    tf.addN([meanCrossEntropy(logitsNat, y), meanCrossEntropy(logitsAdv, y), tf.mul(tf.mean(tf.squaredDifference(logitsAdv, logitsNat)), weight)]) as tf.Scalar,
  );
}
