/**
 * Loading PyTorch weights into this package's models with a report: key layouts, a user rename hook,
 * strict or partial loading, the input normalisation some checkpoints carry (`mu`/`sigma`), and the
 * file formats (`torch.save` checkpoints and safetensors) on top of torch-weights.ts' name mapping.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { readTorchCheckpoint } from '../io/torch-checkpoint.js';
import type { NormalizeStats } from './layers/normalize.js';
import { checkTorchKeyLayout, mapTorchKey, type TorchKeyLayout } from './torch-layouts.js';
import { exportTorchStateDict, torchEntries, type TorchStateDict } from './torch-weights.js';

/** Options of {@link loadTorchWeights}, {@link loadTorchCheckpoint} and {@link loadSafetensors}. */
export interface TorchLoadOptions {
  /** Whose parameter names the checkpoint uses (default `'reference'`, the paper's code and this package's). */
  layout?: TorchKeyLayout;
  /**
   * Renames a checkpoint key before the layout applies: return the model key, `null` to skip the tensor,
   * or `undefined` to keep the key. The escape hatch for codebases with other names.
   */
  renameKey?: (key: string) => string | null | undefined;
  /**
   * Default `true`: every weight of the model must be in the checkpoint and every tensor of the
   * checkpoint must be used (or skipped for a stated reason), else nothing is loaded and the error lists
   * both sides with their shapes. `false` loads what matches and reports the rest.
   */
  strict?: boolean;
}

/** A tensor named in a {@link TorchImportReport}: its key and PyTorch shape. */
export interface TorchKeyShape {
  /** The state-dict key (the checkpoint's for unexpected tensors, the model's for missing weights). */
  key: string;
  /** The PyTorch shape, e.g. `[out, in, kh, kw]` for a convolution weight. */
  shape: number[];
}

/** A checkpoint tensor loaded under another name. */
export interface TorchRename {
  /** The checkpoint's key. */
  from: string;
  /** The model's key it was loaded into. */
  to: string;
}

/** A checkpoint tensor skipped on purpose. */
export interface TorchSkip {
  /** The checkpoint's key. */
  key: string;
  /** Why, e.g. "batch norm's num_batches_tracked counter, PyTorch-only". */
  reason: string;
}

/** What {@link loadTorchWeights} did. */
export interface TorchImportReport {
  /** Model keys (PyTorch names of the reference definition) that received a tensor. */
  loaded: string[];
  /** Checkpoint keys loaded under another name (layout or `renameKey`). */
  renamed: TorchRename[];
  /** Model weights the checkpoint does not have (only when `strict: false`; they keep their values). */
  missing: TorchKeyShape[];
  /** Checkpoint tensors the model has no place for (only when `strict: false`). */
  unexpected: TorchKeyShape[];
  /** Checkpoint tensors skipped on purpose, with why (`num_batches_tracked`, unused sub-blocks, `renameKey`). */
  skipped: TorchSkip[];
  /** The input normalisation the checkpoint carries as `mu`/`sigma` buffers (RobustBench), if any. */
  normalization?: NormalizeStats;
}

/**
 * The input normalisation a state dict carries as `mu` and `sigma` buffers (RobustBench's models
 * normalise inside with them, shape `[1, C, 1, 1]`), or undefined. Build the model with
 * `normalize: torchNormalization(stateDict)` so it computes what the PyTorch model did.
 */
export function torchNormalization(stateDict: TorchStateDict): NormalizeStats | undefined {
  const mu = stateDict['mu'];
  const sigma = stateDict['sigma'];
  if (!Object.hasOwn(stateDict, 'mu') || !Object.hasOwn(stateDict, 'sigma') || !mu || !sigma) return undefined;
  if (mu.data.length !== sigma.data.length || mu.data.length === 0) {
    throw new RangeError(`torch weights: 'mu' (${mu.data.length} values) and 'sigma' (${sigma.data.length} values) must hold one value per input channel`);
  }
  return { mean: Array.from(mu.data), std: Array.from(sigma.data) };
}

function modelNormalization(model: tfl.LayersModel): NormalizeStats | undefined {
  const layer = model.layers.find((l) => l.getClassName() === 'Normalize') as unknown as NormalizeStats | undefined;
  return layer ? { mean: [...layer.mean], std: [...layer.std] } : undefined;
}

const sameStats = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= 1e-6 * Math.max(1, Math.abs(b[i]!)));
const list = (items: TorchKeyShape[]) =>
  items.slice(0, 12).map((e) => `${e.key} [${e.shape}]`).join(', ') + (items.length > 12 ? `, ... (${items.length} in all)` : '');

