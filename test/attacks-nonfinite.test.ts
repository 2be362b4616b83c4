// Non-finite logits (a model whose weights diverged): attacks and evaluations fail with a clear error, or
// with nonFinite: 'count-as-wrong' count those images as misclassified; never is argMax of NaN (class 0)
// counted as a prediction.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import {
  antiPerturbationRatio,
  apgd,
  apgdTargeted,
  attackSweep,
  autoAttack,
  deepfool,
  deepfoolAttack,
  fab,
  fabTargeted,
  fgsm,
  fgsmAttack,
  isAdversarial,
  NonFiniteLogitsError,
  paperAttacks,
  pgd,
  pgdAttack,
  resnet18,
  robustAccuracy,
  square,
  type ModelLike,
} from '../src/index.js';
import { linearModel } from './helpers/linear.js';

const shape: [number, number, number] = [2, 2, 3];
const lin = linearModel(shape, 10, 7);
/** The linear model with every weight NaN: logits are NaN for every image. */
const nanWeights = tf.fill([lin.d, 10], NaN) as tf.Tensor2D;
const nanModel = (x: tf.Tensor4D) => tf.matMul(tf.reshape(x, [x.shape[0], lin.d]), nanWeights) as tf.Tensor2D;
/** Logits +Infinity in class 0 for every image (an overflow rather than NaN). */
const infModel = (x: tf.Tensor4D) => tf.tidy(() => tf.concat([tf.fill([x.shape[0], 1], Infinity), tf.slice(lin.model(x), [0, 1], [x.shape[0], 9])], 1)) as tf.Tensor2D;
/**
 * The linear model, finite wherever every pixel is below 0.85 and NaN for images with a pixel above
 * (an attack's step can get there); the guard adds 0 to the linear model's gradient elsewhere.
 */
const fragile = (t: tf.Tensor4D) =>
  tf.tidy(() => {
    const guard = tf.log(tf.sub(0.85, tf.max(tf.reshape(t, [t.shape[0], -1]), 1, true)));
    return tf.add(lin.model(t), tf.mul(guard, 0)) as tf.Tensor2D;
  });
const x = tf.randomUniform([4, ...shape], 0, 1, 'float32', 3) as tf.Tensor4D;
// Labels other than 0: argMax of a NaN row is 0, so a NaN model "misclassifies" these and "classifies" label 0.
const y = [0, 0, 3, 0];
const yTensor = tf.tensor1d(y, 'int32');

// A width-1/16 ResNet-18 whose weights are all NaN, as training with lr 1e30 leaves them.
const net: tfl.LayersModel = resnet18({ width: 0.0625, seed: 0 });
net.setWeights(net.getWeights().map((w) => tf.fill(w.shape, NaN)));
const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;

afterAll(() => {
  lin.dispose();
  tf.dispose([nanWeights, x, yTensor, images]);
  net.dispose();
});

/** `call` throws a NonFiniteLogitsError matching `message` and leaves the tensor count unchanged. */
function expectNonFinite(call: () => unknown, message: RegExp): NonFiniteLogitsError {
  const before = tf.memory().numTensors;
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error, 'no error was thrown').toBeDefined();
  expect(error).toBeInstanceOf(NonFiniteLogitsError);
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message.split('\n')).toHaveLength(1);
  expect(tf.memory().numTensors).toBe(before);
  return error as NonFiniteLogitsError;
}

const diverged = '; the weights may have diverged';

