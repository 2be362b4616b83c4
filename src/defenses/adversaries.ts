/**
 * The training adversaries of the defenses: TRADES's KL attack, FAT's friendly (early-stopped) PGD,
 * and AWP's adversarial weight perturbation. Example generators run the model in inference mode, as
 * the reference code does (`model.eval()` while attacking).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { logitsOf, type ModelLike } from '../attacks/model.js';
import { checkNumber, checkSeed } from '../attacks/validate.js';
import { klFromLogits } from './common.js';
import { seededRandomNormal } from '../data/random.js';

/** Options of {@link tradesAdversary}. */
export interface TradesAdversaryOptions {
  /** Linf budget (default 8/255). */
  eps?: number;
  /** Steps (default 10). */
  steps?: number;
  /** Step size (default 0.007). */
  stepSize?: number;
  /** Seed of the start `x + 0.001 N(0, 1)`. */
  seed?: number;
}

/**
 * TRADES's inner maximisation (Zhang et al. 2019, official code): from `x + 0.001 N(0, 1)`, `steps`
 * signed-gradient steps on the summed `KL(p_nat || p_adv)`, each projected to the Linf eps-ball and
 * clipped to [0, 1]. Labels are not used.
 */
export function tradesAdversary(model: ModelLike, x: tf.Tensor4D, options: TradesAdversaryOptions = {}): tf.Tensor4D {
  const eps = checkNumber(options.eps ?? 8 / 255, 'eps', { min: 0 });
  const steps = checkNumber(options.steps ?? 10, 'steps', { min: 1, integer: true });
  const stepSize = checkNumber(options.stepSize ?? 0.007, 'stepSize', { min: 0 });
  const seed = checkSeed(options.seed);
  const natural = tf.tidy(() => logitsOf(model, x));
  const gradient = tf.grad((xa: tf.Tensor) => tf.sum(klFromLogits(natural, logitsOf(model, xa as tf.Tensor4D))));
  let xa: tf.Tensor4D = tf.tidy(() => tf.add(x, tf.mul(seededRandomNormal(x.shape, 0, 1, seed), 0.001)) as tf.Tensor4D);
  for (let i = 0; i < steps; i++) {
    const next = tf.tidy(() => {
      const moved = tf.add(xa, tf.mul(tf.sign(gradient(xa)), stepSize));
      return tf.clipByValue(tf.minimum(tf.maximum(moved, tf.sub(x, eps)), tf.add(x, eps)), 0, 1) as tf.Tensor4D;
    });
    xa.dispose();
    xa = next;
  }
  natural.dispose();
  return xa;
}

/** Options of {@link friendlyAdversary}. */
export interface FriendlyAdversaryOptions {
  /** Linf budget (default 8/255; FAT-AT uses 0.031). */
  eps?: number;
  /** Maximum steps (default 10). */
  steps?: number;
  /** Step size (default 2/255; FAT-TRADES uses 0.007). */
  stepSize?: number;
  /** Extra steps allowed after an example is first misclassified (FAT's tau, >= 0). */
  tau: number;
  /** `'ce'` (FAT for AT, mean cross-entropy) or `'kl'` (FAT for TRADES, KL to the clean prediction). */
  loss?: 'ce' | 'kl';
  /** Start: `'uniform'` in the eps-ball (FAT-AT) or `'normal'`, `x + 0.001 N(0, 1)` (FAT-TRADES). */
  start?: 'uniform' | 'normal';
  /** Seed of the random start (a non-negative integer); undefined for a random one. */
  seed?: number;
}

/**
 * FAT's friendly adversarial data (Zhang et al. 2020, `earlystop`): PGD that stops, per example, once
 * the example has been misclassified `tau + 1` times; the others keep iterating up to `steps`. The
 * result keeps the input order.
 */
