/**
 * Input gradients for the attacks: `tf.grad` that gives back what it holds when the model or the
 * loss throws.
 *
 * When `f` throws inside `tf.grad`, tfjs-core (4.22) keeps the tensors it saved for the backward pass
 * of every op `f` ran before the throw (about 176 for a width-1/16 ResNet-18 on two images): they are
 * `keep`-ed clones on the engine's tape, which only a completed backward pass disposes, so no `tidy`
 * releases them. {@link gradientOf} disposes them and clears the tape when the failed gradient was the
 * outermost one (no enclosing `tf.grad` still recording); inside a caller's own `tf.grad` they stay on
 * that caller's tape, which disposes them if its backward pass completes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { logitsOf, type ModelLike } from './model.js';

/** Disposes the saved tensors of a tape a throwing `tf.grad` left behind (outermost gradient only). */
function releaseFailedTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || !Array.isArray(state.activeTape)) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
  state.activeTape = null as unknown as typeof state.activeTape;
}

/** `tf.grad(f)(x)`; when `f` (or the backward pass) throws, the tape's saved tensors are released first. */
export function gradientOf(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor): tf.Tensor {
  try {
    return tf.grad(f)(x);
  } catch (e) {
    releaseFailedTape();
    throw e;
  }
}

/** What {@link gradientWithValues} gives: the gradient and the forward pass's logits and objective. */
export interface GradientWithValues {
  /** Gradient of the summed objective with respect to `x`. */
  grad: tf.Tensor4D;
  /** The model's logits at `x`. */
  logits: tf.Tensor2D;
  /** The objective's value at `x`, before summing (e.g. the per-example loss). */
  value: tf.Tensor;
}

/**
 * The gradient at `x` of the sum of `objective(logits)`, with the logits and the objective's value of
 * that same forward pass (no second pass). All three are ordinary tensors of the caller's scope (a
 * surrounding `tf.tidy` disposes them). Nothing is left behind when the model or the objective throws.
 */
export function gradientWithValues(model: ModelLike, x: tf.Tensor4D, objective: (logits: tf.Tensor2D) => tf.Tensor): GradientWithValues {
  // Kept to leave the gradient's scope, then handed over as clones (which share their data).
  let logits: tf.Tensor2D | undefined;
  let value: tf.Tensor | undefined;
  try {
    const grad = gradientOf((xi) => {
      logits = tf.keep(logitsOf(model, xi as tf.Tensor4D));
      value = tf.keep(objective(logits));
      return tf.sum(value) as tf.Scalar;
    }, x) as tf.Tensor4D;
    return { grad, logits: tf.clone(logits!), value: tf.clone(value!) };
  } finally {
    tf.dispose([logits, value].filter((t): t is tf.Tensor => t !== undefined));
  }
}
