// Input checks shared by every attack (src/attacks/validate.ts, model.ts): images of the model's input
// shape, no unknown option keys, no disposed tensors; and no tensor left behind when the model or a
// custom loss throws inside an attack, including those tf.grad saved for its backward pass.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { gradientOf } from '../src/attacks/gradient.js';
import {
  antiPerturbationRatio,
  apgd,
  apgdAttack,
  apgdTargeted,
  apgdTargetedAttack,
  attackSweep,
  autoAttack,
  autoAttackAttack,
  deepfool,
  deepfoolAttack,
  fab,
  fabAttack,
  fabTargeted,
  fabTargetedAttack,
  fgsm,
  fgsmAttack,
  logitsOf,
  paperAttacks,
  pgd,
  pgdAttack,
  resnet18,
  robustAccuracy,
  square,
  squareAttack,
  type ModelLike,
} from '../src/index.js';
import { linearModel } from './helpers/linear.js';

const net: tfl.LayersModel = resnet18({ width: 0.0625, seed: 0 });
const x32 = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const x16 = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
const shape: [number, number, number] = [2, 2, 3];
const lin = linearModel(shape, 10, 4);
const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', 3) as tf.Tensor4D;
const y = [1, 2, 3];

afterAll(() => {
  net.dispose();
  lin.dispose();
  tf.dispose([x32, x16, x]);
});

/** `call` throws `message` and leaves the tensor count unchanged. */
function expectRefused(call: () => unknown, message: RegExp): void {
  const before = tf.memory().numTensors;
  expect(call).toThrow(message);
  expect(tf.memory().numTensors).toBe(before);
}