export function friendlyAdversary(model: ModelLike, x: tf.Tensor4D, y: tf.Tensor1D, options: FriendlyAdversaryOptions): tf.Tensor4D {
  const eps = checkNumber(options.eps ?? 8 / 255, 'eps', { min: 0 });
  const steps = checkNumber(options.steps ?? 10, 'steps', { min: 1, integer: true });
  const stepSize = checkNumber(options.stepSize ?? 2 / 255, 'stepSize', { min: 0 });
  const tau = checkNumber(options.tau, 'tau', { min: 0, integer: true });
  const seed = checkSeed(options.seed);
  const lossKind = options.loss ?? 'ce';
  const n = x.shape[0];
  const natural = lossKind === 'kl' ? tf.tidy(() => logitsOf(model, x)) : null;
  let xa: tf.Tensor4D = tf.tidy(() => {
    const start = (options.start ?? (lossKind === 'kl' ? 'normal' : 'uniform')) === 'normal'
      ? tf.mul(seededRandomNormal(x.shape, 0, 1, seed), 0.001)
      : tf.randomUniform(x.shape, -eps, eps, 'float32', seed);
    return tf.clipByValue(tf.add(x, start), 0, 1) as tf.Tensor4D;
  });
  const control = new Int32Array(n).fill(tau);
  const active = new Uint8Array(n).fill(1);
  const labels = y.dataSync();
  for (let k = 0; k < steps; k++) {
    // One forward for both the predictions (early stop) and the gradient.
    let predictions: Int32Array | Float32Array | Uint8Array = new Int32Array(0);
    const grad = tf.tidy(() =>
      tf.grad((input: tf.Tensor) => {
        const logits = logitsOf(model, input as tf.Tensor4D);
        predictions = tf.argMax(logits, 1).dataSync();
        return natural ? tf.sum(klFromLogits(natural, logits)) : tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, logits.shape[1])), 1)));
      })(xa),
    );
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      if (predictions[i] !== labels[i]) {
        if (control[i] === 0) active[i] = 0;
        else control[i]! -= 1;
      }
    }
    if (!active.some(Boolean)) {
      grad.dispose();
      break;
    }
    const next = tf.tidy(() => {
      const mask = tf.reshape(tf.tensor1d(Array.from(active), 'float32'), [n, 1, 1, 1]);
      const moved = tf.add(xa, tf.mul(tf.mul(tf.sign(grad), stepSize), mask));
      return tf.clipByValue(tf.minimum(tf.maximum(moved, tf.sub(x, eps)), tf.add(x, eps)), 0, 1) as tf.Tensor4D;
    });
    tf.dispose([grad, xa]);
    xa = next;
  }
  natural?.dispose();
  return xa;
}

/** Options of {@link awpPerturb}. */
export interface AwpOptions {
  /** Relative size of the weight perturbation, `gamma * ||w||` per layer (AT-AWP 0.01, TRADES-AWP 0.005). */
  gamma: number;
  /** Step of the proxy SGD that finds the direction (default 0.01, the reference's). */
  proxyLr?: number;
}

/** A weight perturbation in place; `restore` removes it after the optimiser step. */
export interface AwpHandle {
  /** Removes the perturbation, keeping the update the optimiser made at the perturbed point. */
  restore(): void;
}

/**
 * AWP (Wu et al. 2020): perturbs the model's weights towards higher `loss` before the training step.
 * The direction is one proxy SGD step on `loss` (computed in training mode, batch-norm running
 * statistics left untouched); only weights with more than one dimension are perturbed, each by
 * `gamma * ||w|| / (||v|| + 1e-20) * v`. After the optimiser's step, `restore()` sets each weight to
 * `w + (w_after - w_perturbed)`: the step taken at the perturbed point, applied to the original weights
 * (with no step, the original weights exactly).
 */
export function awpPerturb(model: tfl.LayersModel, loss: () => tf.Scalar, options: AwpOptions): AwpHandle {
  const gamma = checkNumber(options.gamma, 'gamma', { min: 0 });
  const proxyLr = checkNumber(options.proxyLr ?? 0.01, 'proxyLr', { min: 0, minExclusive: true });
  const targets = model.trainableWeights.filter((w) => w.shape.length > 1);
  // The proxy's training-mode forward must not move the model's running statistics.
  const statistics = model.weights.filter((w) => !w.trainable).map((w) => [w, w.read().clone()] as const);
  const { value, grads } = tf.variableGrads(loss, targets.map((w) => w.read() as tf.Variable));
  statistics.forEach(([w, saved]) => {
    w.write(saved);
    saved.dispose();
  });
  value.dispose();
  const originals: tf.Tensor[] = [];
  const perturbed: tf.Tensor[] = [];
  targets.forEach((w) => {
    const g = grads[(w.read() as tf.Variable).name]!;
    const original = tf.keep(w.read().clone());
    const next = tf.tidy(() => {
      // Proxy step on -loss: diff = proxyLr * g; v = ||w|| / (||diff|| + 1e-20) * diff.
      const diff = tf.mul(g, proxyLr);
      const scale = tf.div(tf.norm(original), tf.add(tf.norm(diff), 1e-20));
      return tf.add(original, tf.mul(tf.mul(diff, scale), gamma));
    });
    w.write(next);
    originals.push(original);
    perturbed.push(next);
  });
  tf.dispose(Object.values(grads));
  return {
    restore() {
      targets.forEach((w, i) => {
        const restored = tf.tidy(() => tf.add(originals[i]!, tf.sub(w.read(), perturbed[i]!)));
        w.write(restored);
        restored.dispose();
      });
      tf.dispose([...originals, ...perturbed]);
    },
  };
}