/**
 * Loads a PyTorch state dict (plain data, PyTorch layout) into `model` in place and reports what went
 * where. Keys are matched through `options.renameKey`, then the model's own names, then the layout's
 * renames (e.g. RobustBench's `linear` -> `fc`); batch norm's `num_batches_tracked` is skipped. A shape
 * that differs from the model's is always an error, as is (with `strict`, the default) a model weight
 * without a tensor, a tensor without a model weight, or `mu`/`sigma` normalisation buffers that differ
 * from the model's `normalize`. On any error nothing is written. Leaves no tensors behind.
 */
export function loadTorchWeights(model: tfl.LayersModel, stateDict: TorchStateDict, options: TorchLoadOptions = {}, caller = 'loadTorchWeights'): TorchImportReport {
  const layout = checkTorchKeyLayout(options.layout ?? 'reference', caller);
  const strict = options.strict ?? true;
  if (stateDict === null || typeof stateDict !== 'object') throw new TypeError(`${caller}: stateDict must be an object of { shape, data } tensors`);
  const wanted = torchEntries(model);
  const byKey = new Map(wanted.map((e) => [e.key, e]));
  const report: TorchImportReport = { loaded: [], renamed: [], missing: [], unexpected: [], skipped: [] };
  const sources = new Map<string, string>(); // model key -> checkpoint key
  for (const key of Object.keys(stateDict)) {
    const renamed = options.renameKey ? options.renameKey(key) : undefined;
    if (renamed === null) {
      report.skipped.push({ key, reason: 'renameKey returned null' });
      continue;
    }
    const name = renamed ?? key;
    if (typeof name !== 'string') throw new TypeError(`${caller}: renameKey('${key}') returned ${typeof name}; expected a string, null or undefined`);
    if (name === 'mu' || name === 'sigma') {
      report.skipped.push({ key, reason: 'input normalisation buffer (see normalization)' });
      continue;
    }
    const fate = mapTorchKey(name, layout, new Set(byKey.keys()));
    if (fate.kind === 'skip') report.skipped.push({ key, reason: fate.reason });
    else if (fate.kind === 'unknown') report.unexpected.push({ key, shape: [...stateDict[key]!.shape] });
    else {
      const earlier = sources.get(fate.key);
      if (earlier !== undefined) throw new RangeError(`${caller}: checkpoint keys '${earlier}' and '${key}' both map to the model's '${fate.key}'`);
      sources.set(fate.key, key);
      if (fate.key !== key) report.renamed.push({ from: key, to: fate.key });
    }
  }
  const torchShape = (e: (typeof wanted)[number]): number[] => (e.toTorch ? e.toTorch.map((axis) => e.variable.shape[axis]!) : [...e.variable.shape]) as number[];
  report.missing = wanted.filter((e) => !sources.has(e.key)).map((e) => ({ key: e.key, shape: torchShape(e) }));
  const mismatched: string[] = [];
  for (const [modelKey, key] of sources) {
    const { shape, data } = stateDict[key]!;
    const expected = torchShape(byKey.get(modelKey)!);
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) mismatched.push(`'${key}' has shape [${shape}], the model needs [${expected}]`);
    else if (data.length !== expected.reduce((a, b) => a * b, 1)) mismatched.push(`'${key}' has ${data.length} values for shape [${shape}]`);
  }
  if (mismatched.length) throw new RangeError(`${caller}: ${mismatched.slice(0, 8).join('; ')}${mismatched.length > 8 ? `; ... (${mismatched.length} in all)` : ''}`);

  const normalization = Object.hasOwn(stateDict, 'mu') || Object.hasOwn(stateDict, 'sigma') ? torchNormalization(stateDict) : undefined;
  if (normalization) report.normalization = normalization;
  const problems: string[] = [];
  if (strict && normalization) {
    const own = modelNormalization(model);
    if (!own || !sameStats(own.mean, normalization.mean) || !sameStats(own.std, normalization.std)) {
      problems.push(
        `the checkpoint normalises its input with mu = [${normalization.mean}], sigma = [${normalization.std}] but the model ${own ? `uses mean [${own.mean}], std [${own.std}]` : 'does not normalise'}; ` +
          'build it with normalize: torchNormalization(stateDict)',
      );
    }
  }
  if (strict && report.missing.length) problems.push(`missing (model weights the checkpoint lacks): ${list(report.missing)}`);
  if (strict && report.unexpected.length) problems.push(`unexpected (checkpoint tensors the model lacks): ${list(report.unexpected)}`);
  if (problems.length) {
    const hints: string[] = [];
    const unexpected = report.unexpected.map((e) => e.key);
    if (layout === 'reference' && unexpected.some((k) => /^linear\.|\.shortcut\.1\.|^sub_block1\./.test(k))) hints.push("these names look like RobustBench's definitions: use layout 'robustbench'");
    if (layout === 'robustbench' && report.missing.some((e) => e.key.startsWith('bn.')) && !unexpected.some((k) => k.startsWith('bn.'))) {
      hints.push("RobustBench's PreActResNet without bn_before_fc (PreActBlock) is a different network from the reference PreActResNet-18 and is not supported");
    }
    if (report.missing.length || report.unexpected.length) hints.push('check the architecture options (strides, width, depth, numClasses); renameKey maps other names; strict: false loads what matches');
    throw new RangeError(`${caller}: the checkpoint does not fit model '${model.name}': ${problems.join('; ')}${hints.length ? `. Hint: ${hints.join('; ')}` : ''}`);
  }

  const values: tf.Tensor[] = [];
  try {
    for (const [modelKey, key] of sources) {
      const { variable, toTorch } = byKey.get(modelKey)!;
      const { shape, data } = stateDict[key]!;
      values.push(
        tf.tidy(() => {
          const t = tf.tensor(data, shape, 'float32');
          // Inverse permutation: PyTorch layout back to tfjs layout.
          return toTorch ? tf.transpose(t, toTorch.map((_, i) => toTorch.indexOf(i))) : t;
        }),
      );
    }
    [...sources.keys()].forEach((modelKey, i) => byKey.get(modelKey)!.variable.write(values[i]!));
  } finally {
    tf.dispose(values);
  }
  report.loaded = [...sources.keys()];
  return report;
}

