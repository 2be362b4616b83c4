// Without the native kernels in Node, the first heavy convolution says so once, loudly, with the
// reason, the cost and the fix; the convolution itself is the stock one.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { missingNativeMessage, warnOnceConv2D } from '../src/backend/missing-native.js';
import { disableFastKernels, enableFastKernels } from '../src/index.js';

describe('the missing-native-kernels message', () => {
  it('comes once, at the first heavy convolution, and the results are the stock kernel\'s', () => {
    disableFastKernels();
    const stock = tf.getKernel('Conv2D', 'cpu')!;
    enableFastKernels();
    const messages: string[] = [];
    const conv = warnOnceConv2D(() => stock.kernelFunc, 'source: not built; prebuilt: needs glibc 2.34 or later (this system has 2.31)', false, (m) => messages.push(m));
    const backend = tf.backend();
    const run = (x: tf.Tensor4D, filter: tf.Tensor4D) => {
      const args = { inputs: { x, filter }, backend, attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] } } as unknown as Parameters<typeof conv>[0];
      const info = conv(args) as tf.TensorInfo;
      const out = tf.engine().makeTensorFromTensorInfo(info);
      const expected = tf.engine().makeTensorFromTensorInfo(stock.kernelFunc(args) as tf.TensorInfo);
      expect(Array.from(out.dataSync())).toEqual(Array.from(expected.dataSync()));
      tf.dispose([out, expected]);
    };
    const small = [tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D, tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D];
    run(small[0]!, small[1]!); // 1 x 8 x 8 x 3 x 3 x 3 x 4 = 6,912 multiply-adds: a unit test's toy, no message
    expect(messages).toEqual([]);
    const heavy = [tf.randomUniform([2, 32, 32, 16], 0, 1, 'float32', 3) as tf.Tensor4D, tf.randomNormal([3, 3, 16, 32], 0, 1, 'float32', 4) as tf.Tensor4D];
    run(heavy[0]!, heavy[1]!); // 2 x 32 x 32 x 3 x 3 x 16 x 32 = 9.4 million: still below 10 million
    expect(messages).toEqual([]);
    const heavier = [tf.randomUniform([4, 32, 32, 16], 0, 1, 'float32', 5) as tf.Tensor4D, tf.randomNormal([3, 3, 16, 32], 0, 1, 'float32', 6) as tf.Tensor4D];
    run(heavier[0]!, heavier[1]!); // 18.9 million
    run(heavier[0]!, heavier[1]!);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toBe(missingNativeMessage('source: not built; prebuilt: needs glibc 2.34 or later (this system has 2.31)'));
    expect(messages[0]).toMatch(/native kernels are not loaded/);
    expect(messages[0]).toMatch(/Why: source: not built; prebuilt: needs glibc 2\.34/);
    expect(messages[0]).toMatch(/Fix: .*sudo apt-get install libdnnl-dev\), then run: npm rebuild rmc-robust/);
    expect(messages[0]).toMatch(/times slower/);
    // What runs instead decides the figure quoted: tfjs's own kernels, or the package's WebAssembly SIMD ones.
    expect(missingNativeMessage('x')).toMatch(/tfjs-backend-cpu's JS kernels,\n  about 250 times slower/);
    expect(missingNativeMessage('x', true)).toMatch(/WebAssembly SIMD kernels \(one thread\),\n  about 11 times slower/);
    tf.dispose([...small, ...heavy, ...heavier]);
  });
});
