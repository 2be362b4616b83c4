// AutoAttack: the cascade on a small CNN trained inside the test (seeded), the sanity warnings, the
// masked-gradient case, the versions and the hooks into robustAccuracy and the command line.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoAttack, autoAttackAttack, pgd, robustAccuracy, type AutoAttackProgress } from '../src/index.js';
import { parseAttackList } from '../src/cli/eval.js';
import { syntheticData, trainSmallCnn } from './helpers/small-cnn.js';

let model: tfl.LayersModel;
const { x, y } = syntheticData(100, 7);
const logits = (images: tf.Tensor4D) => model.apply(images, { training: false }) as tf.Tensor2D;
const accuracyOf = (f: (t: tf.Tensor4D) => tf.Tensor, images: tf.Tensor4D) =>
  tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(f(images), 1), y), 'float32')).dataSync()[0]!);

beforeAll(async () => {
  model = await trainSmallCnn(1);
});
afterAll(() => {
  model.dispose();
  tf.dispose([x, y]);
});

// Quick budgets (non-standard) so the full cascade runs in seconds on the CPU backend.
const quick = { steps: 25, queries: 150, targetClasses: 3 } as const;

describe('autoAttack on a trained small CNN', () => {
  it('standard cascade: AutoAttack <= APGD-CE <= clean, examples inside the ball, progress per attack, no leaks', () => {
    const eps = 4 / 255;
    const events: AutoAttackProgress[] = [];
    const warnings: string[] = [];
    const before = tf.memory().numTensors;
    const r = autoAttack(model, x, y, { eps, seed: 0, batchSize: 64, ...quick, onProgress: (e) => events.push(e), onWarning: (m) => warnings.push(m) });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(r.attacks).toEqual(['APGD-CE', 'APGD-T', 'FAB-T', 'Square']);
    expect(r.standard).toBe(false);
    expect(warnings).toEqual([]);
    expect(r.clean).toBeCloseTo(accuracyOf(logits, x), 6);
    const after = r.attacks.map((a) => r.afterAttack[a]!);
    expect(after[0]).toBeLessThan(r.clean);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeLessThanOrEqual(after[i - 1]!);
    expect(r.robust).toBe(after[after.length - 1]);
    // The final accuracy is the model's accuracy on the returned examples.
    expect(accuracyOf(logits, r.adversarial)).toBeCloseTo(r.robust, 6);
    expect(Object.values(r.fooledBy).reduce((a, b) => a + b, 0)).toBe(Math.round((r.clean - r.robust) * r.n));
    const linf = tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(r.adversarial, x)), [1, 2, 3]).dataSync()));
    linf.forEach((d, i) => {
      expect(d).toBeLessThanOrEqual(eps + 1e-6);
      if (r.robustMask[i]) expect(d).toBe(0);
    });
    const [lo, hi] = tf.tidy(() => [tf.min(r.adversarial).dataSync()[0]!, tf.max(r.adversarial).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Progress: every attack reports, in order, and ends each of its batches at fraction 1.
    expect([...new Set(events.map((e) => e.attack))]).toEqual(r.attacks.filter((a) => r.afterAttack[a] !== undefined && events.some((e) => e.attack === a)));
    for (const a of ['APGD-CE', 'APGD-T']) expect(events.some((e) => e.attack === a && e.batchFraction === 1 && e.done === e.total)).toBe(true);
    r.adversarial.dispose();
  });

  it('as an Attack value in robustAccuracy: the same number as autoAttack on the batch', () => {
    const options = { version: 'custom' as const, attacks: ['apgd-ce', 'square'] as const, steps: 10, queries: 50, seed: 1 };
    const direct = autoAttack(model, x, y, { ...options, attacks: [...options.attacks], eps: 4 / 255, batchSize: 100 });
    direct.adversarial.dispose();
    const before = tf.memory().numTensors;
    const result = robustAccuracy(model, { x, y }, [autoAttackAttack({ ...options, attacks: [...options.attacks] })], { eps: 4 / 255, batchSize: 100 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.perAttack['AutoAttack']).toBeCloseTo(direct.robust, 10);
  });
});

