// `rmc-robust import` (dist/esm/cli/main.js, built by `npm test`'s pretest): PyTorch checkpoints into tfjs
// model directories that give PyTorch's logits and that `rmc-robust eval --attacks autoattack` evaluates.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './helpers/run-cli.js';
import { fileSystem } from '../src/index.node.js';
import { decode, maxAbsDiff } from './helpers/fixture.js';
import { manifest } from './helpers/torch-checkpoints.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'test', 'fixtures', 'torch-checkpoints');
const work = mkdtempSync(join(tmpdir(), 'rmc-cli-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]): Promise<CliRun> {
  return runCli(work, args);
}

/** The logits of the saved model on the manifest's input, against the case's PyTorch logits. */
async function savedModelDiff(dir: string, file: string): Promise<number> {
  const c = [...manifest.cases, manifest.safetensors].find((k) => k.file === file)!;
  const model = await tfl.loadLayersModel(fileSystem(dir));
  const x = tf.tensor(decode(manifest.input), manifest.input.shape);
  const y = model.predict(x) as tf.Tensor;
  const diff = maxAbsDiff(y.dataSync(), decode(c.logits));
  tf.dispose([x, y]);
  model.dispose();
  return diff;
}

describe('rmc-robust import', () => {
  it('--help lists the options', async () => {
    const r = await run('import', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: rmc-robust import \[options\] <checkpoint>[\s\S]*--layout <name>[\s\S]*--no-strict/);
  });

  it('a float16 ResNet-18 1-1-2-2 checkpoint: a model directory with PyTorch\'s logits, then eval with AutoAttack', async () => {
    const out = join(work, 'resnet18');
    const r = await run('import', join(fixtures, 'resnet18-1122-float16.pt'), '--arch', 'resnet18', '--strides', '1-1-2-2', '--width', '0.03125', '--out', out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/torch\.save checkpoint, 122 tensors/);
    expect(r.out).toMatch(/102 weights loaded, 20 tensors skipped \(batch norm's num_batches_tracked counter, PyTorch-only\)/);
    expect(r.out).toMatch(/10 classes \(from fc\.weight\)/);
    expect(JSON.parse(readFileSync(join(out, 'import.json'), 'utf8')).report.loaded.length).toBe(102);
    expect(await savedModelDiff(out, 'resnet18-1122-float16.pt')).toBeLessThan(1e-4);

    const evaluation = await run('eval', '--model', out, '--attacks', 'autoattack', '--test', '8', '--out', join(work, 'eval'));
    expect(evaluation.code, evaluation.out).toBe(0);
    const results = JSON.parse(readFileSync(join(work, 'eval', 'results.json'), 'utf8')) as Array<{ eps: number; clean: number; perAttack: Record<string, number> }>;
    expect(results[0]!.eps).toBeCloseTo(8 / 255, 12);
    expect(Object.keys(results[0]!.perAttack)).toEqual(['AutoAttack']);
    expect(results[0]!.perAttack['AutoAttack']!).toBeLessThanOrEqual(results[0]!.clean);
  });

  it("RobustBench's PreActResNet-18: --layout robustbench, the checkpoint's mu/sigma as the normalisation", async () => {
    const out = join(work, 'preact');
    const r = await run('import', join(fixtures, 'robustbench-preact18.pt'), '--arch', 'preactresnet18', '--width', '0.03125', '--layout', 'robustbench', '--out', out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/renamed by the robustbench layout/);
    expect(r.out).toMatch(/input normalisation: mean \[0\.4914,0\.4822,0\.4465\], std \[0\.2471,0\.2435,0\.2616\] \(the checkpoint's mu\/sigma\)/);
    expect(await savedModelDiff(out, 'robustbench-preact18.pt')).toBeLessThan(1e-4);
  });

  it('a WRN-16-4 with strides 1-1-2 (--depth, --widen-factor)', async () => {
    const out = join(work, 'wrn');
    const r = await run('import', join(fixtures, 'wrn-16-4-112.pt'), '--arch', 'wrn', '--depth', '16', '--widen-factor', '4', '--strides', '1-1-2', '--width', '0.0625', '--out', out);
    expect(r.code, r.out).toBe(0);
    expect(await savedModelDiff(out, 'wrn-16-4-112.pt')).toBeLessThan(1e-4);
  });

  it('a safetensors file written by PyTorch', async () => {
    const out = join(work, 'from-safetensors');
    const r = await run('import', join(fixtures, manifest.safetensors.file), '--arch', 'resnet18', '--strides', '1-1-2-2', '--width', '0.03125', '--out', out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/safetensors file, 122 tensors/);
    expect(await savedModelDiff(out, manifest.safetensors.file)).toBeLessThan(1e-4);
  });

  it.each([
    [['malicious-os-system.pt', '--arch', 'alexnet'], 1, /refused the global 'posix\.system': it is not on the allow-list/],
    [['legacy-format.pt', '--arch', 'alexnet'], 1, /legacy format.*re-save it/],
    [['from-tfjs.safetensors', '--arch', 'alexnet', '--width', '0.0625'], 2, /import: 'features\.0\.weight'|does not fit model/],
    [['robustbench-resnet18.pt', '--arch', 'resnet18', '--width', '0.03125'], 2, /does not fit model .*use layout 'robustbench'/],
    [['resnet18-1222.pt', '--arch', 'resnet18', '--layout', 'timm'], 2, /--layout 'timm': accepted values are reference, robustbench; see 'rmc-robust import --help'/],
    [['resnet18-1222.pt', '--arch', 'resnet18', '--normalize', 'imagenet'], 2, /--normalize 'imagenet': accepted values are auto, cifar10, cifar100, none/],
    [['resnet18-1222.pt', '--arch', 'resnet18', '--depth', '16'], 2, /--depth: only for --arch wrn/],
    [['nowhere.pt', '--arch', 'resnet18'], 2, /<checkpoint> '.*nowhere\.pt': ENOENT/],
    [['manifest.json', '--arch', 'resnet18'], 1, /neither a torch\.save checkpoint \(a zip archive\) nor a safetensors file/],
  ] as const)('%j fails clearly and writes nothing', async ([file, ...args], code, message) => {
    const out = join(work, `bad-${file}-${args.join('')}`);
    const r = await run('import', join(fixtures, file), ...args, '--out', out);
    expect(r.code, r.out).toBe(code);
    expect(r.out).toMatch(message);
    expect(r.out).not.toMatch(/^\s+at /m);
    expect(existsSync(out)).toBe(false);
  });
});
