import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TorchStateDict, WideResNetOptions } from '../../src/index.js';

/** A tensor as the fixtures store it: shape and base64 little-endian float32. */
export interface Encoded {
  shape: number[];
  data: string;
}

export function decode(e: Encoded): Float32Array {
  const buf = Buffer.from(e.data, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function toTensor(e: Encoded): tf.Tensor {
  return tf.tensor(decode(e), e.shape, 'float32');
}

export interface TorchFixture {
  provenance: Record<string, string>;
  paramCounts: Record<string, number>;
  models: Array<{
    id: string;
    arch: 'resnet18' | 'preActResNet18' | 'vgg16' | 'alexnet' | 'wideResNet';
    options: WideResNetOptions;
    stateDict: Record<string, Encoded>;
    input: Encoded;
    labels: number[];
    logits: Encoded;
    /** Input gradient of the summed cross-entropy w.r.t. `labels`, inference mode. */
    inputGrad: Encoded;
    /** Training-mode (batch statistics) logits, for the architectures without dropout. */
    trainLogits?: Encoded;
    /** PyTorch (foolbox-semantics) attack results: PGD without random start, DeepFool raw. */
    attacks?: Record<'pgdLinf' | 'pgdL2' | 'deepfoolLinf' | 'deepfoolL2', { adversarial: Encoded; predictions: number[] }>;
  }>;
  upsample: Array<{
    mode: 'nearest' | 'bilinear';
    scale: number;
    input: Encoded;
    output: Encoded;
    outputWeights: Encoded;
    inputGrad: Encoded;
  }>;
  batchNorm: {
    gamma: number[];
    beta: number[];
    inputs: Encoded[];
    trainOutputs: Encoded[];
    outputWeights: Encoded;
    inputGrad: Encoded;
    gammaGrad: number[];
    betaGrad: number[];
    runningMean: number[];
    runningVar: number[];
    evalOutput: Encoded;
  };
}

/**
 * PyTorch 1.13 reference values written by scripts/make-torch-fixture.sh (tfjs weights exported by
 * scripts/export-tfjs-models.ts, loaded into the reference definitions of scripts/torch_reference.py).
 */
export function loadTorchFixture(): TorchFixture {
  const path = fileURLToPath(new URL('../fixtures/torch-reference.json', import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as TorchFixture;
}

export function stateDictOf(encoded: Record<string, Encoded>): TorchStateDict {
  return Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, { shape: v.shape, data: decode(v) }]));
}

/** Largest absolute elementwise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