describe("images must have the model's input shape", () => {
  const mismatch = /^x: images of shape \[16,16,3\] \(height, width, channels\), but the model takes \[32,32,3\]$/;
  it.each<[string, () => unknown]>([
    ['fgsm', () => fgsm(net, x16, [0, 1], { eps: 0.03 })],
    ['pgd', () => pgd(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['deepfool', () => deepfool(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['apgd', () => apgd(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['apgdTargeted', () => apgdTargeted(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['fab', () => fab(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['fabTargeted', () => fabTargeted(net, x16, [0, 1], { eps: 0.03, steps: 1 })],
    ['square', () => square(net, x16, [0, 1], { eps: 0.03, queries: 1 })],
    ['autoAttack', () => autoAttack(net, x16, [0, 1], { eps: 0.03, steps: 1, queries: 1 })],
    ['robustAccuracy', () => robustAccuracy(net, { x: x16, y: [0, 1] }, [fgsmAttack()], { eps: 0.03 })],
    ['attackSweep', () => attackSweep(net, fgsmAttack(), x16, [0, 1], [0.03])],
  ])('%s', (_name, call) => expectRefused(call, mismatch));

  it('uint8 data of the wrong size for the model names data.images', () => {
    const small = resnet18({ width: 0.0625, seed: 0, inputShape: [16, 16, 3] });
    try {
      const data = { images: new Uint8Array(2 * 32 * 32 * 3).fill(7), labels: [0, 1], count: 2 };
      expectRefused(() => robustAccuracy(small, data, [fgsmAttack()], { eps: 0.03 }), /^data.images: images of shape \[32,32,3\] \(height, width, channels\), but the model takes \[16,16,3\]$/);
    } finally {
      small.dispose();
    }
  });

  it('images of the right shape pass, and function models (no input shape) take any size', () => {
    const adv = fgsm(net, x32, [0, 1], { eps: 0.03 });
    expect(adv.shape).toEqual([2, 32, 32, 3]);
    adv.dispose();
    const flat = (t: tf.Tensor4D) => tf.matMul(tf.reshape(t, [t.shape[0], -1]), tf.ones([t.size / t.shape[0], 3])) as tf.Tensor2D;
    const out = fgsm(flat, x16, [0, 1], { eps: 0.03 });
    expect(out.shape).toEqual([2, 16, 16, 3]);
    out.dispose();
  });
});

describe('unknown option keys are rejected with the accepted ones', () => {
  const pgdKeys = 'eps, norm, steps, stepSize, relStepSize, randomStart, restarts, loss, targeted, bounds, seed';
  it.each<[string, () => unknown, RegExp]>([
    ['pgd: epsilon for eps', () => pgd(lin.model, x, y, { eps: 0.1, epsilon: 0.3 } as never), new RegExp(`^pgd: unknown option 'epsilon'; accepted options: ${pgdKeys}$`)],
    ['pgd: step for steps', () => pgd(lin.model, x, y, { eps: 0.1, step: 3 } as never), /^pgd: unknown option 'step'/],
    ['fgsm: steps are not FGSM options', () => fgsm(lin.model, x, y, { eps: 0.1, steps: 5 } as never), /^fgsm: unknown option 'steps'; accepted options: eps, loss, targeted, bounds$/],
    ['deepfool', () => deepfool(lin.model, x, y, { eps: 0.1, overshot: 0.1 } as never), /^deepfool: unknown option 'overshot'; accepted options: eps, norm, steps, candidates, overshoot, bounds$/],
    ['apgd', () => apgd(lin.model, x, y, { eps: 0.1, iterations: 5 } as never), /^apgd: unknown option 'iterations'; accepted options: eps, norm, loss, steps, restarts, rho/],
    ['apgdTargeted takes no loss', () => apgdTargeted(lin.model, x, y, { eps: 0.1, loss: 'ce' } as never), /^apgdTargeted: unknown option 'loss'; accepted options: eps, norm, steps, .*, targetClasses$/],
    ['fab', () => fab(lin.model, x, y, { eps: 0.1, alpha: 0.1 } as never), /^fab: unknown option 'alpha'; accepted options: eps, norm, steps, restarts, alphaMax, eta, beta, bounds, seed, onStep$/],
    ['fabTargeted', () => fabTargeted(lin.model, x, y, { eps: 0.1, targets: 3 } as never), /^fabTargeted: unknown option 'targets'; accepted options: .*, onStep, targetClasses$/],
    ['square', () => square(lin.model, x, y, { eps: 0.1, nQueries: 3 } as never), /^square: unknown option 'nQueries'; accepted options: eps, norm, queries, pInit/],
    ['autoAttack', () => autoAttack(lin.model, x, y, { eps: 0.1, n_ex: 3 } as never), /^autoAttack: unknown option 'n_ex'; accepted options: eps, norm, version, attacks, seed, batchSize, .*, nonFinite$/],
    ['robustAccuracy', () => robustAccuracy(lin.model, { x, y }, [fgsmAttack()], { eps: 0.1, batch: 2 } as never), /^robustAccuracy: unknown option 'batch'; accepted options: eps, batchSize, onProgress, nonFinite$/],
    ['paperAttacks', () => paperAttacks({ seeds: 1 } as never), /^paperAttacks: unknown option 'seeds'; accepted options: seed$/],
    ['antiPerturbationRatio', () => antiPerturbationRatio(lin.model, x, [0.1], { step: 3 } as never), /^antiPerturbationRatio: unknown option 'step'; accepted options: steps, relStepSize, batchSize, seed$/],
    // The factories take the attack's options without eps (the budget comes with each run), plus a name.
    ['pgdAttack refuses eps', () => pgdAttack({ eps: 0.1 } as never), /^pgdAttack: unknown option 'eps'; accepted options: norm, steps, stepSize, relStepSize, randomStart, restarts, loss, targeted, bounds, seed, name$/],
    ['pgdAttack: epsilon', () => pgdAttack({ epsilon: 0.1 } as never), /^pgdAttack: unknown option 'epsilon'/],
    ['fgsmAttack', () => fgsmAttack({ steps: 2 } as never), /^fgsmAttack: unknown option 'steps'; accepted options: loss, targeted, bounds, name$/],
    ['deepfoolAttack', () => deepfoolAttack({ candidate: 3 } as never), /^deepfoolAttack: unknown option 'candidate'/],
    ['apgdAttack', () => apgdAttack({ restart: 2 } as never), /^apgdAttack: unknown option 'restart'/],
    ['apgdTargetedAttack', () => apgdTargetedAttack({ loss: 'dlr' } as never), /^apgdTargetedAttack: unknown option 'loss'/],
    ['fabAttack', () => fabAttack({ eps: 0.1 } as never), /^fabAttack: unknown option 'eps'/],
    ['fabTargetedAttack', () => fabTargetedAttack({ target: 2 } as never), /^fabTargetedAttack: unknown option 'target'/],
    ['squareAttack', () => squareAttack({ p_init: 0.5 } as never), /^squareAttack: unknown option 'p_init'/],
    ['autoAttackAttack refuses batchSize (the batch is the one robustAccuracy gives)', () => autoAttackAttack({ batchSize: 8 } as never), /^autoAttackAttack: unknown option 'batchSize'; accepted options: norm, version, attacks, seed, bounds, steps, queries, targetClasses, onProgress, onWarning, nonFinite, name$/],
  ])('%s', (_name, call, message) => expectRefused(call, message));

  it('every documented option is accepted (factories pass theirs on)', () => {
    const adv = [
      pgd(lin.model, x, y, { eps: 0.1, norm: 'linf', steps: 1, stepSize: 0.05, relStepSize: 0.5, randomStart: false, restarts: 1, loss: 'ce', targeted: false, bounds: [0, 1], seed: 1 }),
      fgsm(lin.model, x, y, { eps: 0.1, loss: 'cw', targeted: false, bounds: [0, 1] }),
      pgdAttack({ name: 'P', steps: 1, seed: 0 }).run(lin.model, x, y, 0.1),
      fgsmAttack({ name: 'F', loss: 'ce' }).run(lin.model, x, y, 0.1),
      deepfoolAttack({ name: 'D', steps: 1 }).run(lin.model, x, y, 0.1),
      apgdAttack({ name: 'A', steps: 1 }).run(lin.model, x, y, 0.1),
      apgdTargetedAttack({ name: 'AT', steps: 1, targetClasses: 1 }).run(lin.model, x, y, 0.1),
      fabAttack({ name: 'FB', steps: 1 }).run(lin.model, x, y, 0.1),
      fabTargetedAttack({ name: 'FT', steps: 1, targetClasses: 1 }).run(lin.model, x, y, 0.1),
      squareAttack({ name: 'S', queries: 1 }).run(lin.model, x, y, 0.1),
      autoAttackAttack({ name: 'AA', version: 'custom', attacks: ['apgd-ce'], steps: 1, nonFinite: 'error', onWarning: () => {} }).run(lin.model, x, y, 0.1),
    ];
    expect(adv.map((t) => t.shape)).toEqual(adv.map(() => [3, ...shape]));
    tf.dispose(adv);
  });
});

describe('disposed tensors are refused by name', () => {
  const disposed = () => {
    const t = tf.randomUniform([3, ...shape], 0, 1, 'float32', 9) as tf.Tensor4D;
    t.dispose();
    return t;
  };
  const yDisposed = () => {
    const t = tf.tensor1d(y, 'int32');
    t.dispose();
    return t;
  };
  it.each<[string, () => unknown, RegExp]>([
    ['pgd x', () => pgd(lin.model, disposed(), y, { eps: 0.1 }), /^x: the tensor has been disposed/],
    ['fgsm y', () => fgsm(lin.model, x, yDisposed(), { eps: 0.1 }), /^y: the tensor has been disposed/],
    ['deepfool x', () => deepfool(lin.model, disposed(), y, { eps: 0.1 }), /^x: the tensor has been disposed/],
    ['apgd init', () => apgd(lin.model, x, y, { eps: 0.1, init: disposed() }), /^init: the tensor has been disposed/],
    ['square x', () => square(lin.model, disposed(), y, { eps: 0.1 }), /^x: the tensor has been disposed/],
    ['autoAttack y', () => autoAttack(lin.model, x, yDisposed(), { eps: 0.1 }), /^y: the tensor has been disposed/],
    ['robustAccuracy x', () => robustAccuracy(lin.model, { x: disposed(), y }, [fgsmAttack()], { eps: 0.1 }), /^x: the tensor has been disposed/],
  ])('%s', (_name, call, message) => expectRefused(call, message));

  it('a disposed LayersModel is refused as model', () => {
    const gone = resnet18({ width: 0.0625, seed: 0, name: 'gone' });
    gone.dispose();
    expectRefused(() => pgd(gone, x32, [0, 1], { eps: 0.03 }), /^model: the LayersModel 'gone' has been disposed$/);
  });
});

describe('nothing is left behind when the model or a custom loss throws', () => {
  /** The linear model (or `base`), which throws (after its ops ran, so tf.grad has saved tensors) on call `k`. */
  function failingAt(k: number, base: (t: tf.Tensor4D) => tf.Tensor = lin.model): { model: ModelLike; calls: () => number } {
    let calls = 0;
    return {
      model: (t: tf.Tensor4D) => {
        const z = base(t);
        if (++calls === k) throw new Error(`model failed at call ${k}`);
        return z;
      },
      calls: () => calls,
    };
  }

  // The model's own predictions, so that every point is attacked (no attack skips a point misclassified clean).
  const yc = tf.tidy(() => Array.from(tf.argMax(lin.model(x), 1).dataSync()));
  // L2 and L1 Square need images at least 5 pixels high: a linear model on 5x5x3 images.
  const lin5 = linearModel([5, 5, 3], 10, 8);
  const x5 = tf.randomUniform([3, 5, 5, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const yc5 = tf.tidy(() => Array.from(tf.argMax(lin5.model(x5), 1).dataSync()));
  afterAll(() => {
    lin5.dispose();
    x5.dispose();
  });

  // Each attack, run until its model fails at every call it makes: the error propagates and no tensor remains.
  it.each<[string, (model: ModelLike) => tf.Tensor | { adversarial: tf.Tensor }, ((t: tf.Tensor4D) => tf.Tensor)?]>([
    ['pgd with restarts', (m) => pgd(m, x, yc, { eps: 0.1, steps: 3, restarts: 2, seed: 0 })],
    ['fgsm', (m) => fgsm(m, x, yc, { eps: 0.1 })],
    ['deepfool', (m) => deepfool(m, x, yc, { eps: 0.05, steps: 3 })],
    ['apgd with EOT', (m) => apgd(m, x, yc, { eps: 0.05, steps: 3, restarts: 2, eotIter: 2 })],
    ['apgdTargeted', (m) => apgdTargeted(m, x, yc, { eps: 0.05, steps: 3, targetClasses: 2 })],
    ['fab', (m) => fab(m, x, yc, { eps: 0.05, steps: 3, restarts: 2 })],
    ['fabTargeted', (m) => fabTargeted(m, x, yc, { eps: 0.05, steps: 3, targetClasses: 2 })],
    ['square', (m) => square(m, x, yc, { eps: 0.05, queries: 4 })],
    ['autoAttack', (m) => autoAttack(m, x, yc, { eps: 0.02, steps: 2, queries: 3, targetClasses: 2, onWarning: () => {} })],
    ['robustAccuracy', (m) => tf.scalar(robustAccuracy(m, { x, y: yc }, [fgsmAttack(), pgdAttack({ steps: 2, seed: 0 }), deepfoolAttack({ steps: 2 })], { eps: 0.05, batchSize: 2 }).worstCase)],
    ['attackSweep of DeepFool', (m) => {
      const results = attackSweep(m, deepfoolAttack({ steps: 2 }), x, yc, [0.02, 0.05]);
      const clipped = tf.concat(results.map((r) => r.clipped));
      tf.dispose(results.flatMap((r) => [r.raw, r.clipped, r.success]));
      return clipped;
    }],
    ['square in L2 (5x5 images)', (m) => square(m, x5, yc5, { eps: 0.5, norm: 'l2', queries: 4 }), lin5.model],
    ['square in L1 (5x5 images)', (m) => square(m, x5, yc5, { eps: 2, norm: 'l1', queries: 4 }), lin5.model],
  ])('%s', (_name, attack, base = lin.model) => {
    const dispose = (out: tf.Tensor | { adversarial: tf.Tensor }) => (out instanceof tf.Tensor ? out.dispose() : out.adversarial.dispose());
    const counting = failingAt(0, base);
    dispose(attack(counting.model));
    const total = counting.calls();
    expect(total).toBeGreaterThan(1);
    for (let k = 1; k <= total; k++) {
      const before = tf.memory().numTensors;
      expect(() => attack(failingAt(k, base).model), `failing at call ${k} of ${total}`).toThrow(`model failed at call ${k}`);
      expect(tf.memory().numTensors, `tensors left when the model fails at call ${k} of ${total}`).toBe(before);
    }
  });

  it('a throwing custom loss in pgd on a ResNet-18 leaves nothing (it left 176 tensors per call)', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      expect(() => pgd(net, x32, [0, 1], { eps: 0.03, steps: 2, loss: () => { throw new Error('loss failed'); } })).toThrow('loss failed');
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("tf.grad itself keeps the tensors it saved for the backward pass when f throws; gradientOf releases them", () => {
    const forward = (t: tf.Tensor) => {
      tf.sum(logitsOf(net, t as tf.Tensor4D));
      throw new Error('after the forward pass');
    };
    const before = tf.memory().numTensors;
    expect(() => tf.grad(forward)(x32)).toThrow('after the forward pass');
    const leftByTfGrad = tf.memory().numTensors - before;
    // tfjs-core 4.22: the saved tensors stay on the engine's tape (kept, so no tidy frees them).
    expect(leftByTfGrad).toBeGreaterThan(100);
    const tape = tf.engine().state.activeTape;
    for (const node of tape ?? []) for (const t of node.saved ?? []) t.dispose();
    tf.engine().state.activeTape = null as never;
    expect(tf.memory().numTensors).toBe(before);

    expect(() => gradientOf(forward, x32)).toThrow('after the forward pass');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('inside an enclosing tf.grad the saved tensors stay on its tape, which disposes them when it completes', () => {
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => {
      expect(() => gradientOf(() => {
        tf.sum(lin.model(t as tf.Tensor4D));
        throw new Error('inner');
      }, t)).toThrow('inner');
      return tf.sum(lin.model(t as tf.Tensor4D)) as tf.Scalar;
    })(x);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
