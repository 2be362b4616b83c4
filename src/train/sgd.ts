/**
 * Stochastic gradient descent with momentum and weight decay exactly as PyTorch's `torch.optim.SGD`
 * applies them (the paper's optimiser), with state that can be saved and restored for resuming.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SGD_STEP_KERNEL, type SgdStepAttrs } from '../backend/sgd-kernel.js';
// The package's kernels (registered once per process): see src/backend/register.ts.
import '../backend/register.js';

/** Options of {@link TorchSGD}. */
export interface SgdOptions {
  /** Learning rate (> 0); change it between steps with `lr`. */
  lr: number;
  /** Momentum (default 0.9, the paper's). */
  momentum?: number;
  /** L2 weight decay added to the gradient, `g + weightDecay * w` (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false, as the paper). */
  nesterov?: boolean;
}

/** A tfjs-layers `LayerVariable` or anything with the same `read`/`write`/`shape`. */
export interface WeightHandle {
  /** The weight's current value (not disposed by the optimizer). */
  read(): tf.Tensor;
  /** Replaces the weight's value with `value`; the optimizer disposes `value` afterwards. */
  write(value: tf.Tensor): unknown;
  /** The weight's shape; a restored momentum buffer must have the same. */
  readonly shape: ReadonlyArray<number | null>;
}

/** A trainable weight: a `tf.Variable` or a tfjs-layers `LayerVariable` (`model.trainableWeights`). */
export type Trainable = tf.Variable | WeightHandle;

function checkFinite(v: unknown, name: string, min: number, exclusive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (exclusive ? v <= min : v < min)) {
    throw new RangeError(`${name} = ${String(v)}: must be a finite number ${exclusive ? '>' : '>='} ${min}`);
  }
  return v;
}

function handle(v: Trainable): WeightHandle {
  if (v instanceof tf.Variable) return { read: () => v, write: (t: tf.Tensor) => v.assign(t), shape: v.shape };
  return v as WeightHandle;
}

/** Saved optimiser state: the step count and one momentum buffer per variable, in order. */
export interface SgdState {
  /** Steps taken ({@link TorchSGD.stepCount}). */
  steps: number;
  /** Momentum buffer of each variable, in the constructor's order; null where none exists yet (or momentum 0). */
  buffers: Array<{
    /** The buffer's shape, that of its variable. */
    shape: number[];
    /** The buffer's values, row-major. */
    data: Float32Array;
  } | null>;
}

/**
 * PyTorch's SGD: for each weight `w` with gradient `g`,
 * `d = g + weightDecay * w`; `buf = d` on the first step, then `buf = momentum * buf + d`;
 * `d = nesterov ? d + momentum * buf : buf`; `w -= lr * d`.
 * (tfjs's `MomentumOptimizer` has no weight decay and tfjs-layers regularisers scale differently.)
 */
export class TorchSGD {
  private rate: number;
  /** Momentum factor, dampening 0 (PyTorch's `momentum`; default here 0.9, PyTorch's is 0). */
  readonly momentum: number;
  /** L2 weight decay added to the gradient, `g + weightDecay * w` (PyTorch's `weight_decay`, default 0). */
  readonly weightDecay: number;
  /** Nesterov momentum (PyTorch's `nesterov`, default false). */
  readonly nesterov: boolean;
  private readonly variables: WeightHandle[];
  private buffers: Array<tf.Tensor | null>;
  private steps = 0;

  /**
   * Creates the optimizer (PyTorch: `torch.optim.SGD(params, lr, momentum, weight_decay=weightDecay,
   * nesterov=nesterov)`), with no momentum buffers yet.
   *
   * @param variables The weights to update, in the order `step` takes their gradients (e.g.
   *   `model.trainableWeights`).
   * @param options `lr` (> 0; also checked when set later), `momentum` and `weightDecay` (finite, >= 0), `nesterov` (needs momentum >
   *   0); a RangeError names the first invalid one.
   */
  constructor(variables: readonly Trainable[], options: SgdOptions) {
    this.rate = checkFinite(options.lr, 'lr', 0, true);
    this.momentum = checkFinite(options.momentum ?? 0.9, 'momentum', 0);
    this.weightDecay = checkFinite(options.weightDecay ?? 0, 'weightDecay', 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && this.momentum === 0) throw new RangeError('nesterov: needs momentum > 0');
    this.variables = variables.map(handle);
    this.buffers = this.variables.map(() => null);
  }

  /** Learning rate of the next step (PyTorch's `lr`, a finite number > 0); set it between steps to follow a schedule. */
  get lr(): number {
    return this.rate;
  }

