import * as tf from '@tensorflow/tfjs-core';
import { checkLogits, checkWeight, meanCrossEntropy } from './common.js';

/** Options of {@link martLoss}. */
export interface MartOptions {
  /** Weight of the misclassification-aware KL term (default 5, MART's CIFAR-10 setting). */
  beta?: number;
}

/**
 * MART (Wang et al. 2020), the official definition:
 * `CE(adv) + NLL(log(1.0001 - p_adv + 1e-12), y')` (a boosted loss on the most likely wrong class y')
 * `+ beta * mean_i( sum_j p_nat,j (log p_nat,j - log(p_adv,j + 1e-12)) * (1.0000001 - p_nat,y_i) )`.
 */
export function martLoss(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D, options: MartOptions = {}): tf.Scalar {
  checkLogits('martLoss', logitsNat, y, logitsAdv);
  const beta = checkWeight(options.beta ?? 5, 'martLoss: beta');
  const classes = logitsNat.shape[1];
  if (classes < 2) throw new RangeError(`martLoss: needs at least 2 classes, got ${classes}`);
  return tf.tidy(() => {
    const onehot = tf.oneHot(y, classes);
    const advProbs = tf.softmax(logitsAdv);
    // y' = the most likely class other than y (the top class, or the runner-up when the top is y).
    const spread = tf.add(tf.sub(tf.max(advProbs), tf.min(advProbs)), 1);
    const other = tf.oneHot(tf.argMax(tf.sub(advProbs, tf.mul(onehot, spread)), 1), classes);
    const boost = tf.neg(tf.mean(tf.sum(tf.mul(tf.log(tf.add(tf.sub(1.0001, advProbs), 1e-12)), other), 1)));
    const lossAdv = tf.add(meanCrossEntropy(logitsAdv, y), boost);
    const natProbs = tf.softmax(logitsNat);
    const trueProbs = tf.sum(tf.mul(natProbs, onehot), 1);
    // KL(p_nat || p_adv + 1e-12) per element with PyTorch's KLDivLoss convention (0 log 0 = 0).
    const logNat = tf.log(tf.maximum(natProbs, 1e-45));
    const klTerms = tf.mul(natProbs, tf.sub(logNat, tf.log(tf.add(advProbs, 1e-12))));
    const kl = tf.sum(klTerms, 1);
    const robust = tf.mean(tf.mul(kl, tf.sub(1.0000001, trueProbs)));
    return tf.add(lossAdv, tf.mul(robust, beta)) as tf.Scalar;
  });
}
