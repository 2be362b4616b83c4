export { augmentBatch, type AugmentOptions } from './augment.js';
export { mulberry32, deriveSeed, permutation } from './random.js';