describe('every attack refuses a model whose logits are NaN', () => {
  it.each<[string, (model: ModelLike) => unknown, RegExp]>([
    ['fgsm', (m) => fgsm(m, x, y, { eps: 0.1 }), /^fgsm: the model produced non-finite logits \(NaN\) for 4 of 4 images; the weights may have diverged$/],
    ['pgd', (m) => pgd(m, x, y, { eps: 0.1, steps: 2, seed: 0 }), /^pgd: .*\(NaN\) for 4 of 4 images/],
    ['pgd with restarts', (m) => pgd(m, x, y, { eps: 0.1, steps: 2, restarts: 2, seed: 0 }), /^pgd: .*\(NaN\) for 4 of 4 images/],
    ['pgd, L2, targeted, cw loss', (m) => pgd(m, x, [1, 2, 3, 4], { eps: 0.5, norm: 'l2', steps: 2, targeted: true, loss: 'cw', seed: 0 }), /^pgd: .*\(NaN\) for 4 of 4/],
    ['deepfool', (m) => deepfool(m, x, y, { eps: 0.1, steps: 3 }), /^deepfool: .*\(NaN\) for 4 of 4/],
    ['apgd', (m) => apgd(m, x, y, { eps: 0.1, steps: 3 }), /^apgd: .*\(NaN\) for 4 of 4/],
    ['apgd dlr', (m) => apgd(m, x, y, { eps: 0.1, steps: 3, loss: 'dlr' }), /^apgd: .*\(NaN\) for 4 of 4/],
    ['apgdTargeted', (m) => apgdTargeted(m, x, y, { eps: 0.1, steps: 3, targetClasses: 2 }), /^apgdTargeted: .*\(NaN\) for 4 of 4/],
    ['fab', (m) => fab(m, x, y, { eps: 0.1, steps: 3 }), /^fab: .*\(NaN\) for 4 of 4/],
    ['fabTargeted', (m) => fabTargeted(m, x, y, { eps: 0.1, steps: 3, targetClasses: 2 }), /^fabTargeted: .*\(NaN\) for 4 of 4/],
    ['square', (m) => square(m, x, y, { eps: 0.1, queries: 5 }), /^square: .*\(NaN\) for 4 of 4/],
    ['isAdversarial', (m) => isAdversarial(m, x, yTensor), /^isAdversarial: .*\(NaN\) for 4 of 4/],
    ['attackSweep', (m) => attackSweep(m, fgsmAttack(), x, y, [0.05, 0.1]), /^fgsm: .*\(NaN\) for 4 of 4/],
    ['attackSweep of DeepFool', (m) => attackSweep(m, deepfoolAttack({ steps: 2 }), x, y, [0.05]), /^deepfool: .*\(NaN\) for 4 of 4/],
    ['antiPerturbationRatio (it reported every prediction unchanged)', (m) => antiPerturbationRatio(m, x, [0.05], { steps: 2 }), /^antiPerturbationRatio: .*\(NaN\) for 4 of 4 images, clean;/],
  ])('%s', (_name, call, message) => {
    const e = expectNonFinite(() => call(nanModel), message);
    expect(Array.from(e.rows)).toEqual([1, 1, 1, 1]);
    expect(e.kind).toBe('NaN');
  });

  it('Infinity is reported as such', () => {
    const e = expectNonFinite(() => pgd(infModel, x, y, { eps: 0.1, steps: 1, seed: 0 }), /^pgd: the model produced non-finite logits \(Infinity\) for 4 of 4 images/);
    expect(e.kind).toBe('Infinity');
    expectNonFinite(() => apgd(infModel, x, y, { eps: 0.1, steps: 2 }), /^apgd: .*\(Infinity\) for 4 of 4/);
  });

  it('rows turning non-finite at an iterate are caught too (pgd sees every step, the suite the clipped examples)', () => {
    // Clean images scaled below 0.8: only an attack's step takes a pixel above 0.85.
    const xs = tf.mul(x, 0.8) as tf.Tensor4D;
    try {
      // Clean logits are finite.
      tf.dispose(isAdversarial(fragile, xs, yTensor));
      expectNonFinite(() => pgd(fragile, xs, y, { eps: 0.2, steps: 3, seed: 0 }), /^pgd: .*\(NaN\)/);
      // The L1 paths, on the points they attack (those classified correctly): APGD-L1 on the larger-eps
      // schedule (its stages' tensors are freed too) and FAB-L1.
      const clean = tf.tidy(() => Array.from(tf.argMax(fragile(xs), 1).dataSync()));
      expectNonFinite(() => apgd(fragile, xs, clean, { eps: 0.2, norm: 'l1', steps: 4, largerEps: true }), /^apgd: .*\(NaN\)/);
      expectNonFinite(() => fab(fragile, xs, clean, { eps: 5, norm: 'l1', steps: 10 }), /^fab: .*\(NaN\)/);
      expectNonFinite(() => robustAccuracy(fragile, { x: xs, y }, [fgsmAttack()], { eps: 0.2 }), /^robustAccuracy: .* in batch 0 \(images 0-3\) under FGSM; the weights may have diverged$/);
    } finally {
      xs.dispose();
    }
  });
});

