// `rmc-robust train` (the built CLI, dist/esm/cli/main.js, made by `npm test`'s pretest build): --resume
// refuses another run's checkpoint in one line, the history survives resumes, a diverging run stops
// with one line and writes no checkpoint of it, Ctrl-C in the first epoch says nothing is checkpointed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'esm', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'rmc-train-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI without blocking this worker's event loop; `onOutput` may act on the output so far (e.g. send a signal). */
function run(args: string[], onOutput?: (output: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'train', ...args], { cwd: work, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onOutput?.(stdout + stderr, child);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      onOutput?.(stdout + stderr, child);
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines of the CLI's own error output (tfjs prints a notice about tfjs-node on stderr too). */
const errorLines = (r: Run) => r.stderr.split('\n').filter((l) => l.startsWith('rmc-robust:'));
const noStack = (r: Run) => expect(`${r.stdout}${r.stderr}`).not.toMatch(/^\s+at /m);

const tiny = ['--subset', '32', '--test', '0', '--width', '0.0625', '--batch-size', '16', '--defense', 'standard'];
const slow = 300_000;

describe('train --resume', () => {
  const out = join(work, 'run');
  const checkpoints = join(out, 'checkpoints');
  beforeAll(async () => {
    const first = await run([...tiny, '--epochs', '1', '--out', out]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
  }, slow);

  it.each([
    [['--strides', '1-1-2-2'], /--strides: '1-2-2-2' \(checkpoint\) vs '1-1-2-2' \(this run\)/],
    [['--pooling', 'max'], /--pooling: 'avg' \(checkpoint\) vs 'max' \(this run\)/],
    [['--upsample', '2'], /--upsample: 'none' \(checkpoint\) vs '\{"scale":2,"mode":"nearest"\}' \(this run\)/],
    [['--batch-size', '8'], /--batch-size: 16 \(checkpoint\) vs 8 \(this run\)/],
    [['--subset', '16'], /training images \(--subset\): 32 \(checkpoint\) vs 16 \(this run\); resume/],
    [['--width', '0.125'], /--width: 0\.0625 \(checkpoint\) vs 0\.125 \(this run\); resume/],
    [['--seed', '1'], /--seed: 0 \(checkpoint\) vs 1 \(this run\); resume/],
    [['--defense', 'at'], /--defense: 'standard' \(checkpoint\) vs 'at' \(this run\)/],
    [['--arch', 'preactresnet18'], /--arch: 'resnet18' \(checkpoint\) vs 'preactresnet18' \(this run\); resume/],
  ])('with %j refuses in one line (exit 2), naming the option with both values; the run is untouched', async (change, message) => {
    const args = [...tiny];
    const at = args.indexOf(change[0]!);
    if (at >= 0) args.splice(at, 2, ...change);
    else args.push(...change);
    const before = readdirSync(checkpoints).sort();
    const r = await run([...args, '--epochs', '2', '--out', out, '--resume']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(new RegExp(`^rmc-robust: --resume: the checkpoint in ${checkpoints} is of a different run: `));
    expect(errorLines(r)[0]).toMatch(message);
    expect(errorLines(r)[0]).toMatch(/; resume with the checkpoint's settings, or start a fresh run with another --out; see 'rmc-robust train --help'$/);
    expect(errorLines(r)[0]).not.toMatch(/model\.|checksum/); // the options explain the model's and data's fingerprints
    noStack(r);
    expect(readdirSync(checkpoints).sort()).toEqual(before);
    expect(JSON.parse(readFileSync(join(checkpoints, 'latest.json'), 'utf8')).epoch).toBe(1);
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).epochs.map((e: { epoch: number }) => e.epoch)).toEqual([0]);
  }, slow);
});

describe('train history', () => {
  it('log.txt and result.json keep every epoch across resumes, also of a finished run', async () => {
    const out = join(work, 'history');
    const checkpoints = join(out, 'checkpoints');
    expect((await run([...tiny, '--epochs', '1', '--out', out])).code).toBe(0);
    const resumed = await run([...tiny, '--epochs', '2', '--out', out, '--resume', '--checkpoint-dir', checkpoints]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    const log = readFileSync(join(out, 'log.txt'), 'utf8');
    expect(log).toMatch(/^resnet18_1-2-2-2: feature map[^\n]*\nepoch 1: loss [\d.]+[^\n]*\nsaved [^\n]*\nresnet18_1-2-2-2: feature map[^\n]*\n\(resumed from the checkpoint of epoch 1 in [^\n]*\)\nepoch 2: loss [\d.]+[^\n]*\nsaved [^\n]*\n$/);
    const epochs = (file: string) => JSON.parse(readFileSync(join(out, file), 'utf8')).epochs;
    const history = epochs('result.json');
    expect(history.map((e: { epoch: number }) => e.epoch)).toEqual([0, 1]);
    expect(history[0].loss).toBeCloseTo(Number(/epoch 1: loss ([\d.]+)/.exec(log)![1]), 4);
    const again = await run([...tiny, '--epochs', '2', '--out', out, '--resume']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(epochs('result.json')).toEqual(history);
    expect(readFileSync(join(out, 'log.txt'), 'utf8').startsWith(log)).toBe(true);
  }, slow);
});

describe('train divergence', () => {
  it('stops in one line (exit 1) naming the epoch and batch and the last good checkpoint, and checkpoints nothing of it', async () => {
    const out = join(work, 'diverge');
    const checkpoints = join(out, 'checkpoints');
    expect((await run([...tiny, '--epochs', '1', '--out', out])).code).toBe(0);
    // The CLI has no learning-rate option: make the checkpoint's weights huge (finite, 1e38), as a
    // diverging step would; the next forward pass overflows.
    const weights = join(checkpoints, 'epoch-1', 'weights.bin');
    writeFileSync(weights, new Uint8Array(new Float32Array(readFileSync(weights).length / 4).fill(1e38).buffer));
    const r = await run([...tiny, '--epochs', '3', '--out', out, '--resume']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(errorLines(r)).toEqual([
      expect.stringMatching(new RegExp(`^rmc-robust: training diverged at epoch 2, batch 1 of 2: the loss is (NaN|Infinity); last good checkpoint: epoch 1 in ${checkpoints}; lower the learning rate \\(it was 0\\.1\\)$`)),
    ]);
    noStack(r);
    expect(readdirSync(checkpoints).sort()).toEqual(['epoch-1', 'latest.json']);
    expect(readFileSync(join(out, 'log.txt'), 'utf8')).toMatch(/training diverged at epoch 2, batch 1 of 2[^\n]*\n$/);
  }, slow);
});

describe('train interrupted', () => {
  it('Ctrl-C during the first epoch says that nothing is checkpointed', async () => {
    const out = join(work, 'interrupted');
    let sent = false;
    // The whole embedded sample, 4 images a batch with PGD-10: the first epoch takes minutes.
    const r = await run(['--test', '0', '--width', '0.0625', '--batch-size', '4', '--defense', 'at', '--epochs', '2', '--out', out], (output, child) => {
      // The progress bar (on stderr) starts after the first batch.
      if (!sent && output.includes('epoch 1/2')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toMatch(/interrupted during epoch 1: no epoch completed, so nothing is checkpointed; start the run again \(without --resume\)/);
    expect(r.stdout).not.toMatch(/is checkpointed in/);
    expect(existsSync(join(out, 'checkpoints', 'latest.json'))).toBe(false);
  }, slow);
});
