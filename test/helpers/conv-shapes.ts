// Random convolution cases for the kernel tests (native and WebAssembly SIMD against the stock kernels).
import fc from 'fast-check';

/** Odd sizes, batch 1 to 3, channel counts that are not multiples of 8, strides 1 and 2, three paddings; dilation 2 in a third of the cases when `withDilation`. */
export function convShapes(withDilation = false) {
  return fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    height: fc.integer({ min: 3, max: 17 }),
    width: fc.integer({ min: 3, max: 17 }),
    inChannels: fc.integer({ min: 1, max: 20 }),
    outChannels: fc.integer({ min: 1, max: 20 }),
    kernel: fc.constantFrom(1, 2, 3, 5),
    stride: fc.constantFrom(1, 2),
    dilation: withDilation ? fc.constantFrom(1, 1, 2) : fc.constant(1),
    pad: fc.constantFrom<'same' | 'valid' | 'explicit'>('same', 'valid', 'explicit'),
    fused: fc.boolean(),
    seed: fc.integer({ min: 0, max: 10_000 }),
  });
}
