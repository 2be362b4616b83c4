import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  antiPerturbationRatio,
  attackSweep,
  deepfool,
  deepfoolAttack,
  fgsm,
  fgsmAttack,
  paperAttacks,
  pgd,
  pgdAttack,
  robustAccuracy,
} from '../src/index.js';
import { linearModel } from './helpers/linear.js';

const lin = linearModel([2, 2, 1], 3, 5);
const x = tf.randomUniform([2, 2, 2, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
afterAll(() => {
  lin.dispose();
  x.dispose();
});

describe('bad input gives clear errors naming the argument', () => {
  it.each([
    ['eps < 0', () => pgd(lin.model, x, [0, 1], { eps: -0.1 }), /eps = -0.1: must be a finite number >= 0/],
    ['eps NaN', () => fgsm(lin.model, x, [0, 1], { eps: NaN }), /eps = NaN: must be a finite number >= 0/],
    ['steps < 1', () => pgd(lin.model, x, [0, 1], { eps: 0.1, steps: 0 }), /steps = 0: must be an integer >= 1/],
    ['steps not integer', () => deepfool(lin.model, x, [0, 1], { eps: 0.1, steps: 2.5 }), /steps = 2.5: must be an integer >= 1/],
    ['stepSize 0', () => pgd(lin.model, x, [0, 1], { eps: 0.1, stepSize: 0 }), /stepSize = 0: must be a finite number > 0/],
    ['restarts 0', () => pgd(lin.model, x, [0, 1], { eps: 0.1, restarts: 0 }), /restarts = 0: must be an integer >= 1/],
    ['unknown norm', () => pgd(lin.model, x, [0, 1], { eps: 0.1, norm: 'l1' as never }), /norm = "l1": accepted values are 'linf' and 'l2' \(norm 'l1' is for apgd, apgdTargeted, fab, fabTargeted, square and autoAttack\)/],
    ['unknown loss', () => pgd(lin.model, x, [0, 1], { eps: 0.1, loss: 'mse' as never }), /loss = "mse": accepted values are 'ce', 'cw', 'dlr'/],
    ['label out of range', () => pgd(lin.model, x, [0, 3], { eps: 0.1 }), /y\[1\] = 3: labels must be integers in \[0, 2\] \(the model has 3 classes\)/],
    ['negative label', () => fgsm(lin.model, x, [-1, 0], { eps: 0.1 }), /y\[0\] = -1/],
    ['wrong label count', () => pgd(lin.model, x, [0, 1, 2], { eps: 0.1 }), /y: has 3 labels for 2 images/],
    ['labels of wrong rank', () => pgd(lin.model, x, tf.zeros([2, 1], 'int32') as never, { eps: 0.1 }), /y: expected a rank-1 tensor/],
    ['NaN pixels', () => pgd(lin.model, tf.fill([1, 2, 2, 1], NaN) as tf.Tensor4D, [0], { eps: 0.1 }), /x: contains NaN pixels/],
    ['x above the bounds', () => pgd(lin.model, tf.fill([1, 2, 2, 1], 1.5) as tf.Tensor4D, [0], { eps: 0.1 }), /x: pixel values span \[1.5, 1.5\], outside bounds \[0, 1\]/],
    ['x outside custom bounds', () => fgsm(lin.model, x, [0, 1], { eps: 0.1, bounds: [0.5, 1] }), /outside bounds \[0.5, 1\]/],
    ['bad bounds', () => pgd(lin.model, x, [0, 1], { eps: 0.1, bounds: [1, 0] }), /bounds = \[1,0\]: must be \[min, max\] with finite min < max/],
    ['x of wrong rank', () => pgd(lin.model, tf.zeros([2, 4]) as never, [0, 1], { eps: 0.1 }), /x: expected a rank-4 NHWC batch, got shape \[2,4\]/],
    ['not a model', () => pgd({} as never, x, [0, 1], { eps: 0.1 }), /model: expected a tf.LayersModel or a function/],
    ['model giving no logits', () => pgd(((t: tf.Tensor4D) => tf.sum(t)) as never, x, [0, 1], { eps: 0.1 }), /model: expected logits of shape \[1, classes\]/],
    ['candidates < 2', () => deepfool(lin.model, x, [0, 1], { eps: 0.1, candidates: 1 }), /candidates = 1: must be an integer >= 2/],
    ['negative seed', () => pgd(lin.model, x, [0, 1], { eps: 0.1, seed: -3 }), /seed = -3: must be an integer >= 0/],
    ['missing options', () => pgd(lin.model, x, [0, 1], undefined as never), /pgd: options with at least \{ eps \} are required/],
    ['empty sweep', () => attackSweep(lin.model, pgdAttack(), x, [0, 1], []), /epsilons: expected a non-empty array/],
    ['negative sweep eps', () => attackSweep(lin.model, pgdAttack(), x, [0, 1], [0.1, -1]), /epsilons\[1\] = -1/],
    ['duplicate attack names', () => robustAccuracy(lin.model, { x, y: [0, 1] }, [fgsmAttack(), fgsmAttack()], { eps: 0.1 }), /two attacks are named 'FGSM'/],
    ['targeted attack in robustAccuracy', () => robustAccuracy(lin.model, { x, y: [0, 1] }, [pgdAttack({ targeted: true })], { eps: 0.1 }), /'PGD-40' is targeted/],
    ['batchSize 0', () => robustAccuracy(lin.model, { x, y: [0, 1] }, [fgsmAttack()], { eps: 0.1, batchSize: 0 }), /batchSize = 0: must be an integer >= 1/],
    ['bad anti-perturbation eps', () => antiPerturbationRatio(lin.model, x, [-0.1]), /epsilons\[0\] = -0.1/],
    ['bad attack factory option', () => deepfoolAttack({ overshoot: -1 }), /overshoot = -1: must be a finite number >= 0/],
  ] as const)('%s', (_name, call, message) => {
    const before = tf.memory().numTensors;
    expect(call).toThrow(message);
    // A refused call leaves nothing behind (tensors built for the call itself aside).
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(1);
  });
});

describe('paperAttacks has Table I\'s settings', () => {
  it('FGSM, PGD-10/20 (rel 0.25), PGD-50 (rel 0.033333), DeepFool (50 steps, overshoot 0.02)', () => {
    const suite = paperAttacks({ seed: 0 });
    expect(suite.map((a) => [a.name, a.kind, a.norm])).toEqual([
      ['FGSM', 'fixed-epsilon', 'linf'],
      ['PGD-10', 'fixed-epsilon', 'linf'],
      ['PGD-20', 'fixed-epsilon', 'linf'],
      ['PGD-50', 'fixed-epsilon', 'linf'],
      ['DeepFool', 'minimization', 'linf'],
    ]);
    // Behaviour, not just names: on the linear model PGD-50's last iterate equals pgd() with 50 steps of
    // 0.033333 eps, and PGD-10 equals 10 steps of 0.25 eps.
    const eps = 0.05;
    const check = (index: number, steps: number, relStepSize: number, seed: number) => {
      const a = suite[index]!.run(lin.model, x, [0, 1], eps);
      const b = pgd(lin.model, x, [0, 1], { eps, steps, relStepSize, seed });
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([a, b]);
    };
    check(1, 10, 0.25, 0);
    check(2, 20, 0.25, 1000);
    check(3, 50, 0.033333, 2000);
    const d1 = suite[4]!.run(lin.model, x, [0, 1], eps);
    const d2 = deepfoolAttack({ steps: 50, overshoot: 0.02, candidates: 10 }).run(lin.model, x, [0, 1], eps);
    expect(Array.from(d1.dataSync())).toEqual(Array.from(d2.dataSync()));
    tf.dispose([d1, d2]);
  });
});