  /** Sets the rate of the next steps; a RangeError unless it is a finite number > 0 (the rate is then unchanged). */
  set lr(value: number) {
    this.rate = checkFinite(value, 'lr', 0, true);
  }

  /** Number of steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  /** Applies one update; `grads[i]` is the gradient of `variables[i]` (null: no gradient, skipped). */
  step(grads: ReadonlyArray<tf.Tensor | null | undefined>): void {
    if (grads.length !== this.variables.length) {
      throw new RangeError(`grads: got ${grads.length} gradients for ${this.variables.length} variables`);
    }
    const { lr, momentum, weightDecay, nesterov } = this;
    // The one-pass kernel of the kernel pack where the active backend has it (the cpu backend), else tf ops.
    const fused = tf.getKernel(SGD_STEP_KERNEL, tf.getBackend()) !== undefined;
    const attrs: SgdStepAttrs = { lr, momentum, weightDecay, nesterov };
    this.variables.forEach((variable, i) => {
      const g = grads[i];
      if (!g) return;
      const w = variable.read();
      const old = this.buffers[i];
      const [next, buffer] = fused && w.dtype === 'float32' && g.dtype === 'float32' && tf.util.arraysEqual(w.shape, g.shape)
        ? (tf.engine().runKernel(SGD_STEP_KERNEL, old ? { w, g, buf: old } : { w, g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]) as [tf.Tensor, tf.Tensor | undefined]
        : tf.tidy(() => {
            let d = weightDecay ? tf.add(g, tf.mul(w, weightDecay)) : g;
            let buf: tf.Tensor | undefined;
            if (momentum) {
              buf = old ? tf.add(tf.mul(old, momentum), d) : tf.clone(d);
              d = nesterov ? tf.add(d, tf.mul(buf, momentum)) : buf;
            }
            return [tf.sub(w, tf.mul(d, lr)), buf] as [tf.Tensor, tf.Tensor | undefined];
          });
      variable.write(next);
      next.dispose();
      if (buffer) {
        this.buffers[i]?.dispose();
        this.buffers[i] = tf.keep(buffer);
      }
    });
    this.steps += 1;
  }

  /** The state to save (copies of the momentum buffers). */
  getState(): SgdState {
    return {
      steps: this.steps,
      buffers: this.buffers.map((b) => (b ? { shape: b.shape, data: Float32Array.from(b.dataSync()) } : null)),
    };
  }

  /**
   * Restores a saved state. Everything is checked before anything changes: `steps` an integer >= 0, one
   * buffer (or null) per variable, each with its variable's shape and as many finite float32 values; a
   * RangeError names the first that is not.
   */
  setState(state: SgdState): void {
    if (!state || typeof state !== 'object') throw new TypeError('optimizer state: expected { steps, buffers }');
    if (!Number.isInteger(state.steps) || state.steps < 0) throw new RangeError(`optimizer state: steps = ${String(state.steps)}: must be an integer >= 0`);
    if (!Array.isArray(state.buffers) || state.buffers.length !== this.variables.length) {
      throw new RangeError(`optimizer state: expected ${this.variables.length} momentum buffers, got ${Array.isArray(state.buffers) ? state.buffers.length : String(state.buffers)}`);
    }
    state.buffers.forEach((b, i) => {
      if (b === null) return;
      const shape = this.variables[i]!.shape as number[];
      if (!b || !Array.isArray(b.shape) || !tf.util.arraysEqual(b.shape, shape)) {
        throw new RangeError(`optimizer state: buffer ${i} has shape [${b?.shape}], the variable [${shape}]`);
      }
      const size = tf.util.sizeFromShape(shape);
      if (!(b.data instanceof Float32Array) || b.data.length !== size) {
        throw new RangeError(`optimizer state: buffer ${i} holds ${b.data instanceof Float32Array ? `${b.data.length} values` : 'no Float32Array'}, its shape [${shape}] needs ${size}`);
      }
      for (let k = 0; k < size; k++) {
        if (!Number.isFinite(b.data[k]!)) throw new RangeError(`optimizer state: buffer ${i} holds ${b.data[k]} at index ${k}: momentum must be finite`);
      }
    });
    this.dispose();
    this.buffers = state.buffers.map((b) => (b ? tf.tensor(b.data, b.shape, 'float32') : null));
    this.steps = state.steps;
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    this.buffers.forEach((b) => b?.dispose());
    this.buffers = this.variables.map(() => null);
  }
}
