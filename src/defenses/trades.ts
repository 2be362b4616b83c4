import * as tf from '@tensorflow/tfjs-core';
import { checkLogits, checkWeight, klFromLogits, meanCrossEntropy } from './common.js';

/** Options of {@link tradesLoss}. */
export interface TradesOptions {
  /** Weight of the robustness term (default 6, TRADES's CIFAR-10 setting). */
  beta?: number;
}

/**
 * TRADES (Zhang et al. 2019): `CE(nat) + beta * KL(p_nat || p_adv)`, the KL divergence averaged over
 * the batch ("batchmean"), gradients through both logits as in the official code.
 */
export function tradesLoss(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D, options: TradesOptions = {}): tf.Scalar {
  checkLogits('tradesLoss', logitsNat, y, logitsAdv);
  const beta = checkWeight(options.beta ?? 6, 'tradesLoss: beta');
  return tf.tidy(() => tf.add(meanCrossEntropy(logitsNat, y), tf.mul(tf.mean(klFromLogits(logitsNat, logitsAdv)), beta)) as tf.Scalar);
}
