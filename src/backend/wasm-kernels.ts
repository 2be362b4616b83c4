/**
 * The portable fallback: @tensorflow/tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so
 * training a convolutional network on it fails. This registers one for the 'wasm' backend, written as a
 * forward convolution that the wasm backend runs fast:
 *
 *   dW[a, b, i, o] = sum_{n, p, q} xPadded[n, p * s + a, q * s + b, i] * dy[n, p, q, o]
 *                  = conv2d(transpose(xPadded) [I, Hp, Wp, N], transpose(dy) [OH, OW, N, O], dilation s)
 *
 * then the first `kh x kw` outputs, transposed to `[kh, kw, I, O]`. Only registered when the wasm
 * backend has no such kernel of its own.
 */
import * as tf from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';

type Backend = tf.KernelBackend & { disposeData(dataId: object): boolean };

function run(name: string, backend: Backend, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>): tf.TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (!kernel) throw new Error(`rmc-robust wasm Conv2DBackpropFilter: the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
}

const conv2DBackpropFilter: tf.KernelFunc = (args) => {
  const backend = args.backend as Backend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`rmc-robust wasm Conv2DBackpropFilter: only NHWC is supported, got ${dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  const temporaries: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => (temporaries.push(t), t);
  try {
    const padded = keep(run('PadV2', backend, { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }));
    const xT = keep(run('Transpose', backend, { x: padded }, { perm: [3, 1, 2, 0] }));
    const dyT = keep(run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }));
    const full = keep(
      run('Conv2D', backend, { x: xT, filter: dyT }, {
        strides: [1, 1],
        pad: 'valid',
        dataFormat: 'NHWC',
        dilations: [info.strideHeight, info.strideWidth],
        dimRoundingMode: undefined,
      }),
    );
    const [inC, , , outC] = [full.shape[0]!, full.shape[1]!, full.shape[2]!, full.shape[3]!];
    const window = keep(run('Slice', backend, { x: full }, { begin: [0, 0, 0, 0], size: [inC, info.filterHeight, info.filterWidth, outC] }));
    return run('Transpose', backend, { x: window }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
};

/** Registers the wasm `Conv2DBackpropFilter` unless the wasm backend already has one. */
export function registerWasmKernels(): string[] {
  if (tf.getKernel('Conv2DBackpropFilter', BACKEND)) return [];
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
  return ['Conv2DBackpropFilter'];
}

