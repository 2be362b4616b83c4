/**
 * Exchange of weights with the paper's PyTorch code.
 *
 * Every layer of this library's models carries the PyTorch module path of the reference definition as
 * its name (`layer1.0.conv1`, `features.7`, `classifier.6`, ...), so a PyTorch `state_dict` maps onto a
 * model name for name: convolution kernels are transposed from `[out, in, kh, kw]` to
 * `[kh, kw, in, out]`, linear weights from `[out, in]` to `[in, out]`, and batch norm's
 * `weight/bias/running_mean/running_var` are `gamma/beta/moving_mean/moving_variance`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** One tensor of a PyTorch state dict: its PyTorch shape and its values in row-major order. */
export interface TorchTensor {
  /** PyTorch's shape, e.g. `[out, in, kh, kw]` for a convolution weight, `[out, in]` for a linear one. */
  shape: number[];
  /** The values in PyTorch's row-major (C-contiguous) order; length is the product of `shape`. */
  data: Float32Array | number[];
}

/** A PyTorch state dict as plain data: `{ 'layer1.0.conv1.weight': { shape, data }, ... }`. */
export type TorchStateDict = Record<string, TorchTensor>;

/** One weight of a model with its PyTorch name. @internal */
export interface TorchEntry {
  key: string;
  variable: tfl.LayerVariable;
  /** tfjs -> PyTorch axis permutation, or undefined for vectors. */
  toTorch?: number[];
}

/** The model's weights with their PyTorch state-dict keys and layouts, in layer order. @internal */
export function torchEntries(model: tfl.LayersModel): TorchEntry[] {
  const out: TorchEntry[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    for (const variable of layer.weights) {
      const leaf = variable.originalName.split('/').pop()!;
      const key = (suffix: string) => `${layer.name}.${suffix}`;
      if ((cls === 'Conv2D' || cls === 'Conv2d') && leaf === 'kernel') out.push({ key: key('weight'), variable, toTorch: [3, 2, 0, 1] });
      else if (cls === 'Dense' && leaf === 'kernel') out.push({ key: key('weight'), variable, toTorch: [1, 0] });
      else if ((cls === 'Conv2D' || cls === 'Conv2d' || cls === 'Dense') && leaf === 'bias') out.push({ key: key('bias'), variable });
      else if (cls === 'BatchNorm2d' || cls === 'BatchNormalization') {
        const name = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' }[leaf];
        if (!name) throw new Error(`torch weights: unexpected batch-norm weight '${variable.originalName}'`);
        out.push({ key: key(name), variable });
      } else {
        throw new Error(`torch weights: no PyTorch counterpart known for weight '${variable.originalName}' of a ${cls} layer`);
      }
    }
  }
  return out;
}

/**
 * The model's weights as a PyTorch `state_dict` of the reference definition (keys, shapes and layout as
 * PyTorch has them; no `num_batches_tracked`). Reads the weights; creates no lasting tensors.
 */
export function exportTorchStateDict(model: tfl.LayersModel): TorchStateDict {
  const dict: TorchStateDict = {};
  for (const { key, variable, toTorch } of torchEntries(model)) {
    const value = tf.tidy(() => (toTorch ? tf.transpose(variable.read(), toTorch) : variable.read().clone()));
    dict[key] = { shape: value.shape, data: value.dataSync() as Float32Array };
    value.dispose();
  }
  return dict;
}
