import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkSeed } from '../attacks/validate.js';
import { deriveSeed, seededRandomNormal } from '../data/random.js';

/** Weight initialisers of the disturbance network (paper Fig. 8). */
export type DisturbanceInit = 'default' | 'normal' | 'uniform' | 'xavierNormal' | 'xavierUniform';

/** Options of {@link disturbanceExperiment}. */
export interface DisturbanceOptions {
  /** Input (= feature map) sizes to compare (default [8, 16, 32, 64]). */
  sizes?: number[];
  /** Perturbations sampled per size (default 1000, the paper's). */
  samples?: number;
  /** Perturbations are drawn from U[-delta, delta] (default 0.1). */
  delta?: number;
  /** Output channels of the convolutions (default [16, 32, 64]: the paper's 3-16-32-64 network). */
  channels?: number[];
  /**
   * Initialiser: `'default'` (PyTorch's conv default, U(+-1/sqrt(fan_in)) with bias), `'normal'` N(0, 1),
   * `'uniform'` U(0, 1), `'xavierNormal'`, `'xavierUniform'` (the last four without bias).
   */
  init?: DisturbanceInit;
  /** ReLU after each convolution (default true) or a linear network. */
  relu?: boolean;
  /** Seed of the weights, the random images and the perturbations (a non-negative integer, default 0). */
  seed?: number;
  /** Perturbations per batch (default 100). */
  batchSize?: number;
}

/** Disturbance statistics: the l-infinity norm of the output change, over the samples. */
export interface DisturbanceStat {
  /** Mean over the samples of `max |f(x + delta) - f(x)|`. */
  mean: number;
  /** Largest over the samples. */
  max: number;
}

/** One feature size's result. */
export interface DisturbanceRow {
  /** Side of the square input image, in pixels; with stride-1 'same' convolutions also the feature map's side. */
  size: number;
  /** After each convolution (and activation). */
  layers: DisturbanceStat[];
  /** After global average pooling of the last feature map. */
  avgPool: DisturbanceStat;
  /** After global max pooling of the last feature map. */
  maxPool: DisturbanceStat;
  /**
   * Proposition 1's quantities measured on the last feature map: the range [a, b] of the disturbances
   * d_ij, the mean of d_ij (the proposition assumes 0), and HW / (b - a)^2 of Remark 3.
   */
  assumptions: {
    /** Smallest disturbance `d_ij` seen on the last feature map (Proposition 1's `a`). */
    a: number;
    /** Largest disturbance `d_ij` seen on the last feature map (Proposition 1's `b`). */
    b: number;
    /** Mean of the disturbances `d_ij` over all positions, channels and samples (assumed 0 by the proposition). */
    mean: number;
    /** `H * W / (b - a)^2` with `H = W = size`: Remark 3's quantity, which should grow with the map. */
    hwOverRangeSquared: number;
  };
}

/**
 * The paper's feature-disturbance experiment (Fig. 2, Fig. 8): a randomly initialised CNN (3x3
 * convolutions, stride 1, 'same' padding, 3 -> 16 -> 32 -> 64 channels) on a random image of each size,
 * `samples` input perturbations from U[-delta, delta], and the l-infinity disturbance after each layer
 * and after average and max pooling. The same weights serve every size; everything is seeded.
 * Proposition 1 predicts that the disturbance after average pooling falls as the map grows and the one
 * after max pooling rises.
 */
