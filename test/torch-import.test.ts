// PyTorch checkpoints into the package's models (issue #17): logits against PyTorch 1.13's on the same
// input for every architecture and both stride configurations, key layouts, the report, strictness.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  exportTorchStateDict,
  importTorchStateDict,
  loadTorchCheckpoint,
  loadTorchWeights,
  readTorchCheckpoint,
  resnet18,
  torchNormalization,
  type TorchStateDict,
} from '../src/index.js';
import { decode, maxAbsDiff } from './helpers/fixture.js';
import { buildCase, fixtureBytes, manifest, type CheckpointCase } from './helpers/torch-checkpoints.js';

const input = () => tf.tensor(decode(manifest.input), manifest.input.shape);

/** The case's model loaded from its file, with the checkpoint's own normalisation when it has one. */
function load(c: CheckpointCase) {
  const bytes = fixtureBytes(c.file);
  const normalization = torchNormalization(readTorchCheckpoint(bytes).stateDict);
  const model = buildCase(c, normalization);
  const report = loadTorchCheckpoint(model, bytes, { layout: c.layout });
  return { model, report };
}

function logitsDiff(model: ReturnType<typeof buildCase>, expected: CheckpointCase['logits']): number {
  const x = input();
  const y = model.predict(x) as tf.Tensor;
  expect(y.shape).toEqual(expected.shape);
  const diff = maxAbsDiff(y.dataSync(), decode(expected));
  tf.dispose([x, y]);
  return diff;
}

