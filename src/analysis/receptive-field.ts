import type * as tfl from '@tensorflow/tfjs-layers';

/** The receptive field after one layer that changes it (a convolution or a pooling layer). */
export interface FieldEntry {
  /** 1-based position among the main-path entries (convolutions and poolings, in execution order); 0 off the main path. */
  index: number;
  /** The layer's name (PyTorch module path in this library's models, e.g. `layer2.0.conv1`). */
  name: string;
  /** The layer's tfjs class name, e.g. `'Conv2d'`, `'Conv2D'`, `'MaxPooling2D'`. */
  className: string;
  /** Effective kernel side in pixels of the layer's input (dilation included; the pool size for pooling). */
  kernel: number;
  /** Stride of the layer (the pool size for pooling layers without an explicit stride). */
  stride: number;
  /** Side of the square of input pixels that can influence one output value. */
  field: number;
  /** Distance in input pixels between neighbouring outputs. */
  jump: number;
  /** Whether the layer lies on the longest path (ResNet shortcuts do not). */
  onMainPath: boolean;
}

/** Result of {@link receptiveField}. */
export interface ReceptiveField {
  /** Input side (the smaller of height and width). */
  inputSize: number;
  /** Every convolution and pooling layer, in execution order, main path and shortcuts. */
  layers: FieldEntry[];
  /** The first main-path entry whose field covers the whole input, or null. */
  coversInputAt: FieldEntry | null;
}

interface State {
  field: number;
  jump: number;
}

function square(v: unknown): number {
  return Array.isArray(v) ? Number(v[0]) : Number(v);
}

/**
 * Per-layer receptive field of a model with the standard recurrence, starting from one input pixel
 * (field 1, jump 1): a layer with kernel `k` and stride `s` makes `field += (k - 1) * jump` and
 * `jump *= s`; input upsampling by `scale` divides the jump by it; merges (residual additions) take the
 * largest field of their inputs; other layers keep it. Lists every convolution and pooling layer in
 * execution order (1-based `index`) and the first one on the main path whose field covers the input.
 */
export function receptiveField(model: tfl.LayersModel): ReceptiveField {
  const states = new Map<string, State>();
  const layers: FieldEntry[] = [];
  const inputShape = model.inputs[0]!.shape;
  const inputSize = Math.min(Number(inputShape[1]), Number(inputShape[2]));
  for (const layer of model.layers) {
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    const before = inbound.map((l) => states.get(l.name)).filter((s): s is State => !!s);
    const input: State = before.length
      ? { field: Math.max(...before.map((s) => s.field)), jump: Math.max(...before.map((s) => s.jump)) }
      : { field: 1, jump: 1 };
    const cls = layer.getClassName();
    const config = layer.getConfig();
    let kernel = 0;
    let stride = 1;
    if (cls === 'Conv2d') {
      kernel = Number(config['kernelSize']);
      stride = Number(config['strides']);
    } else if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
      kernel = square(config['kernelSize']);
      stride = square(config['strides']);
      const dilation = square(config['dilationRate'] ?? 1);
      kernel = (kernel - 1) * dilation + 1;
    } else if (cls === 'MaxPooling2D' || cls === 'AveragePooling2D') {
      kernel = square(config['poolSize']);
      stride = square(config['strides'] ?? config['poolSize']);
    }
    let state = input;
    if (kernel > 0) {
      state = { field: input.field + (kernel - 1) * input.jump, jump: input.jump * stride };
      layers.push({ index: 0, name: layer.name, className: cls, kernel, stride, field: state.field, jump: state.jump, onMainPath: true });
    } else if (cls === 'Upsample') {
      state = { field: input.field, jump: input.jump / Number(config['scale']) };
    }
    states.set(layer.name, state);
  }
  // Main path: an entry whose field is smaller than one already reached is a side branch (a ResNet
  // shortcut projection, built after its block's convolutions); everything else is the main path.
  let reached = 0;
  let position = 0;
  for (const entry of layers) {
    entry.onMainPath = entry.field >= reached;
    if (entry.onMainPath) entry.index = ++position;
    reached = Math.max(reached, entry.field);
  }
  return { inputSize, layers, coversInputAt: layers.find((e) => e.onMainPath && e.field >= inputSize) ?? null };
}
