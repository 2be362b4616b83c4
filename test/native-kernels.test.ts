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

/** The raw bits of a tensor's values: float32 NaN payloads and signed zeros included. */
function bitsOf(t: tf.Tensor): number[] {
  const v = t.dataSync();
  return Array.from(v instanceof Float32Array ? new Uint32Array(v.buffer, v.byteOffset, v.length) : (v as ArrayLike<number>));
}

function expectSameBits(actual: tf.Tensor[], expected: tf.Tensor[]): void {
  expect(actual.map((t) => [t.dtype, t.shape])).toEqual(expected.map((t) => [t.dtype, t.shape]));
  actual.forEach((t, i) => expect(bitsOf(t)).toEqual(bitsOf(expected[i]!)));
}

/** `run()` with the pack's kernels, then with the stock ones (the pack enabled again afterwards). */
function fastAndStock(run: () => tf.Tensor[]): [tf.Tensor[], tf.Tensor[]] {
  const fast = run();
  disableFastKernels();
  try {
    return [fast, run()];
  } finally {
    enableFastKernels();
  }
}

/**
 * Runs `body` with the stock kernels `names` wrapped in counters, so that the pack falls back on the
 * wrappers; `body` gets the number of stock calls so far per kernel.
 */
function withStockCalls(names: string[], body: (calls: () => Record<string, number>) => void): void {
  disableFastKernels();
  const stock = names.map((name) => tf.getKernel(name, 'cpu')!);
  const counts: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  for (const config of stock) {
    tf.unregisterKernel(config.kernelName, 'cpu');
    tf.registerKernel({ ...config, kernelFunc: (args) => (counts[config.kernelName]!++, config.kernelFunc(args)) });
  }
  enableFastKernels();
  try {
    body(() => ({ ...counts }));
  } finally {
    disableFastKernels();
    for (const config of stock) {
      tf.unregisterKernel(config.kernelName, 'cpu');
      tf.registerKernel(config);
    }
    enableFastKernels();
  }
}

/**
 * float32 bit patterns the clamps and copies must handle as the stock kernels do: quiet NaNs (negative,
 * with a payload), infinities, zeros, a denormal. No signalling NaN: V8 quiets one copied through a
 * double in some tiers of its compiler and not in others, so the stock kernels themselves vary.
 */
const SPECIAL_BITS = [0x7fc00000, 0xffc00000, 0x7fc00123, 0x7f800000, 0xff800000, 0, 0x80000000, 1];

/** `size` float32 values from `seed`: about a quarter special (above), a quarter from a few repeated values (ties), the rest spread out. */
function testValues(size: number, seed: number): Float32Array {
  const bits = new Uint32Array(size);
  const view = new Float32Array(bits.buffer);
  let state = seed >>> 0;
  // A linear congruential generator; its high bits (the low ones repeat with short periods).
  const next = (count: number) => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 16) % count;
  for (let i = 0; i < size; i++) {
    const kind = next(4);
    if (kind === 0) bits[i] = SPECIAL_BITS[next(SPECIAL_BITS.length)]!;
    else if (kind === 1) view[i] = [-1, 0.25, 0.5, 1][next(4)]!;
    else view[i] = (next(65536) / 65536 - 0.5) * 4;
  }
  return view;
}

/** A tensor of `shape` and `dtype` with {@link testValues} (int32: rounded, bool: their signs). */
function testTensor(shape: number[], seed: number, dtype: 'float32' | 'int32' | 'bool' = 'float32'): tf.Tensor {
  const v = testValues(shape.reduce((a, b) => a * b, 1), seed);
  if (dtype === 'float32') return tf.tensor(v, shape);
  return tf.tensor(Array.from(v, (x) => (dtype === 'int32' ? (Number.isFinite(x) ? Math.round(x * 10) : 7) : x > 0 ? 1 : 0)), shape, dtype);
}

/** A shape and a broadcast of it: each axis kept or set to 1, some leading axes dropped, the two maybe swapped. */
const broadcastPair = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 4 }),
    keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    drop: fc.integer({ min: 0, max: 4 }),
    swap: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map(({ shape, keep, drop, swap, seed }) => {
    const small = shape.map((d, i) => (keep[i] ? d : 1)).slice(Math.min(drop, shape.length));
    return { a: swap ? small : shape, b: swap ? shape : small, seed };
  });

