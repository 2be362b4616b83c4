// The native (oneDNN) kernels match tfjs-backend-cpu's own kernels on random shapes: strides 1 and 2,
// 'same'/'valid'/explicit padding, odd sizes, batch 1, forward and both gradients.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backendInfo, disableNativeKernels, enableNativeKernels } from '../src/index.js';

const info = backendInfo();
const native = info.native.available;

describe('native kernel pack', () => {
  it('reports honestly which kernels run natively', () => {
    const expected = native ? 'native' : 'js';
    expect(Object.values(info.kernels)).toEqual([expected, expected, expected, expected]);
    if (process.env['RMC_EXPECT_NATIVE'] === '1') expect(info.native).toMatchObject({ available: true });
    if (process.env['RMC_NATIVE'] === '0') expect(info.native).toEqual({ available: false, reason: 'disabled by RMC_NATIVE=0' });
  });

  it('disable/enable switch between the JS and native kernels', () => {
    disableNativeKernels();
    expect(Object.values(backendInfo().kernels)).toEqual(['js', 'js', 'js', 'js']);
    const enabled = enableNativeKernels();
    expect(enabled.length).toBe(native ? 4 : 0);
    expect(Object.values(backendInfo().kernels)).toEqual(Array(4).fill(native ? 'native' : 'js'));
  });

  const relDiff = (a: tf.Tensor, b: tf.Tensor) =>
    tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!));

  it('native and JS agree within 1e-4 relative (forward, input gradient, filter gradient, fused bias + ReLU)', () => {
    const shapes = fc.record({
      batch: fc.integer({ min: 1, max: 3 }),
      height: fc.integer({ min: 3, max: 17 }),
      width: fc.integer({ min: 3, max: 17 }),
      inChannels: fc.integer({ min: 1, max: 20 }),
      outChannels: fc.integer({ min: 1, max: 20 }),
      kernel: fc.constantFrom(1, 2, 3, 5),
      stride: fc.constantFrom(1, 2),
      pad: fc.constantFrom<'same' | 'valid' | 'explicit'>('same', 'valid', 'explicit'),
      fused: fc.boolean(),
      seed: fc.integer({ min: 0, max: 10_000 }),
    });
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
        disableNativeKernels();
        const jsOut = run();
        enableNativeKernels();
        for (let i = 0; i < 3; i++) expect(relDiff(nativeOut[i]!, jsOut[i]!)).toBeLessThan(1e-4);
        tf.dispose([x, w, b, ...nativeOut, ...jsOut]);
      }),
      { numRuns: 80, seed: 424242 },
    );
  });
});