export function disturbanceExperiment(options: DisturbanceOptions = {}): DisturbanceRow[] {
  const sizes = options.sizes ?? [8, 16, 32, 64];
  sizes.forEach((s, i) => checkNumber(s, `sizes[${i}]`, { min: 1, integer: true }));
  const samples = checkNumber(options.samples ?? 1000, 'samples', { min: 1, integer: true });
  const delta = checkNumber(options.delta ?? 0.1, 'delta', { min: 0 });
  const channels = options.channels ?? [16, 32, 64];
  channels.forEach((c, i) => checkNumber(c, `channels[${i}]`, { min: 1, integer: true }));
  const init = options.init ?? 'default';
  if (!['default', 'normal', 'uniform', 'xavierNormal', 'xavierUniform'].includes(init)) {
    throw new RangeError(`init = '${String(init)}': accepted values are 'default', 'normal', 'uniform', 'xavierNormal', 'xavierUniform'`);
  }
  const relu = options.relu ?? true;
  const seed = checkSeed(options.seed ?? 0) ?? 0;
  const batchSize = checkNumber(options.batchSize ?? 100, 'batchSize', { min: 1, integer: true });

  let inC = 3;
  const weights: Array<{ w: tf.Tensor4D; b: tf.Tensor | null }> = channels.map((outC, i) => {
    const fanIn = inC * 9;
    const fanOut = outC * 9;
    const s = deriveSeed(seed, i, 1);
    const shape = [3, 3, inC, outC];
    let w: tf.Tensor;
    let b: tf.Tensor | null = null;
    if (init === 'default') {
      const bound = 1 / Math.sqrt(fanIn);
      w = tf.randomUniform(shape, -bound, bound, 'float32', s);
      b = tf.randomUniform([outC], -bound, bound, 'float32', s + 1);
    } else if (init === 'normal') w = seededRandomNormal(shape, 0, 1, s);
    else if (init === 'uniform') w = tf.randomUniform(shape, 0, 1, 'float32', s);
    else if (init === 'xavierNormal') w = seededRandomNormal(shape, 0, Math.sqrt(2 / (fanIn + fanOut)), s);
    else {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      w = tf.randomUniform(shape, -bound, bound, 'float32', s);
    }
    inC = outC;
    return { w: w as tf.Tensor4D, b };
  });
  const forward = (x: tf.Tensor4D): tf.Tensor4D[] => {
    const outs: tf.Tensor4D[] = [];
    let h = x;
    for (const { w, b } of weights) {
      let y = tf.conv2d(h, w as tf.Tensor4D, 1, 'same');
      if (b) y = tf.add(y, b);
      if (relu) y = tf.relu(y);
      outs.push(y as tf.Tensor4D);
      h = y as tf.Tensor4D;
    }
    return outs;
  };

  try {
    return sizes.map((size, sizeIndex) => {
      const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', deriveSeed(seed, 1000 + sizeIndex));
      const clean = tf.tidy(() => forward(x as tf.Tensor4D));
      const cleanAvg = tf.mean(clean[clean.length - 1]!, [1, 2]);
      const cleanMax = tf.max(clean[clean.length - 1]!, [1, 2]);
      const layerNorms: number[][] = channels.map(() => []);
      const avgNorms: number[] = [];
      const maxNorms: number[] = [];
      let a = Infinity;
      let b = -Infinity;
      let sum = 0;
      let count = 0;
      for (let start = 0; start < samples; start += batchSize) {
        const m = Math.min(batchSize, samples - start);
        tf.tidy(() => {
          const perturbation = tf.randomUniform([m, size, size, 3], -delta, delta, 'float32', deriveSeed(seed, 2000 + sizeIndex, start));
          const outs = forward(tf.add(x, perturbation) as tf.Tensor4D);
          outs.forEach((out, l) => {
            const norms = tf.max(tf.abs(tf.sub(out, clean[l]!)), [1, 2, 3]).dataSync();
            layerNorms[l]!.push(...norms);
          });
          const last = outs[outs.length - 1]!;
          const d = tf.sub(last, clean[clean.length - 1]!);
          const stats = tf.stack([tf.min(d), tf.max(d), tf.sum(d)]).dataSync();
          a = Math.min(a, stats[0]!);
          b = Math.max(b, stats[1]!);
          sum += stats[2]!;
          count += d.size;
          avgNorms.push(...tf.max(tf.abs(tf.sub(tf.mean(last, [1, 2]), cleanAvg)), 1).dataSync());
          maxNorms.push(...tf.max(tf.abs(tf.sub(tf.max(last, [1, 2]), cleanMax)), 1).dataSync());
        });
      }
      tf.dispose([x, ...clean, cleanAvg, cleanMax]);
      const stat = (values: number[]): DisturbanceStat => ({ mean: values.reduce((s, v) => s + v, 0) / values.length, max: Math.max(...values) });
      return {
        size,
        layers: layerNorms.map(stat),
        avgPool: stat(avgNorms),
        maxPool: stat(maxNorms),
        assumptions: { a, b, mean: sum / count, hwOverRangeSquared: (size * size) / ((b - a) * (b - a)) },
      };
    });
  } finally {
    weights.forEach(({ w, b }) => tf.dispose([w, ...(b ? [b] : [])]));
  }
}