describe('kernel pack', () => {
  const convs = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const elementwise = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Relu', 'Step'];
  const reductions = ['Sum', 'Mean'];
  const jsOnly = ['Maximum', 'Minimum', 'ClipByValue', 'Tile', 'Select', 'GatherV2'];

  it('reports honestly who computes each kernel', () => {
    // Without the addon the convolutions run on the WebAssembly SIMD matrix product (RMC_WASM_SIMD=0: tfjs's own).
    const expected = native ? 'native' : process.env['RMC_WASM_SIMD'] === '0' ? 'js' : 'wasm-simd';
    expect(convs.map((k) => info.kernels[k])).toEqual(Array(4).fill(expected));
    expect(info.wasmSimd).toEqual(native ? null : process.env['RMC_WASM_SIMD'] === '0' ? { available: false, reason: 'disabled by RMC_WASM_SIMD=0' } : { available: true });
    // With the addon, large element-wise ops run in its threaded loops, small ones in the JS loops.
    expect(elementwise.map((k) => info.kernels[k])).toEqual(Array(6).fill(native ? 'native' : 'fast-js'));
    expect(reductions.map((k) => info.kernels[k])).toEqual(['fast-js', 'fast-js']);
    expect(jsOnly.map((k) => info.kernels[k])).toEqual(Array(6).fill('fast-js'));
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
    expect(Object.values(backendInfo().kernels)).toEqual(Array(20).fill('js'));
    const enabled = enableFastKernels();
    expect(enabled.length).toBe(native || process.env['RMC_WASM_SIMD'] !== '0' ? 19 : 15);
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
      [[6, 4, 4, 3], [6, 1, 1, 1]], // a per-row scalar (an attack's norms and step sizes), both orders
      [[6, 1, 1, 1], [6, 4, 4, 3]],
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

  it('fast Maximum, Minimum and ClipByValue are bit-identical to the stock ones (broadcasting, NaN payloads, infinities, signed zeros)', () => {
    const clips: Array<[number, number]> = [[0, 1], [-0.1, 0.3], [-Infinity, -0], [1e-40, Infinity]];
    const check = (sa: number[], sb: number[], seed: number) => {
      const a = testTensor(sa, seed);
      const b = testTensor(sb, seed + 1);
      const [fast, stock] = fastAndStock(() => [tf.maximum(a, b), tf.minimum(a, b), tf.maximum(b, a), tf.minimum(b, a), ...clips.map(([lo, hi]) => tf.clipByValue(a, lo, hi))]);
      expectSameBits(fast, stock);
      tf.dispose([a, b, ...fast, ...stock]);
    };
    // The attacks' shapes take the fast loops (the stock kernels are never called); other broadcasts fall back.
    withStockCalls(['Maximum', 'Minimum', 'ClipByValue'], (calls) => {
      const attackCases: Array<[number[], number[]]> = [
        [[6, 4, 4, 3], [6, 4, 4, 3]], // a clamp between per-pixel bounds
        [[6, 4, 4, 3], []], // against a scalar bound
        [[6, 1, 1, 1], [6, 4, 4, 3]], // a per-row [n, 1, 1, 1] tensor
        [[6, 4, 4, 3], [3]],
        [[40, 32, 32, 3], [40, 32, 32, 3]], // above the size where Add & co. go to the addon
      ];
      for (const [sa, sb] of attackCases) {
        const a = testTensor(sa, 7);
        const b = testTensor(sb, 8);
        tf.dispose([tf.maximum(a, b), tf.minimum(a, b), tf.clipByValue(a, 0, 1), a, b]);
      }
      expect(calls()).toEqual({ Maximum: 0, Minimum: 0, ClipByValue: 0 });
      const a = testTensor([2, 3, 4, 5], 9);
      const b = testTensor([2, 1, 4, 1], 10); // two separate broadcast blocks
      tf.dispose([tf.maximum(a, b), a, b]);
      expect(calls()['Maximum']).toBe(1);
    });
    const cases: Array<[number[], number[]]> = [
      [[6, 4, 4, 3], [6, 1, 1, 1]],
      [[6, 1, 1, 1], [6, 4, 4, 3]],
      [[6, 4, 4, 3], []],
      [[], [6, 4, 4, 3]],
      [[40, 32, 32, 3], [40, 32, 32, 3]],
      [[2, 3, 4, 5], [2, 1, 4, 1]],
      [[4, 1], [1, 3]],
      [[0, 3], [3]],
    ];
    cases.forEach(([sa, sb], i) => check(sa, sb, 100 * i));
    fc.assert(fc.property(broadcastPair, ({ a, b, seed }) => check(a, b, seed)), { numRuns: 120, seed: 1919 });
  });

  it('fast Tile, Select and GatherV2 are bit-identical to the stock ones (float32, int32, bool; per-row conditions; any axis)', () => {
    const dtypes = ['float32', 'int32', 'bool'] as const;
    const shapeAndSeed = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
      reps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 4 }),
      indices: fc.array(fc.nat(), { minLength: 1, maxLength: 7 }),
      indexRows: fc.boolean(),
      axis: fc.nat(),
      dtype: fc.constantFrom(...dtypes),
      seed: fc.integer({ min: 0, max: 1e6 }),
    });
    const check = ({ shape, reps, indices, indexRows, axis, dtype, seed }: { shape: number[]; reps: number[]; indices: number[]; indexRows: boolean; axis: number; dtype: (typeof dtypes)[number]; seed: number }) => {
      const x = testTensor(shape, seed, dtype);
      const y = testTensor(shape, seed + 1, dtype);
      const rowFlags = testTensor([shape[0]!], seed + 2, 'bool');
      const flags = testTensor(shape, seed + 3, 'bool');
      const along = axis % shape.length;
      const idx = indices.map((k) => k % shape[along]!);
      const idxTensor = indexRows && idx.length % 2 === 0 ? tf.tensor2d(idx, [2, idx.length / 2], 'int32') : tf.tensor1d(idx, 'int32');
      const [fast, stock] = fastAndStock(() => [
        tf.tile(x, reps.slice(0, shape.length)),
        tf.broadcastTo(tf.reshape(rowFlags, [shape[0]!, ...shape.slice(1).map(() => 1)]), shape),
        tf.where(tf.reshape(rowFlags, [shape[0]!, ...shape.slice(1).map(() => 1)]), x, y),
        tf.where(flags, x, y),
        tf.gather(x, idxTensor, along),
      ]);
      expectSameBits(fast, stock);
      tf.dispose([x, y, rowFlags, flags, idxTensor, ...fast, ...stock]);
    };
    withStockCalls(['Tile', 'Select', 'GatherV2'], (calls) => {
      check({ shape: [6, 4, 4, 3], reps: [2, 1, 3, 2], indices: [5, 0, 5, 2], indexRows: false, axis: 0, dtype: 'float32', seed: 1 });
      check({ shape: [6, 4, 4, 3], reps: [1, 1, 1, 1], indices: [3, 1], indexRows: true, axis: 3, dtype: 'bool', seed: 2 });
      // Only the comparison runs called the stock kernels (per check: Tile for tile, broadcastTo and the
      // per-row where; Select for both wheres; one gather): the pack called none of them.
      expect(calls()).toEqual({ Tile: 2 * 3, Select: 2 * 2, GatherV2: 2 });
      // Batched gathers and out-of-range indices go to the stock kernel, which reports the index.
      const x = testTensor([3, 4], 3);
      const idx = tf.tensor2d([[0, 1], [3, 2], [1, 1]], [3, 2], 'int32');
      const [fast, stock] = fastAndStock(() => [tf.gather(x, idx, 1, 1)]);
      expectSameBits(fast, stock);
      expect(() => tf.gather(x, tf.tensor1d([0, 3], 'int32'))).toThrow('GatherV2: the index value 3 is not in [0, 2]');
      expect(calls()['GatherV2']).toBe(2 + 2 + 1);
      tf.dispose([x, idx, ...fast, ...stock]);
    });
    fc.assert(fc.property(shapeAndSeed, check), { numRuns: 150, seed: 2024 });
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

  it('keeps Relu\'s output for the backward pass, not its input as well (one activation fewer per Relu)', () => {
    const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 13);
    const w = tf.randomNormal([3, 3, 4, 4], 0, 1, 'float32', 14);
    /** Data buffers alive when the backward pass starts (what the forward pass saved for it), and the gradient. */
    const savedBuffers = () => {
      let count = 0;
      const probe = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
        value: tf.mul(args[0] as tf.Tensor, 1),
        gradFunc: (dy: tf.Tensor) => {
          count = tf.memory().numDataBuffers;
          return tf.mul(dy, 1);
        },
      }));
      const conv = (v: tf.Tensor) => tf.conv2d(v as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
      const before = tf.memory().numDataBuffers;
      const grad = tf.grad((v: tf.Tensor) => tf.sum(probe(conv(tf.relu(conv(v))))))(x);
      return { count: count - before, grad };
    };
    const fast = savedBuffers();
    disableFastKernels();
    const stock = savedBuffers();
    enableFastKernels();
    // tfjs's own Relu gradient keeps the first convolution's output; the second convolution keeps Relu's output either way.
    expect(stock.count - fast.count).toBe(1);
    // The same gradient (the convolutions differ between the pack and tfjs in float32 rounding only).
    expect(relDiff(fast.grad, stock.grad)).toBeLessThan(1e-4);
    tf.dispose([x, w, fast.grad, stock.grad]);
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
      [[6, 4, 4, 3], [1, 2, 3], true], // an attack's per-example norms
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
