// The native (oneDNN) kernels match tfjs-backend-cpu's own kernels on random shapes: strides 1 and 2,
// 'same'/'valid'/explicit padding, odd sizes, batch 1, forward and both gradients.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convShapes } from './helpers/conv-shapes.js';
import { backendInfo, disableFastKernels, enableFastKernels, TorchSGD } from '../src/index.js';

const info = backendInfo();
const native = info.native.available;

/** Same shapes and the same float32 values, NaN included (compared as strings). */
function expectBitIdentical(actual: tf.Tensor[], expected: tf.Tensor[]): void {
  actual.forEach((t, i) => {
    expect(t.shape).toEqual(expected[i]!.shape);
    expect(Array.from(t.dataSync()).map(String)).toEqual(Array.from(expected[i]!.dataSync()).map(String));
  });
}

describe('kernel pack', () => {
  const convs = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const elementwise = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Relu', 'Step'];
  const reductions = ['Sum', 'Mean'];

  it('reports honestly who computes each kernel', () => {
    // Without the addon the convolutions run on the WebAssembly SIMD matrix product (RMC_WASM_SIMD=0: tfjs's own).
    const expected = native ? 'native' : process.env['RMC_WASM_SIMD'] === '0' ? 'js' : 'wasm-simd';
    expect(convs.map((k) => info.kernels[k])).toEqual(Array(4).fill(expected));
    expect(info.wasmSimd).toEqual(native ? null : process.env['RMC_WASM_SIMD'] === '0' ? { available: false, reason: 'disabled by RMC_WASM_SIMD=0' } : { available: true });
    // With the addon, large element-wise ops run in its threaded loops, small ones in the JS loops.
    expect(elementwise.map((k) => info.kernels[k])).toEqual(Array(6).fill(native ? 'native' : 'fast-js'));
    expect(reductions.map((k) => info.kernels[k])).toEqual(['fast-js', 'fast-js']);
    expect(info.kernels['ReluGrad']).toBe(native ? 'native' : 'fast-js');
    expect(info.kernels['RmcSgdStep']).toBe(native ? 'native' : 'fast-js');
    // On glibc (CI's Debian) loading the addon also turns on malloc's reuse of freed memory.
    const expectNative = process.env['RMC_EXPECT_NATIVE'];
    if (expectNative) expect(info.native).toMatchObject({ available: true, heapReuse: true });
    if (process.env['RMC_NATIVE'] === '0') expect(info.native).toEqual({ available: false, reason: 'disabled by RMC_NATIVE=0', others: [] });
    // CI says which route must have loaded (RMC_EXPECT_NATIVE=prebuilt|source): check it, and that oneDNN
    // comes from where that route puts it (the prebuilt's own copy beside it, or the system's).
    if (expectNative === 'prebuilt' || expectNative === 'source') {
      expect(info.native).toMatchObject({ available: true, route: expectNative });
      const path = (info.native as { path: string }).path;
      const dnnl = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/).pop() ?? '').find((f) => /\/libdnnl\.so/.test(f));
      if (expectNative === 'prebuilt') {
        expect(path).toMatch(/\/prebuilds\/linux-x64\/rmc_native\.node$/);
        expect(dnnl).toBe(join(dirname(path), 'libdnnl.so.2'));
      } else {
        expect(path).toMatch(/\/native\/build\/Release\/rmc_native\.node$/);
        expect(dnnl).toMatch(/^\/(usr\/)?lib/);
      }
    }
  });


  it('disable/enable switch between the stock and the pack\'s kernels', () => {
    disableFastKernels();
    expect(Object.values(backendInfo().kernels)).toEqual(Array(14).fill('js'));
    const enabled = enableFastKernels();
    expect(enabled.length).toBe(native || process.env['RMC_WASM_SIMD'] !== '0' ? 13 : 9);
    expect(backendInfo().kernels).toEqual(info.kernels);
  });

  it('fast element-wise kernels are bit-identical to the stock ones (shapes, broadcasting, NaN)', () => {
    const cases: Array<[number[], number[]]> = [
      [[2, 3, 4, 5], [2, 3, 4, 5]],
      [[2, 3, 4, 5], [5]],
      [[5], [2, 3, 4, 5]],
      [[2, 3, 4, 5], [1, 1, 1, 5]],
      [[2, 3, 4, 5], [4, 5]],
      [[2, 3, 4, 5], []],
      [[], [3, 2]],
      [[2, 3, 4, 5], [3, 1, 5]], // broadcast over axis 2 of 4
      [[2, 3, 4, 5], [2, 1, 1, 5]], // over axes 1 and 2 (the gradient of global average pooling)
      [[2, 1, 1, 5], [2, 3, 4, 5]],
      [[2, 3, 4, 5], [1, 3, 4, 5]], // over the leading axis
      [[2, 3, 4, 5], [2, 1, 4, 1]], // two separate blocks: falls back to the stock kernel
      [[4, 1], [1, 3]],
      [[2, 64, 32, 16], [2, 64, 32, 16]], // large enough for the addon's threaded loops
      [[2, 64, 32, 16], [16]],
      [[1], [2, 64, 32, 16]],
    ];
    for (const [sa, sb] of cases) {
      const a = tf.tidy(() => tf.where(tf.greater(tf.randomUniform(sa, 0, 1, 'float32', 1), 0.95), tf.fill(sa, NaN), tf.randomNormal(sa, 0, 1, 'float32', 2)));
      const b = tf.tidy(() => tf.add(tf.randomNormal(sb, 0, 1, 'float32', 3), 0.5));
      const ops = [tf.add, tf.sub, tf.mul, tf.div] as const;
      const run = () => [...ops.map((op) => op(a, b)), tf.relu(a), tf.step(a, 0.3)];
      const fast = run();
      disableFastKernels();
      const stock = run();
      enableFastKernels();
      expectBitIdentical(fast, stock);
      tf.dispose([a, b, ...fast, ...stock]);
    }
  });

  it('the one-pass gradient of Relu is bit-identical to the stock one (zeros, signed zeros, NaN, infinities)', () => {
    const x = tf.tensor1d([-2, -0, 0, 1e-30, 3, NaN, -Infinity, Infinity, 2, -1]);
    const dy = tf.tensor1d([1, -1, -2, 4, -5, 6, Infinity, -Infinity, NaN, -Infinity]);
    const big = tf.randomNormal([2, 64, 32, 16], 0, 1, 'float32', 11);
    const bigDy = tf.randomNormal([2, 64, 32, 16], 0, 1, 'float32', 12);
    const run = () => [tf.grad((v: tf.Tensor) => tf.relu(v))(x, dy), tf.grad((v: tf.Tensor) => tf.relu(v))(big, bigDy)];
    const fast = run();
    disableFastKernels();
    expect(backendInfo().kernels['ReluGrad']).toBe('js');
    const stock = run();
    enableFastKernels();
    fast.forEach((t, i) => expect(Array.from(t.dataSync()).map((v) => Object.is(v, -0) ? '-0' : String(v))).toEqual(Array.from(stock[i]!.dataSync()).map((v) => Object.is(v, -0) ? '-0' : String(v))));
    tf.dispose([x, dy, big, bigDy, ...fast, ...stock]);
  });

  it.each([
    { momentum: 0.9, weightDecay: 5e-4, nesterov: false },
    { momentum: 0.9, weightDecay: 0, nesterov: true },
    { momentum: 0, weightDecay: 2e-4, nesterov: false },
  ])('TorchSGD\'s one-pass step is bit-identical to its tf-op path (%o)', (options) => {
    // A small weight takes the JS loop, a large one the addon's threaded loop.
    const shapes = [[3, 3, 4, 5], [3, 3, 64, 64]];
    const run = () => {
      const vars = shapes.map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 40 + i)));
      const sgd = new TorchSGD(vars, { lr: 0.1, ...options });
      for (let step = 0; step < 3; step++) {
        const grads = shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, 'float32', 50 + 10 * step + i));
        sgd.step(grads);
        tf.dispose(grads);
      }
      const before = tf.memory().numTensors;
      const values = vars.map((v) => Array.from(v.dataSync()).map(String));
      const state = sgd.getState().buffers.map((b) => (b ? Array.from(b.data).map(String) : null));
      sgd.dispose();
      tf.dispose(vars);
      expect(tf.memory().numTensors).toBe(before - (options.momentum ? 4 : 2));
      return { values, state };
    };
    const fast = run();
    disableFastKernels();
    const stock = run();
    enableFastKernels();
    expect(fast).toEqual(stock);
  });

  it('TorchSGD runs its update as the one-pass kernel while the pack is enabled, as tf ops otherwise', async () => {
    const v = tf.variable(tf.ones([4, 4]));
    const g = tf.ones([4, 4]);
    const sgd = new TorchSGD([v], { lr: 0.1 });
    const kernelsOf = async () => (await tf.profile(() => sgd.step([g]))).kernels.map((k) => k.name);
    expect(await kernelsOf()).toEqual(['RmcSgdStep']);
    disableFastKernels();
    const stock = await kernelsOf();
    enableFastKernels();
    expect(stock).not.toContain('RmcSgdStep');
    expect(stock).toContain('Multiply');
    sgd.dispose();
    tf.dispose([v, g]);
  });

  it('fast Sum and Mean are bit-identical to the stock ones (consecutive axes, keepDims, fallbacks)', () => {
    const cases: Array<[number[], number[], boolean]> = [
      [[2, 3, 4, 5], [1, 2], false], // global average pooling
      [[2, 3, 4, 5], [1, 2], true],
      [[2, 3, 4, 5], [0], false],
      [[2, 3, 4, 5], [3], true],
      [[2, 3, 4, 5], [0, 1, 2, 3], false],
      [[7], [0], false],
      [[2, 3, 4, 5], [2, 1], false], // unsorted but consecutive
      [[2, 3, 4, 5], [0, 2], false], // not consecutive: the stock kernel
      [[32, 4, 4, 64], [1, 2], false],
    ];
    for (const [shape, axes, keepDims] of cases) {
      const x = tf.tidy(() => tf.where(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', 4), 0.97), tf.fill(shape, NaN), tf.randomNormal(shape, 0, 3, 'float32', 5)));
      const run = () => [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
      const fast = run();
      disableFastKernels();
      const stock = run();
      enableFastKernels();
      expectBitIdentical(fast, stock);
      tf.dispose([x, ...fast, ...stock]);
    }
  });

  const relDiff = (a: tf.Tensor, b: tf.Tensor) =>
    tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!));

  it('native and JS agree within 1e-4 relative (forward, input gradient, filter gradient, fused bias + ReLU)', () => {
    const shapes = convShapes();
    fc.assert(
      fc.property(shapes, (s) => {
        if (s.kernel > Math.min(s.height, s.width) && s.pad === 'valid') return;
        const x = tf.randomUniform([s.batch, s.height, s.width, s.inChannels], -1, 1, 'float32', s.seed) as tf.Tensor4D;
        const w = tf.randomNormal([s.kernel, s.kernel, s.inChannels, s.outChannels], 0, 1, 'float32', s.seed + 1) as tf.Tensor4D;
        const b = tf.randomNormal([s.outChannels], 0, 1, 'float32', s.seed + 2) as tf.Tensor1D;
        const pad = s.pad === 'explicit' ? ([[0, 0], [1, 0], [2, 1], [0, 0]] as tf.backend_util.ExplicitPadding) : s.pad;
        const run = () =>
          tf.tidy(() => {
            const f = (xx: tf.Tensor, ww: tf.Tensor) => {
              const out = s.fused
                ? tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: s.stride, pad, bias: b, activation: 'relu' })
                : tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, s.stride, pad);
              return tf.sum(tf.mul(out, tf.randomNormal(out.shape, 0, 1, 'float32', s.seed + 3)));
            };
            const y = s.fused
              ? tf.fused.conv2d({ x, filter: w, strides: s.stride, pad, bias: b, activation: 'relu' })
              : tf.conv2d(x, w, s.stride, pad);
            const [gx, gw] = tf.grads(f)([x, w]);
            return [y, gx!, gw!];
          });
        const nativeOut = run();
        disableFastKernels();
        const jsOut = run();
        enableFastKernels();
        for (let i = 0; i < 3; i++) expect(relDiff(nativeOut[i]!, jsOut[i]!)).toBeLessThan(1e-4);
        tf.dispose([x, w, b, ...nativeOut, ...jsOut]);
      }),
      { numRuns: 80, seed: 424242 },
    );
  });

  it('weights reused across calls (their reorder is cached) give the JS results, and new weights are picked up', () => {
    // 3x3 convolutions with 32 channels run in a blocked weight layout, so the filter is reordered; from
    // its second use on the reorder is cached with the filter's buffer. An optimizer step gives the
    // variable a new buffer, which must not hit the old cache.
    const x = tf.randomUniform([2, 9, 9, 32], -1, 1, 'float32', 7) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 9, 9, 32], 0, 1, 'float32', 8) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([3, 3, 32, 32], 0, 1, 'float32', 9) as tf.Tensor4D);
    const run = () =>
      tf.tidy(() => [tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), tf.conv2dTranspose(dy, w as tf.Tensor4D, [2, 9, 9, 32], 1, 'same')]);
    const check = () => {
      const outs = [run(), run(), run()];
      disableFastKernels();
      const js = run();
      enableFastKernels();
      for (const out of outs) out.forEach((t, i) => expect(relDiff(t, js[i]!)).toBeLessThan(1e-4));
      tf.dispose([...outs.flat(), ...js]);
    };
    check();
    w.assign(tf.tidy(() => tf.mul(w, -0.5)));
    check();
    tf.dispose([x, dy, w]);
  });
});