describe('gradient masking', () => {
  // Pixels rounded to 16 levels: piecewise constant, so every input gradient is zero.
  const masked = (images: tf.Tensor4D) => logits(tf.div(tf.round(tf.mul(images, 15)), 15) as tf.Tensor4D);

  it('gradient attacks fail, Square still lowers accuracy, and both warnings fire', () => {
    const eps = 8 / 255;
    const clean = accuracyOf(masked, x);
    const advPgd = pgd(masked, x, y, { eps, steps: 10, relStepSize: 0.25, randomStart: false });
    expect(accuracyOf(masked, advPgd)).toBe(clean); // zero gradients: PGD cannot move
    advPgd.dispose();
    const warnings: string[] = [];
    const r = autoAttack(masked, x, y, { eps, version: 'custom', attacks: ['apgd-ce', 'square'], steps: 10, queries: 300, seed: 0, batchSize: 100, onWarning: (m) => warnings.push(m) });
    r.adversarial.dispose();
    expect(r.clean).toBeCloseTo(clean, 6);
    expect(r.fooledBy['Square']).toBeGreaterThan(r.fooledBy['APGD-CE']!);
    expect(r.robust).toBeLessThan(r.afterAttack['APGD-CE']!);
    expect(warnings.some((m) => /all-zero gradient/.test(m))).toBe(true);
    expect(warnings.some((m) => /Square \(black-box\) fooled .* gradient masking/.test(m))).toBe(true);
    expect(r.warnings).toEqual(warnings);
  });
});

