// `rmc-robust eval` on a model whose weights are NaN (as a diverged training run leaves them) stops with
// one line naming the model, the batch and the cause; it printed clean = FGSM = PGD-10 = the share of
// label 0. Runs the built CLI (dist/esm/cli/main.js, built by `npm test`'s pretest).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './helpers/run-cli.js';
import { fileSystem, resnet18 } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-eval-nan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]): Promise<CliRun> {
  return runCli(work, args);
}

beforeAll(async () => {
  const finite = resnet18({ width: 0.0625, seed: 0, name: 'tiny' });
  await finite.save(fileSystem(join(work, 'finite')));
  finite.setWeights(finite.getWeights().map((w) => tf.fill(w.shape, NaN)));
  await finite.save(fileSystem(join(work, 'diverged')));
  finite.dispose();
});

describe('rmc-robust eval on a model with NaN weights', () => {
  const args = (model: string, out: string) => ['eval', '--model', join(work, model), '--test', '8', '--batch-size', '4', '--attacks', 'fgsm,pgd-10', '--out', join(work, out)];

  it('exits non-zero with one line naming the model and the batch, no stack trace, no results', async () => {
    const r = await run(...args('diverged', 'eval-diverged'));
    const all = `${r.stdout}\n${r.stderr}`;
    expect(r.code, all).toBe(1);
    const errors = all.split('\n').filter((line) => line.includes('rmc-robust:'));
    expect(errors).toEqual([
      `rmc-robust: --model '${join(work, 'diverged')}': the model produced non-finite logits (NaN) for 4 of 4 images in batch 0 (images 0-3), clean at eps 0.03137; the weights may have diverged`,
    ]);
    expect(all).not.toMatch(/^\s+at /m);
    expect(existsSync(join(work, 'eval-diverged', 'results.json'))).toBe(false);
  });

  it('--non-finite count-as-wrong evaluates it: every image counted wrong, the counts logged and in results.json', async () => {
    const r = await run(...args('diverged', 'eval-counted'), '--non-finite', 'count-as-wrong');
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const results = JSON.parse(readFileSync(join(work, 'eval-counted', 'results.json'), 'utf8')) as Array<{ clean: number; worstCase: number; nonFinite: { clean: number } }>;
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ clean: 0, worstCase: 0, nonFinite: { clean: 8 } });
    expect(readFileSync(join(work, 'eval-counted', 'log.txt'), 'utf8')).toMatch(/counted as wrong for NaN\/infinite logits: 8 clean/);
  });

  it('the same model with its finite weights evaluates', async () => {
    const r = await run(...args('finite', 'eval-finite'));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(existsSync(join(work, 'eval-finite', 'results.json'))).toBe(true);
  });
});
