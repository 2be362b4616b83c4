/**
 * PyTorch's SGD update as one cpu kernel (`RmcSgdStep`): a single pass over a weight, its gradient and
 * its momentum buffer instead of up to six tfjs ops, each a full pass and a fresh tensor. The arithmetic
 * is the composite ops' own (float32 rounding after every operation, the scalars as float32), so the
 * result is bit-identical; {@link TorchSGD} uses it when the kernel is registered for the active backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { floatValues, uninitializedFloat32, type CpuBackend } from './alloc.js';
import type { NativeAddon } from './addon.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** Kernel name; inputs `{ w, g }` or `{ w, g, buf }`, outputs `[w']` or `[w', buf']`. */
export const SGD_STEP_KERNEL = 'RmcSgdStep';

/** Attributes of {@link SGD_STEP_KERNEL}. */
export interface SgdStepAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/** Below this many elements the JS loop beats the call into the addon. */
const NATIVE_MIN_SIZE = 1 << 15;

function sgdLoop(w: Float32Array, g: Float32Array, buf: Float32Array | null, outW: Float32Array, outBuf: Float32Array | null, a: SgdStepAttrs): void {
  const f = Math.fround;
  const lr = f(a.lr);
  const momentum = f(a.momentum);
  const wd = f(a.weightDecay);
  for (let i = 0; i < w.length; i++) {
    let d = wd !== 0 ? f(g[i]! + f(w[i]! * wd)) : g[i]!;
    if (outBuf) {
      const b = buf ? f(f(buf[i]! * momentum) + d) : d;
      outBuf[i] = b;
      d = a.nesterov ? f(d + f(b * momentum)) : b;
    }
    outW[i] = w[i]! - f(d * lr);
  }
}

/** The kernel function, with the addon's threaded loop for large weights when given. */
export function sgdStepKernel(addon: NativeAddon | null): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const cpu = backend as CpuBackend;
    const read = (t: tf.TensorInfo | undefined) => (t ? floatValues(cpu, t) : null);
    const a = attrs as unknown as SgdStepAttrs;
    const w = read(inputs['w'])!;
    const g = read(inputs['g'])!;
    const buf = read(inputs['buf']);
    const withMomentum = a.momentum !== 0;
    const outW = uninitializedFloat32(w.length, cpu);
    const outBuf = withMomentum ? uninitializedFloat32(w.length, cpu) : null;
    if (addon && w.length >= NATIVE_MIN_SIZE) addon.sgdStep(w, g, buf, outW, outBuf, a.lr, a.momentum, a.weightDecay, a.nesterov ? 1 : 0);
    else sgdLoop(w, g, buf, outW, outBuf, a);
    const shape = inputs['w']!.shape;
    const out = [cpu.makeTensorInfo(shape, 'float32', outW)];
    if (outBuf) out.push(cpu.makeTensorInfo(shape, 'float32', outBuf));
    return out;
  };
}