describe('sanity warnings and versions', () => {
  const few = tf.tidy(() => tf.slice(x, 0, 8) as tf.Tensor4D);
  const fewY = tf.tidy(() => tf.slice(y, 0, 8) as tf.Tensor1D);
  afterAll(() => tf.dispose([few, fewY]));
  const run = (f: (t: tf.Tensor4D) => tf.Tensor, extra: object = {}) => {
    const warnings: string[] = [];
    const r = autoAttack(f as (t: tf.Tensor4D) => tf.Tensor2D, few, fewY, { eps: 1 / 255, version: 'custom', attacks: ['apgd-ce'], steps: 1, onWarning: (m) => warnings.push(m), ...extra });
    r.adversarial.dispose();
    return warnings;
  };

  it('probabilities instead of logits', () => {
    expect(run((t) => tf.softmax(logits(t))).some((m) => /look like probabilities/.test(m))).toBe(true);
    expect(run(logits)).toEqual([]);
  });

  it('a randomised model (unless version rand)', () => {
    const noisy = (t: tf.Tensor4D) => logits(tf.add(t, tf.randomNormal(t.shape, 0, 0.05)) as tf.Tensor4D);
    expect(run(noisy).some((m) => /differ between identical calls.*version: 'rand'/.test(m))).toBe(true);
    const warnings: string[] = [];
    const r = autoAttack(noisy, few, fewY, { eps: 1 / 255, version: 'rand', steps: 1, onWarning: (m) => warnings.push(m) });
    expect(r.attacks).toEqual(['APGD-CE', 'APGD-DLR']);
    expect(warnings.some((m) => /identical calls/.test(m))).toBe(false);
    r.adversarial.dispose();
  });

  it('the versions\' attack lists (nothing to attack: every label wrong)', () => {
    const wrong = tf.tidy(() => tf.mod(tf.add(fewY, 1), 10) as tf.Tensor1D);
    const attacksOf = (version: 'standard' | 'plus' | 'rand') => {
      const r = autoAttack(logits, few, wrong, { eps: 1 / 255, version, onWarning: () => {} });
      r.adversarial.dispose();
      expect(r.clean).toBe(0);
      expect(r.robust).toBe(0);
      expect(r.standard).toBe(true);
      return r.attacks;
    };
    expect(attacksOf('standard')).toEqual(['APGD-CE', 'APGD-T', 'FAB-T', 'Square']);
    expect(attacksOf('plus')).toEqual(['APGD-CE', 'APGD-DLR', 'FAB', 'Square', 'APGD-T', 'FAB-T']);
    expect(attacksOf('rand')).toEqual(['APGD-CE', 'APGD-DLR']);
    wrong.dispose();
  });

  it('L2 with the APGD attacks: examples inside the L2 ball', () => {
    const eps = 0.3;
    const r = autoAttack(logits, few, fewY, { eps, norm: 'l2', version: 'custom', attacks: ['apgd-ce', 'apgd-t'], steps: 5, targetClasses: 2, onWarning: () => {} });
    const norms = tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(tf.sub(r.adversarial, few)), [1, 2, 3])).dataSync()));
    for (const d of norms) expect(d).toBeLessThanOrEqual(eps * (1 + 1e-5));
    expect(r.robust).toBeLessThanOrEqual(r.clean);
    r.adversarial.dispose();
  });

  it('L2 standard: the full cascade (APGD-CE, APGD-T, FAB-T, Square, all in L2); examples inside the L2 ball; one tensor returned', () => {
    const eps = 0.5;
    const before = tf.memory().numTensors;
    const r = autoAttack(model, x, y, { eps, norm: 'l2', seed: 0, ...quick, onWarning: () => {} });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(r.attacks).toEqual(['APGD-CE', 'APGD-T', 'FAB-T', 'Square']);
    const norms = tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(tf.sub(r.adversarial, x)), [1, 2, 3])).dataSync()));
    for (const d of norms) expect(d).toBeLessThanOrEqual(eps * (1 + 1e-5));
    expect(r.robust).toBeLessThan(r.clean);
    expect(accuracyOf(logits, r.adversarial)).toBeCloseTo(r.robust, 6);
    r.adversarial.dispose();
  });

  it('too many target classes are capped with a warning', () => {
    const warnings = run(logits, { attacks: ['apgd-t'], targetClasses: 12 });
    expect(warnings.some((m) => /12 target classes asked for, but the model has only 9 other classes; using 9/.test(m))).toBe(true);
  });

  it.each([
    ['attacks without custom', { eps: 0.1, attacks: ['apgd-ce'] }, /attacks: only version 'custom' takes a list of attacks/],
    ['custom without attacks', { eps: 0.1, version: 'custom' }, /attacks: version 'custom' needs a non-empty list/],
    ['unknown attack', { eps: 0.1, version: 'custom', attacks: ['cw'] }, /attacks: unknown attack "cw"; accepted values are apgd-ce, apgd-dlr, apgd-t, fab, fab-t, square/],
    ['unknown version', { eps: 0.1, version: 'fast' }, /version = "fast": accepted values are 'standard', 'plus', 'rand' and 'custom'/],
    ['negative eps', { eps: -0.1 }, /eps = -0.1: must be a finite number >= 0/],
    ['unknown norm', { eps: 0.5, norm: 'l0' }, /norm = "l0": accepted values are 'linf', 'l2' and 'l1'/],
    ['zero batch size', { eps: 0.1, batchSize: 0 }, /batchSize = 0: must be an integer >= 1/],
  ])('%s', (_name, options, message) => {
    const before = tf.memory().numTensors;
    expect(() => autoAttack(logits, few, fewY, options as never)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('L2 with Square on images under 5 pixels high: refused before any attack runs', () => {
    const small = tf.fill([2, 4, 4, 3], 0.5) as tf.Tensor4D;
    const f = (t: tf.Tensor4D) => tf.tile(tf.reshape(tf.sum(t, [1, 2, 3]), [-1, 1]), [1, 10]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const events: unknown[] = [];
    expect(() => autoAttack(f, small, [0, 0], { eps: 0.5, norm: 'l2', onProgress: (e) => events.push(e) })).toThrow(/autoAttack \(norm 'l2'\): Square needs images at least 5 pixels high, got 4/);
    expect(events).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    small.dispose();
  });
});

describe('command line attack names', () => {
  it('parses paper, AutoAttack and its components', () => {
    expect(parseAttackList('paper,autoattack').map((a) => a.name)).toEqual(['FGSM', 'PGD-10', 'PGD-20', 'PGD-50', 'DeepFool', 'AutoAttack']);
    expect(parseAttackList('apgd-ce, APGD-T,fab-t,square').map((a) => a.name)).toEqual(['APGD-CE', 'APGD-T', 'FAB-T', 'Square']);
    expect(() => parseAttackList('pgd-20,cw')).toThrow(/--attacks 'pgd-20,cw': accepted values are a comma-separated list of paper, fgsm/);
    expect(() => parseAttackList('paper,pgd-20')).toThrow(/PGD-20 is listed twice/);
  });
});
