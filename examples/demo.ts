/**
 * `npm run demo`: TRADES on the embedded real CIFAR-10 sample, ResNet18 1-2-2-2 vs 1-1-2-2 (the same as
 * `rmc-robust demo`). About ten minutes on 2 cores with the native kernels.
 *
 *   npx tsx examples/demo.ts [--epochs 4] [--width 0.125] [--test 500] [--out demo-out]
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { runDemo } from '../src/cli/demo.js';

const arg = (name: string, fallback: number | string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : String(fallback);
};
await tf.setBackend('cpu');
await runDemo({ epochs: Number(arg('epochs', 4)), width: Number(arg('width', 0.125)), testSize: Number(arg('test', 500)), out: arg('out', 'demo-out') });