/**
 * Loads a PyTorch `state_dict` of the reference definition into `model` (in place): strict, the
 * reference layout, batch norm's `num_batches_tracked` skipped. {@link loadTorchWeights} with its
 * defaults, without the report.
 */
export function importTorchStateDict(model: tfl.LayersModel, stateDict: TorchStateDict): void {
  loadTorchWeights(model, stateDict, {}, 'importTorchStateDict');
}

/** A {@link TorchImportReport} of a file: also where in the file the state dict was. */
export interface TorchFileImportReport extends TorchImportReport {
  /** The wrapper key the state dict was under (`state_dict`, `model`, `model_state_dict`), or ''. */
  wrapper: string;
  /** The prefix removed from every key (`module.`), or ''. */
  removedPrefix: string;
}

/**
 * Loads a `torch.save` checkpoint file (its bytes; PyTorch >= 1.6) into `model`: {@link readTorchCheckpoint}
 * (safe: only an allow-list of pickle globals), then {@link loadTorchWeights}. Works in Node and browsers.
 *
 * @example
 * const model = resnet18({ strides: '1-1-2-2' });
 * const report = loadTorchCheckpoint(model, new Uint8Array(await (await fetch('paras.pt')).arrayBuffer()));
 */
export function loadTorchCheckpoint(model: tfl.LayersModel, bytes: Uint8Array, options: TorchLoadOptions = {}): TorchFileImportReport {
  const checkpoint = readTorchCheckpoint(bytes);
  const report = loadTorchWeights(model, checkpoint.stateDict, options, 'loadTorchCheckpoint');
  return { ...report, wrapper: checkpoint.wrapper, removedPrefix: checkpoint.removedPrefix };
}

/**
 * Loads a safetensors file (its bytes) with PyTorch's names and layout into `model`, as
 * {@link loadTorchWeights} does (same options, same report); any of its float or integer dtypes.
 */
export function loadSafetensors(model: tfl.LayersModel, bytes: Uint8Array, options: TorchLoadOptions = {}): TorchImportReport {
  return loadTorchWeights(model, readSafetensors(bytes).tensors, options, 'loadSafetensors');
}

/**
 * The model's weights as a safetensors file, with the PyTorch names and layout of the reference
 * definition (what `exportTorchStateDict` gives), float32, and `__metadata__` `{ format: 'pt' }` plus
 * `metadata`. In PyTorch: `model.load_state_dict(safetensors.torch.load_file(path))`. Creates no lasting tensors.
 */
export function exportSafetensors(model: tfl.LayersModel, metadata: Record<string, string> = {}): Uint8Array {
  return writeSafetensors(exportTorchStateDict(model), { format: 'pt', ...metadata });
}
