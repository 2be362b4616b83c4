/**
 * A small seeded pseudo-random generator (mulberry32) and seed derivation, so shuffling, augmentation
 * and attack starts are functions of (seed, epoch, batch): a resumed run repeats them exactly.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A generator of uniform numbers in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 31-bit seed derived from a base seed and integers (e.g. epoch, batch), well mixed. */
export function deriveSeed(base: number, ...parts: number[]): number {
  let h = (base ^ 0x9e3779b9) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ (p + 0x7f4a7c15), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h & 0x7fffffff;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/**
 * `tf.randomNormal(shape, mean, std, 'float32', seed)` with a seed that always takes effect: tfjs-core
 * 4.x's normal generator treats seed 0 as "no seed" (`seed ? seed : Math.random()`), so seed 0 is
 * passed as the string '0', which seeds the same generator (alea, keyed by `String(seed)`) the way every
 * other integer seed does. Results for seeds other than 0 are unchanged; `undefined` draws unseeded.
 * @internal
 */
export function seededRandomNormal(shape: number[], mean: number, std: number, seed: number | undefined): tf.Tensor {
  return tf.randomNormal(shape, mean, std, 'float32', (seed === 0 ? '0' : seed) as number | undefined);
}
