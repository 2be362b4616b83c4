// The WebAssembly SIMD convolutions (what runs where the native addon does not) against
// tfjs-backend-cpu's own kernels on random shapes: strides 1 and 2, 'same'/'valid'/explicit padding,
// dilation, odd sizes, channel counts that are not multiples of the SIMD width, batch 1, forward (plain
// and with bias + ReLU) and both gradients; one shape large enough to take several blocks. They are
// called directly, so this runs whether or not the addon is loaded. Also: the committed module is the
// assembly of its source.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { convShapes } from './helpers/conv-shapes.js';
import { convKernels } from '../src/backend/conv-kernels.js';
import { loadWasmSimdConv } from '../src/backend/wasm-simd-conv.js';
import { disableFastKernels, enableFastKernels } from '../src/index.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
const names = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;

disableFastKernels();
const stock = Object.fromEntries(names.map((name) => [name, tf.getKernel(name, 'cpu')!.kernelFunc])) as Record<(typeof names)[number], KernelFunc>;
enableFastKernels();

const status = loadWasmSimdConv();
const wasm = convKernels(status.engine!, 'wasm-simd', (name) => stock[name as (typeof names)[number]]);

function call(kernel: KernelFunc, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  const info = kernel({ inputs, backend: tf.backend(), attrs } as unknown as Parameters<KernelFunc>[0]) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** max |a - b| / max(1, max |b|) */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const av = a.dataSync();
  const bv = b.dataSync();
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < av.length; i++) {
    diff = Math.max(diff, Math.abs(av[i]! - bv[i]!));
    scale = Math.max(scale, Math.abs(bv[i]!));
  }
  return diff / scale;
}

interface Case {
  batch: number; height: number; width: number; inChannels: number; outChannels: number;
  kernel: number; stride: number; dilation: number; pad: 'same' | 'valid' | 'explicit'; seed: number;
}

/** Each kernel on the same inputs, ours against the stock one; returns the four relative differences. */
function compare(s: Case): number[] {
  const x = tf.randomUniform([s.batch, s.height, s.width, s.inChannels], -1, 1, 'float32', s.seed) as tf.Tensor4D;
  const filter = tf.randomNormal([s.kernel, s.kernel, s.inChannels, s.outChannels], 0, 1, 'float32', s.seed + 1) as tf.Tensor4D;
  const bias = tf.randomNormal([s.outChannels], 0, 1, 'float32', s.seed + 2);
  const pad = s.pad === 'explicit' ? [[0, 0], [1, 0], [2, 1], [0, 0]] : s.pad;
  const conv = { strides: [s.stride, s.stride], pad, dataFormat: 'NHWC', dilations: [s.dilation, s.dilation], dimRoundingMode: undefined };
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, [s.stride, s.stride], [s.dilation, s.dilation], pad as 'same');
  if (info.outHeight <= 0 || info.outWidth <= 0) {
    tf.dispose([x, filter, bias]);
    return []; // no output: not a convolution tfjs runs
  }
  const forward = call(stock.Conv2D, { x, filter }, conv);
  const dy = tf.randomNormal(forward.shape, 0, 1, 'float32', s.seed + 3);
  const cases: Array<[KernelFunc, KernelFunc, Record<string, tf.Tensor>, Record<string, unknown>]> = [
    [wasm['Conv2D']!, stock.Conv2D, { x, filter }, conv],
    [wasm['FusedConv2D']!, stock.FusedConv2D, { x, filter, bias }, { ...conv, activation: 'relu' }],
  ];
  if (s.dilation === 1) {
    // tfjs computes gradients for dilation 1 only.
    const gradient = { strides: conv.strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    cases.push([wasm['Conv2DBackpropInput']!, stock.Conv2DBackpropInput, { dy, filter }, { ...gradient, inputShape: x.shape }]);
    cases.push([wasm['Conv2DBackpropFilter']!, stock.Conv2DBackpropFilter, { x, dy }, { ...gradient, filterShape: filter.shape }]);
  }
  const diffs = cases.map(([ours, theirs, inputs, attrs]) => {
    const a = call(ours, inputs, attrs);
    const b = call(theirs, inputs, attrs);
    const d = relDiff(a, b);
    tf.dispose([a, b]);
    return d;
  });
  tf.dispose([x, filter, bias, forward, dy]);
  return diffs;
}

describe('WebAssembly SIMD convolutions', () => {
  it('load in Node', () => {
    expect(status).toEqual({ engine: expect.any(Object) });
  });

  it('agree with the stock kernels within 1e-4 relative on random shapes', () => {
    const shapes = convShapes(true);
    fc.assert(
      fc.property(shapes, (s) => {
        const span = (s.kernel - 1) * s.dilation + 1;
        if (s.pad === 'valid' && span > Math.min(s.height, s.width)) return;
        if (s.dilation > 1 && s.stride > 1) return; // tfjs allows one or the other
        const before = tf.memory().numTensors;
        for (const d of compare(s)) expect(d).toBeLessThan(1e-4);
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 120, seed: 515151 },
    );
  });

  it('agree on shapes that take several blocks and many channels', () => {
    // 2 x 32 x 32 = 2048 output pixels; blocks hold about 1 MiB of patches, so these take 2 and 10 blocks.
    for (const s of [
      { batch: 2, height: 32, width: 32, inChannels: 20, outChannels: 20, kernel: 3, stride: 1, dilation: 1, pad: 'same' as const, seed: 11 },
      { batch: 2, height: 32, width: 32, inChannels: 96, outChannels: 40, kernel: 3, stride: 1, dilation: 1, pad: 'same' as const, seed: 12 },
      { batch: 1, height: 9, width: 9, inChannels: 64, outChannels: 128, kernel: 1, stride: 2, dilation: 1, pad: 'valid' as const, seed: 13 },
    ]) {
      for (const d of compare(s)) expect(d).toBeLessThan(1e-4);
    }
  });

  it('the committed module is the assembly of wasm/gemm.wat', () => {
    expect(execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' })).toMatch(/matches wasm\/gemm\.wat/);
  });
});
