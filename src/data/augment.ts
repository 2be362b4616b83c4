/** CIFAR training augmentation: reflect-pad 4, random crop back to size, random horizontal flip. */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from './random.js';

/** Options of {@link augmentBatch}. */
export interface AugmentOptions {
  /** Reflect padding on every side before the random crop (default 4; 0 disables cropping). */
  padding?: number;
  /** Flip horizontally with probability 1/2 (default true). */
  flip?: boolean;
  /** Seed of the crop offsets and flips. */
  seed: number;
}

/**
 * The paper's training augmentation on an NHWC batch (torchvision's `RandomCrop(32, padding=4,
 * padding_mode='reflect')` and `RandomHorizontalFlip()`): each image is reflect-padded, cropped at a
 * random offset back to its size, and flipped with probability 1/2. Returns a new tensor.
 */
export function augmentBatch(x: tf.Tensor4D, options: AugmentOptions): tf.Tensor4D {
  const pad = options.padding ?? 4;
  const flip = options.flip ?? true;
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(pad) || pad < 0 || pad >= Math.min(h, w)) {
    throw new RangeError(`padding = ${pad}: must be an integer in [0, ${Math.min(h, w) - 1}]`);
  }
  const src = x.dataSync();
  const out = new Float32Array(src.length);
  const rand = mulberry32(options.seed);
  // Reflection without repeating the edge (PyTorch's 'reflect').
  const reflect = (k: number, size: number) => (k < 0 ? -k : k >= size ? 2 * size - 2 - k : k);
  for (let i = 0; i < n; i++) {
    const dy = pad ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
    const dx = pad ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
    const mirror = flip && rand() < 0.5;
    const base = i * h * w * c;
    for (let r = 0; r < h; r++) {
      const sr = reflect(r + dy, h);
      for (let col = 0; col < w; col++) {
        const sc = reflect((mirror ? w - 1 - col : col) + dx, w);
        const from = base + (sr * w + sc) * c;
        const to = base + (r * w + col) * c;
        for (let k = 0; k < c; k++) out[to + k] = src[from + k]!;
      }
    }
  }
  return tf.tensor4d(out, [n, h, w, c]);
}