describe('imported checkpoints give PyTorch\'s logits within 1e-4', () => {
  it('the fixtures cover every architecture in both stride configurations', () => {
    const configs = new Set(manifest.cases.filter((c) => c.layout === 'reference').map((c) => `${c.arch} ${c.options.strides}`));
    expect([...configs].sort()).toEqual([
      'alexnet 1-1-2-2', 'alexnet 2-2-2-2', 'preActResNet18 1-1-2-2', 'preActResNet18 1-2-2-2', 'resnet18 1-1-2-2', 'resnet18 1-2-2-2',
      'vgg16 1-1-2-2-2', 'vgg16 2-2-2-2-2', 'wideResNet 1-1-2', 'wideResNet 1-2-2',
    ]);
  });

  it.each(manifest.cases.map((c) => [c.file, c] as const))('%s', (_file, c) => {
    const before = tf.memory().numTensors;
    const { model, report } = load(c);
    expect(tf.memory().numTensors).toBe(before + model.weights.length);
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.loaded.length).toBe(model.weights.length);
    expect(report.skipped.every((s) => /num_batches_tracked|sub_block1|mu|sigma/.test(s.key))).toBe(true);
    expect(logitsDiff(model, c.logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('a float16 checkpoint loads the float16 values exactly (the export gives them back bit for bit)', () => {
    const c = manifest.cases.find((k) => k.dtype === 'float16' && k.layout === 'reference')!;
    const { model } = load(c);
    const saved = readTorchCheckpoint(fixtureBytes(c.file)).stateDict;
    for (const [key, t] of Object.entries(exportTorchStateDict(model))) expect(maxAbsDiff(t.data, saved[key]!.data), key).toBe(0);
    model.dispose();
  });
});

describe('key layouts, renameKey and the report', () => {
  const rb = manifest.cases.find((c) => c.file === 'robustbench-resnet18.pt')!;

  it("RobustBench's ResNet-18 names: renamed by layout 'robustbench', reported", () => {
    const { model, report } = load(rb);
    expect(report.renamed).toContainEqual({ from: 'linear.weight', to: 'fc.weight' });
    expect(report.renamed).toContainEqual({ from: 'layer2.0.shortcut.1.running_var', to: 'layer2.0.downsample.1.running_var' });
    expect(report.skipped.filter((s) => s.key.endsWith('num_batches_tracked')).length).toBe(20);
    model.dispose();
  });

  it('the same file with the reference layout is refused, listing both sides with shapes and the hint', () => {
    const model = buildCase(rb);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    expect(() => loadTorchCheckpoint(model, fixtureBytes(rb.file))).toThrow(
      /does not fit model .*missing \(model weights the checkpoint lacks\): layer2\.0\.downsample\.0\.weight \[4,2,1,1\].*\(17 in all\); unexpected \(checkpoint tensors the model lacks\): layer2\.0\.shortcut\.0\.weight \[4,2,1,1\].*use layout 'robustbench'/,
    );
    // Nothing was written.
    model.getWeights().forEach((w, i) => expect(maxAbsDiff(w.dataSync(), before[i]!)).toBe(0));
    model.dispose();
  });

  it('strict: false loads what matches and reports the rest', () => {
    const model = buildCase(rb);
    const report = loadTorchCheckpoint(model, fixtureBytes(rb.file), { strict: false });
    expect(report.unexpected.map((e) => e.key)).toContain('linear.bias');
    expect(report.missing).toContainEqual({ key: 'fc.weight', shape: [10, 16] });
    expect(report.loaded).toContain('conv1.weight');
    expect(report.loaded.length + report.missing.length).toBe(model.weights.length);
    model.dispose();
  });

  it('renameKey maps another codebase\'s names (the same file, with a hand-written map instead of the layout)', () => {
    const model = buildCase(rb);
    const report = loadTorchCheckpoint(model, fixtureBytes(rb.file), {
      renameKey: (key) => key.replace(/^linear\./, 'fc.').replace(/\.shortcut\./, '.downsample.'),
    });
    // Three projections (layer2-4) of 5 tensors each (conv weight; BN weight, bias, running mean and var), and the classifier's 2.
    expect(report.renamed.length).toBe(3 * 5 + 2);
    expect(logitsDiff(model, rb.logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('renameKey returning null skips a tensor; a non-string result is a TypeError', () => {
    const model = buildCase(rb);
    const report = loadTorchCheckpoint(model, fixtureBytes(rb.file), { layout: 'robustbench', strict: false, renameKey: (k) => (k === 'linear.bias' ? null : undefined) });
    expect(report.skipped).toContainEqual({ key: 'linear.bias', reason: 'renameKey returned null' });
    expect(report.missing).toEqual([{ key: 'fc.bias', shape: [10] }]);
    expect(() => loadTorchCheckpoint(model, fixtureBytes(rb.file), { renameKey: () => 3 as unknown as string })).toThrow(TypeError);
    expect(() => loadTorchCheckpoint(model, fixtureBytes(rb.file), { layout: 'timm' as 'reference' })).toThrow(/layout "timm": accepted values are 'reference', 'robustbench'/);
    model.dispose();
  });

  it("mu/sigma buffers: reported, and a model that normalises differently is refused (strict)", () => {
    const c = manifest.cases.find((k) => k.file === 'robustbench-preact18.pt')!;
    const { model, report } = load(c);
    expect(report.normalization!.mean.map((v) => Math.fround(v))).toEqual([0.4914, 0.4822, 0.4465].map(Math.fround));
    model.dispose();
    const plain = buildCase({ ...c, options: { width: c.options.width } });
    expect(() => loadTorchCheckpoint(plain, fixtureBytes(c.file), { layout: 'robustbench' })).toThrow(
      /normalises its input with mu = \[0\.49140000343322754,0\.4821999967098236,0\.4465000033378601\].*the model uses mean \[0\.4914,0\.4824,0\.4467\].*torchNormalization/,
    );
    plain.dispose();
  });

  it('a width that does not fit is a shape error naming the tensor', () => {
    const c = manifest.cases.find((k) => k.file === 'resnet18-1222.pt')!;
    const model = resnet18({ width: 1 / 16 });
    expect(() => loadTorchCheckpoint(model, fixtureBytes(c.file))).toThrow(/loadTorchCheckpoint: 'conv1\.weight' has shape \[2,3,3,3\], the model needs \[4,3,3,3\]/);
    model.dispose();
  });

  it('importTorchStateDict keeps its contract: strict, reference names, counters skipped; no tensors left behind on error', () => {
    const c = manifest.cases.find((k) => k.file === 'resnet18-1222.pt')!;
    const dict: TorchStateDict = readTorchCheckpoint(fixtureBytes(c.file)).stateDict;
    const model = buildCase(c);
    importTorchStateDict(model, dict);
    expect(logitsDiff(model, c.logits)).toBeLessThan(1e-4);
    const before = tf.memory().numTensors;
    const { ['fc.bias']: _dropped, ...partial } = dict;
    expect(() => importTorchStateDict(model, partial)).toThrow(/importTorchStateDict: the checkpoint does not fit .*missing .*fc\.bias \[10\]/);
    expect(() => loadTorchWeights(model, { ...dict, extra: { shape: [1], data: [0] } })).toThrow(/unexpected .*extra \[1\]/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
