import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from './layer-args.js';
import { checkShortcutShape } from './shortcut-shape.js';

/**
 * The residual addition `x + shortcut` of two tensors of one shape, as tfjs-layers' `add` computes it,
 * but keeping nothing for the backward pass: tfjs's own `Add` gradient saves both inputs (it reads only
 * their shapes, to undo broadcasting), which keeps a residual branch's last convolution output alive
 * through the backward pass for nothing. {@link preActBlock} (PreActResNet18, WideResNet) uses it for
 * its `<name>.add`. Registered for serialization as `ResidualAdd`.
 */
export class ResidualAdd extends tfl.layers.Layer {
  /**
   * Name under which the class is registered for tfjs serialization (`'ResidualAdd'`).
   * @nocollapse
   */
  static className = 'ResidualAdd';

  /**
   * Creates the layer (it has no weights).
   *
   * @param args the usual tfjs layer options (`name`, ...).
   */
  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const shapes = inputShape as tfl.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) throw new RangeError(`${this.name}: takes two inputs [x, shortcut], got ${Array.isArray(shapes[0]) ? shapes.length : 1}`);
    const [a, b] = shapes as [tfl.Shape, tfl.Shape];
    checkShortcutShape(this.name, a, b);
    return a;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new RangeError(`${this.name}: takes two inputs [x, shortcut], got ${Array.isArray(inputs) ? inputs.length : 1}`);
    }
    const [a, b] = inputs as [tf.Tensor, tf.Tensor];
    checkShortcutShape(this.name, a.shape, b.shape);
    return residualSum(a, b);
  }
}
tf.serialization.registerClass(ResidualAdd);

/** `a + b` (one shape) whose gradient, `dy` to each, keeps no tensor of the forward pass. */
const residualSum = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b] = args as [tf.Tensor, tf.Tensor];
  return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)] };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
