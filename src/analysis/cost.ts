import type * as tfl from '@tensorflow/tfjs-layers';

/** Cost of one layer in {@link modelCost}. */
export interface LayerCost {
  /** The layer's name. */
  name: string;
  /** The layer's tfjs class name; only `Conv2d`, `Conv2D` and `Dense` layers have MACs counted. */
  className: string;
  /** Multiply-accumulates of the layer for one image. */
  macs: number;
  /** Elements of the layer's output for one image. */
  outputElements: number;
}

/** Result of {@link modelCost}. */
export interface ModelCost {
  /**
   * Multiply-accumulates per image in convolutions and fully connected layers (`k * k * C_in * C_out *
   * H_out * W_out` and `in * out`); batch norm, activations, pooling, additions and biases are not
   * counted. One MAC is two FLOPs in the "FLOPs = 2 x MACs" convention; tools such as thop and
   * ptflops report MACs under the name FLOPs.
   */
  macs: number;
  /** Activation memory per image in bytes: every layer's output (input included) as float32, summed. */
  activationBytes: number;
  /** Weights in bytes (float32). */
  parameterBytes: number;
  /** One entry per layer of the model (input layer included), in the model's layer order. */
  layers: LayerCost[];
}

/** Multiply-adds and memory of one inference (batch 1) of a model (the paper's Fig. 7). */
export function modelCost(model: tfl.LayersModel): ModelCost {
  const layers: LayerCost[] = [];
  let activation = 0;
  for (const layer of model.layers) {
    const shape = (layer.outputShape as Array<number | null>).slice(1) as number[];
    const outputElements = shape.reduce((a, b) => a * b, 1);
    activation += outputElements;
    const cls = layer.getClassName();
    let macs = 0;
    if (cls === 'Conv2d' || cls === 'Conv2D') {
      const kernel = layer.weights[0]!.shape as number[]; // [k, k, in, out]
      macs = kernel[0]! * kernel[1]! * kernel[2]! * outputElements;
    } else if (cls === 'Dense') {
      const kernel = layer.weights[0]!.shape as number[]; // [in, out]
      macs = kernel[0]! * kernel[1]!;
    }
    layers.push({ name: layer.name, className: cls, macs, outputElements });
  }
  const parameters = model.weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 0), 1), 0);
  return { macs: layers.reduce((s, l) => s + l.macs, 0), activationBytes: activation * 4, parameterBytes: parameters * 4, layers };
}