describe('robustAccuracy and autoAttack on a width-1/16 ResNet-18 with NaN weights', () => {
  it('robustAccuracy fails naming the batch (it reported clean = every attack = the share of label 0)', () => {
    const labels = [0, 1, 2, 3];
    expectNonFinite(
      () => robustAccuracy(net, { x: images, y: labels }, paperAttacks({ seed: 0 }), { eps: 8 / 255, batchSize: 2 }),
      new RegExp(`^robustAccuracy: the model produced non-finite logits \\(NaN\\) for 2 of 2 images in batch 0 \\(images 0-1\\), clean${diverged}$`),
    );
  });

  it("robustAccuracy with nonFinite: 'count-as-wrong' counts every image as misclassified", () => {
    const before = tf.memory().numTensors;
    const r = robustAccuracy(net, { x: images, y: [0, 0, 0, 0] }, paperAttacks({ seed: 0 }), { eps: 8 / 255, batchSize: 3, nonFinite: 'count-as-wrong' });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.clean).toBe(0);
    expect(r.worstCase).toBe(0);
    expect(Object.values(r.perAttack)).toEqual([0, 0, 0, 0, 0]);
    expect(r.nonFinite).toEqual({ clean: 4, perAttack: { FGSM: 0, 'PGD-10': 0, 'PGD-20': 0, 'PGD-50': 0, DeepFool: 0 } });
  });

  it('autoAttack fails before attacking (it reported robust accuracy > 0)', () => {
    const warnings: string[] = [];
    expectNonFinite(
      () => autoAttack(net, images, [0, 0, 1, 0], { eps: 8 / 255, steps: 2, queries: 2, onWarning: (w) => warnings.push(w) }),
      new RegExp(`^autoAttack: the model produced non-finite logits \\(NaN\\) for 4 of 4 images, clean${diverged}$`),
    );
    expect(warnings).toEqual([]);
  });

  it("autoAttack with nonFinite: 'count-as-wrong' reports 0 clean and 0 robust, every point non-finite", () => {
    const before = tf.memory().numTensors;
    const r = autoAttack(net, images, [0, 0, 1, 0], { eps: 8 / 255, steps: 2, queries: 2, nonFinite: 'count-as-wrong', onWarning: () => {} });
    try {
      expect([r.clean, r.robust, r.nonFinite]).toEqual([0, 0, 4]);
      expect(Array.from(r.robustMask)).toEqual([0, 0, 0, 0]);
      expect(Object.values(r.afterAttack)).toEqual([0, 0, 0, 0]);
      // The clean images come back for points no attack produced an example for.
      expect(Array.from(r.adversarial.dataSync())).toEqual(Array.from(images.dataSync()));
    } finally {
      r.adversarial.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("nonFinite: 'count-as-wrong' when only some images give non-finite logits", () => {
  // NaN logits exactly for the images whose first pixel is above 0.5; the linear model elsewhere.
  const partial = (t: tf.Tensor4D) =>
    tf.tidy(() => {
      // A constant of the forward pass (read back), so the gradient is the linear model's.
      const first = tf.slice(tf.reshape(t, [t.shape[0], -1]), [0, 0], [t.shape[0], 1]).dataSync();
      const poison = tf.tensor2d(Array.from(first, (v) => (v > 0.5 ? NaN : 0)), [t.shape[0], 1]);
      return tf.add(lin.model(t), poison) as tf.Tensor2D;
    });
  const data = tf.randomUniform([12, ...shape], 0, 1, 'float32', 11) as tf.Tensor4D;
  const labels = Array.from({ length: 12 }, (_, i) => (i * 7) % 10);
  const first = Array.from(tf.tidy(() => tf.slice(tf.reshape(data, [12, -1]), [0, 0], [12, 1]).dataSync()));
  const finite = first.map((v, i) => (v > 0.5 ? -1 : i)).filter((i) => i >= 0);
  afterAll(() => data.dispose());

  it('the default names the images of the batch', () => {
    const poisoned = 12 - finite.length;
    expect(poisoned).toBeGreaterThan(0);
    expect(finite.length).toBeGreaterThan(0);
    expectNonFinite(() => robustAccuracy(partial, { x: data, y: labels }, [fgsmAttack()], { eps: 0.05 }), new RegExp(`for ${poisoned} of 12 images in batch 0 \\(images 0-11\\), clean`));
  });

  it('counts them as wrong and scores the others as an evaluation of the others alone does', () => {
    // FGSM and DeepFool treat every image on its own, so the finite images' results do not depend on
    // which other images share the batch.
    const attacks = [fgsmAttack(), deepfoolAttack({ steps: 5 })];
    const all = robustAccuracy(partial, { x: data, y: labels }, attacks, { eps: 0.05, batchSize: 5, nonFinite: 'count-as-wrong' });
    const subset = tf.gather(data, finite) as tf.Tensor4D;
    const alone = robustAccuracy(lin.model, { x: subset, y: finite.map((i) => labels[i]!) }, attacks, { eps: 0.05 });
    subset.dispose();
    const m = finite.length;
    expect(all.nonFinite).toEqual({ clean: 12 - m, perAttack: { FGSM: 0, DeepFool: 0 } });
    expect(all.clean * 12).toBeCloseTo(alone.clean * m, 9);
    expect(all.perAttack['FGSM']! * 12).toBeCloseTo(alone.perAttack['FGSM']! * m, 9);
    expect(all.perAttack['DeepFool']! * 12).toBeCloseTo(alone.perAttack['DeepFool']! * m, 9);
    expect(all.worstCase * 12).toBeCloseTo(alone.worstCase * m, 9);
  });

  it('an attack that meets non-finite logits on some images is run again on the rest', () => {
    // Clean images scaled below 0.8. PGD (no random start, so each image's path is its own) takes a
    // pixel above 0.85 on some images only.
    const xs = tf.mul(data, 0.8) as tf.Tensor4D;
    const attack = pgdAttack({ steps: 3, relStepSize: 0.5, randomStart: false, name: 'PGD-3' });
    try {
      const r = robustAccuracy(fragile, { x: xs, y: labels }, [attack], { eps: 0.1, nonFinite: 'count-as-wrong' });
      // The images whose PGD path on the linear model (the same path: the guard adds 0 to the
      // gradient) goes past 0.85 at some iterate; pgd with k steps gives the k-th iterate.
      const iterates = [1, 2, 3].map((steps) => pgd(lin.model, xs, labels, { eps: 0.1, steps, relStepSize: 0.5, randomStart: false }));
      const crossed = tf.tidy(() => Array.from(tf.any(tf.greater(tf.stack(iterates.map((a) => tf.max(tf.reshape(a, [12, -1]), 1))), 0.85), 0).dataSync()));
      const predicted = tf.tidy(() => Array.from(tf.argMax(lin.model(iterates[2]!), 1).dataSync()));
      tf.dispose(iterates);
      const expectedRobust = labels.filter((label, i) => !crossed[i] && predicted[i] === label).length;
      expect(crossed.some(Boolean) && !crossed.every(Boolean)).toBe(true);
      expect(r.nonFinite.clean).toBe(0);
      expect(r.nonFinite.perAttack['PGD-3']).toBe(crossed.filter(Boolean).length);
      expect(r.perAttack['PGD-3']).toBeCloseTo(expectedRobust / 12, 12);
    } finally {
      xs.dispose();
    }
  });

  it('autoAttack counts them as wrong and attacks the others', () => {
    const r = autoAttack(partial, data, labels, { eps: 0.05, version: 'custom', attacks: ['apgd-ce'], steps: 3, nonFinite: 'count-as-wrong', onWarning: () => {} });
    try {
      const correct = tf.tidy(() => Array.from(tf.equal(tf.argMax(lin.model(data), 1), tf.tensor1d(labels, 'int32')).dataSync()));
      const cleanCorrect = finite.filter((i) => correct[i]).length;
      expect(r.nonFinite).toBe(12 - finite.length);
      expect(r.clean).toBeCloseTo(cleanCorrect / 12, 12);
      expect(first.every((v, i) => v <= 0.5 || r.robustMask[i] === 0)).toBe(true);
    } finally {
      r.adversarial.dispose();
    }
  });
});

it('an unknown nonFinite mode is refused', () => {
  expect(() => robustAccuracy(lin.model, { x, y }, [fgsmAttack()], { eps: 0.1, nonFinite: 'ignore' as never })).toThrow(
    /nonFinite = "ignore": accepted values are 'error' and 'count-as-wrong'/,
  );
  expect(() => autoAttack(lin.model, x, y, { eps: 0.1, nonFinite: 'skip' as never })).toThrow(/nonFinite = "skip"/);
});
