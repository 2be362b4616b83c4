/**
 * tfjs-backend-cpu kernels for 2-D convolutions computed by an engine: oneDNN through the native addon,
 * or the WebAssembly SIMD matrix product (src/backend/wasm-simd-conv.ts). They read the tensors'
 * Float32Arrays in place and fall back to the original JS kernels for what they do not cover (NCHW,
 * non-float32 tensors, activations other than linear/ReLU, unusual bias).
 */
import * as tf from '@tensorflow/tfjs-core';
import { floatValues, uninitializedFloat32, type CpuBackend } from './alloc.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Conv2DInfo = tf.backend_util.Conv2DInfo;

function geometry(info: Conv2DInfo, activation = 0, hasBias = 0): Int32Array {
  const p = info.padInfo;
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    p.top, p.left, p.bottom, p.right, activation, hasBias,
  ]);
}

type Shape4 = [number, number, number, number];

/** tfjs's geometry of a convolution (dilation 1 for the gradients, which support no other). */
function convInfo(xShape: number[], filterShape: number[], strides: tf.Conv2DAttrs['strides'], dilations: tf.Conv2DAttrs['dilations'], pad: tf.Conv2DAttrs['pad'], dimRoundingMode: tf.Conv2DAttrs['dimRoundingMode']): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
}

function isNHWC(format: unknown): boolean {
  return format === undefined || format === 'NHWC' || format === 'channelsLast';
}

/**
 * What computes the convolutions, NHWC float32, on the geometry array of `geometry()`: [batch, inHeight,
 * inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth, strideHeight,
 * strideWidth, dilationHeight, dilationWidth, padTop, padLeft, padBottom, padRight, activation (0
 * linear, 1 ReLU), hasBias]. Each call writes every element of its output.
 */
export interface ConvEngine {
  conv2dForward(geometry: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array): void;
  conv2dBackwardData(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackwardFilter(geometry: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
}

/**
 * Builds the convolution kernels on `engine` (`label` names it in errors); `fallback(name)` gives the
 * original kernel for cases they do not cover.
 */
export function convKernels(engine: ConvEngine, label: string, fallback: (name: string) => KernelFunc | undefined): Record<string, KernelFunc> {
  const orFallback = (name: string, args: Parameters<KernelFunc>[0]) => {
    const js = fallback(name);
    if (!js) throw new Error(`rmc-robust ${label} ${name}: case not supported and no JS kernel is registered`);
    return js(args);
  };

  const conv2D: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
    const xs = floatValues(backend, x);
    const ws = floatValues(backend, filter);
    if (!xs || !ws || !isNHWC(dataFormat)) return orFallback('Conv2D', args);
    const info = convInfo(x.shape, filter.shape, strides, dilations, pad, dimRoundingMode);
    const out = uninitializedFloat32(tf.util.sizeFromShape(info.outShape), backend);
    engine.conv2dForward(geometry(info), xs, ws, null, out);
    return backend.makeTensorInfo(info.outShape, 'float32', out);
  };

  const fusedConv2D: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = args.attrs as unknown as tf.FusedConv2DAttrs;
    const xs = floatValues(backend, x!);
    const ws = floatValues(backend, filter!);
    const outChannels = filter!.shape[3]!;
    const biasValues = bias ? floatValues(backend, bias) : null;
    const biasOk = !bias || (biasValues !== null && bias.shape.length === 1 && bias.shape[0] === outChannels);
    const act = activation === 'linear' || activation === undefined ? 0 : activation === 'relu' ? 1 : -1;
    if (!xs || !ws || !biasOk || act < 0 || preluActivationWeights || !isNHWC(dataFormat)) return orFallback('FusedConv2D', args);
    const info = convInfo(x!.shape, filter!.shape, strides, dilations, pad, dimRoundingMode);
    const out = uninitializedFloat32(tf.util.sizeFromShape(info.outShape), backend);
    engine.conv2dForward(geometry(info, act, biasValues ? 1 : 0), xs, ws, biasValues, out);
    return backend.makeTensorInfo(info.outShape, 'float32', out);
  };

  const conv2DBackpropInput: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { inputShape, strides, pad, dataFormat, dimRoundingMode } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const dys = floatValues(backend, dy);
    const ws = floatValues(backend, filter);
    if (!dys || !ws || !isNHWC(dataFormat)) return orFallback('Conv2DBackpropInput', args);
    const info = convInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
    const dx = uninitializedFloat32(tf.util.sizeFromShape(info.inShape), backend);
    engine.conv2dBackwardData(geometry(info), dys, ws, dx);
    return backend.makeTensorInfo(info.inShape, 'float32', dx);
  };

  const conv2DBackpropFilter: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const xs = floatValues(backend, x);
    const dys = floatValues(backend, dy);
    if (!xs || !dys || !isNHWC(dataFormat)) return orFallback('Conv2DBackpropFilter', args);
    const info = convInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
    const dw = uninitializedFloat32(tf.util.sizeFromShape(filterShape), backend);
    engine.conv2dBackwardFilter(geometry(info), xs, dys, dw);
    return backend.makeTensorInfo(filterShape, 'float32', dw);
  };

  return {
    Conv2D: conv2D,
    FusedConv2D: fusedConv2D,
    Conv2DBackpropInput: conv2DBackpropInput,
    Conv2DBackpropFilter: conv2DBackpropFilter,
  };
}
