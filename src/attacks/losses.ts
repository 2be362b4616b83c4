/**
 * Per-example attack losses on logits. Each returns a `[N]` tensor the attacker *increases* for an
 * untargeted attack (and decreases, with target labels, for a targeted one).
 */
import * as tf from '@tensorflow/tfjs-core';

/** A per-example loss: `(logits [N, C], labels [N] int32) => [N]`. */
export type LossFn = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;

/** Cross-entropy `-log softmax(z)_y` per example (foolbox's and the paper's attack loss). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.sum(tf.mul(logp, tf.oneHot(labels, logits.shape[1])), 1)) as tf.Tensor1D;
  });
}

/** The largest logit other than the label's: `max_{j != y} z_j`. */
function maxOther(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Tensor1D {
  // Push the label's logit far below every other before the max; exact for finite logits.
  const spread = tf.add(tf.sub(tf.max(logits), tf.min(logits)), 1);
  return tf.max(tf.sub(logits, tf.mul(onehot, spread)), 1) as tf.Tensor1D;
}

/**
 * Carlini-Wagner margin loss `max_{j != y} z_j - z_y` (positive once misclassified), as used by
 * CW-loss PGD (Carlini & Wagner 2017; Madry et al.'s "PGD-CW").
 */
export function cwLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, logits.shape[1]) as tf.Tensor2D;
    const zy = tf.sum(tf.mul(logits, onehot), 1);
    return tf.sub(maxOther(logits, onehot), zy) as tf.Tensor1D;
  });
}

/**
 * The `count` largest logits of each row, largest first (`[z_pi1, z_pi2, ...]`, each `[N]`), built
 * from differentiable ops (tfjs's `topk` has no gradient): the largest is taken out in turn.
 */
function largestLogits(logits: tf.Tensor2D, count: number): tf.Tensor1D[] {
  const classes = logits.shape[1];
  const spread = tf.add(tf.sub(tf.max(logits), tf.min(logits)), 1);
  const values: tf.Tensor1D[] = [];
  let rest: tf.Tensor2D = logits;
  for (let i = 0; i < count; i++) {
    values.push(tf.max(rest, 1) as tf.Tensor1D);
    if (i + 1 < count) rest = tf.sub(rest, tf.mul(tf.oneHot(tf.argMax(rest, 1), classes), spread)) as tf.Tensor2D;
  }
  return values;
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020, AutoAttack), untargeted:
 * `-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3 + 1e-12)` with `z_pi1 >= z_pi2 >= z_pi3` the sorted logits.
 * Needs at least 3 classes.
 */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 3) throw new RangeError(`dlrLoss: needs at least 3 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, logits.shape[1]) as tf.Tensor2D;
    const zy = tf.sum(tf.mul(logits, onehot), 1);
    const [first, , third] = largestLogits(logits, 3);
    const denom = tf.add(tf.sub(first!, third!), 1e-12);
    return tf.div(tf.neg(tf.sub(zy, maxOther(logits, onehot))), denom) as tf.Tensor1D;
  });
}

/**
 * Targeted Difference of Logits Ratio (Croce & Hein 2020; APGD-T's loss):
 * `-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)`, with `y` the true class, `t` the target and
 * `z_pi1 >= ... >= z_pi4` the sorted logits. The attacker *increases* it (towards `z_t > z_y`).
 * Needs at least 4 classes.
 */
export function dlrTargetedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 4) throw new RangeError(`dlrTargetedLoss: needs at least 4 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const zy = tf.sum(tf.mul(logits, tf.oneHot(labels, classes)), 1);
    const zt = tf.sum(tf.mul(logits, tf.oneHot(targets, classes)), 1);
    const [first, , third, fourth] = largestLogits(logits, 4);
    const denom = tf.add(tf.sub(first!, tf.mul(tf.add(third!, fourth!), 0.5)), 1e-12);
    return tf.div(tf.neg(tf.sub(zy, zt)), denom) as tf.Tensor1D;
  });
}

/** Loss option of the gradient attacks: a name or a per-example function. */
export type LossOption = 'ce' | 'cw' | 'dlr' | LossFn;

export function resolveLoss(loss: LossOption | undefined): LossFn {
  if (loss === undefined || loss === 'ce') return crossEntropy;
  if (loss === 'cw') return cwLoss;
  if (loss === 'dlr') return dlrLoss;
  if (typeof loss === 'function') return loss;
  throw new RangeError(`loss = ${JSON.stringify(loss)}: accepted values are 'ce', 'cw', 'dlr' or a function (logits, labels) => per-example loss`);
}
