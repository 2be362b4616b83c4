import * as tf from '@tensorflow/tfjs-core';
import { checkLogits, meanCrossEntropy } from './common.js';

/**
 * Adversarial training's loss (Madry et al. 2018): the mean cross-entropy on the adversarial
 * examples' logits. Labels are int32 class indices. Returns a scalar.
 */
export function atLoss(logitsAdv: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  checkLogits('atLoss', logitsAdv, y);
  return meanCrossEntropy(logitsAdv, y);
}
