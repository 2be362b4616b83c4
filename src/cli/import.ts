/**
 * `rmc-robust import`: a PyTorch checkpoint (`torch.save` .pt/.pth/.tar, or .safetensors) into a tfjs
 * model directory that `rmc-robust eval --model <dir>` evaluates.
 */
import { fileSystem, writeAtomic } from '../io/file-system.js';
import { readSafetensors } from '../io/safetensors.js';
import { readTorchCheckpoint } from '../io/torch-checkpoint.js';
import { CIFAR100_STATS, CIFAR10_STATS, type NormalizeStats } from '../models/layers/normalize.js';
import { loadTorchWeights, torchNormalization } from '../models/torch-import.js';
import { checkTorchKeyLayout } from '../models/torch-layouts.js';
import type { TorchStateDict } from '../models/torch-weights.js';
import { buildModel, parseInteger, parseNumber, UsageError } from './common.js';

/** Options of `rmc-robust import`. */
export interface ImportCommandOptions {
  arch: string;
  strides?: string;
  numClasses?: string;
  width: string;
  pooling: string;
  depth?: string;
  widenFactor?: string;
  layout: string;
  normalize: string;
  strict: boolean;
  out: string;
}

const NORMALIZE = ['auto', 'cifar10', 'cifar100', 'none'] as const;

/** Where the classifier's weight is in the layouts: its rows are the classes. */
const CLASSIFIER_KEYS = ['fc.weight', 'linear.weight', 'classifier.6.weight'];

/** The state dict of a torch.save file or a safetensors file, told apart by their first bytes. */
function readStateDict(path: string, bytes: Uint8Array): { stateDict: TorchStateDict; from: string } {
  const zipOrPickle = (bytes[0] === 0x50 && bytes[1] === 0x4b) || bytes[0] === 0x80;
  try {
    if (zipOrPickle) {
      const c = readTorchCheckpoint(bytes);
      const where = [c.wrapper && `under '${c.wrapper}'`, c.removedPrefix && `'${c.removedPrefix}' prefix removed`].filter(Boolean).join(', ');
      return { stateDict: c.stateDict, from: `torch.save checkpoint${where ? ` (${where})` : ''}` };
    }
    return { stateDict: readSafetensors(bytes).tensors, from: 'safetensors file' };
  } catch (e) {
    const message = (e as Error).message;
    throw new Error(`${path}: ${zipOrPickle ? message : `neither a torch.save checkpoint (a zip archive) nor a safetensors file: ${message}`}`);
  }
}

export async function importCommand(checkpoint: string, o: ImportCommandOptions): Promise<void> {
  const layout = (() => {
    try {
      return checkTorchKeyLayout(o.layout, '--layout');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();
  if (!(NORMALIZE as readonly string[]).includes(o.normalize)) throw new UsageError(`--normalize '${o.normalize}': accepted values are ${NORMALIZE.join(', ')}`);
  if (o.pooling !== 'avg' && o.pooling !== 'max') throw new UsageError(`--pooling '${o.pooling}': accepted values are avg and max`);
  if (o.arch !== 'wrn' && (o.depth || o.widenFactor)) throw new UsageError(`${o.depth ? '--depth' : '--widen-factor'}: only for --arch wrn`);
  const width = parseNumber(o.width, '--width', 0, true);
  const { readFile, mkdir } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(checkpoint));
  } catch (e) {
    throw new UsageError(`<checkpoint> '${checkpoint}': ${(e as Error).message}`);
  }
  const { stateDict, from } = readStateDict(checkpoint, bytes);

  const classifier = CLASSIFIER_KEYS.find((k) => Object.hasOwn(stateDict, k));
  const numClasses = o.numClasses ? parseInteger(o.numClasses, '--num-classes', 2) : classifier ? stateDict[classifier]!.shape[0]! : 10;
  const carried = torchNormalization(stateDict);
  let normalize: NormalizeStats | false;
  if (o.normalize === 'auto') normalize = carried ?? (layout === 'robustbench' ? false : CIFAR10_STATS);
  else normalize = o.normalize === 'cifar10' ? CIFAR10_STATS : o.normalize === 'cifar100' ? CIFAR100_STATS : false;
  const options = {
    numClasses,
    width,
    pooling: o.pooling as 'avg' | 'max',
    normalize,
    ...(o.strides ? { strides: o.strides } : {}),
    ...(o.depth ? { depth: parseInteger(o.depth, '--depth', 10) } : {}),
    ...(o.widenFactor ? { widenFactor: parseInteger(o.widenFactor, '--widen-factor', 1) } : {}),
  };
  let model;
  try {
    model = buildModel(o.arch, options);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  try {
    const report = loadTorchWeights(model, stateDict, { layout, strict: o.strict }, 'import');
    await mkdir(o.out, { recursive: true });
    await model.save(fileSystem(o.out));
    const normalizeText = normalize ? `mean [${normalize.mean.map((v) => +v.toFixed(6))}], std [${normalize.std.map((v) => +v.toFixed(6))}]` : 'none (raw [0, 1] pixels)';
    await writeAtomic(
      `${o.out}/import.json`,
      JSON.stringify({ checkpoint, from, arch: o.arch, layout, options: { ...options, normalize }, report }, null, 1),
    );
    console.log(`${checkpoint}: ${from}, ${Object.keys(stateDict).length} tensors`);
    console.log(`model ${model.name}: ${report.loaded.length} weights loaded${report.renamed.length ? ` (${report.renamed.length} renamed by the ${layout} layout)` : ''}, ${report.skipped.length} tensors skipped (${[...new Set(report.skipped.map((s) => s.reason))].join('; ') || 'none'})`);
    if (report.missing.length) console.log(`not in the checkpoint (initial values kept): ${report.missing.map((e) => `${e.key} [${e.shape}]`).join(', ')}`);
    if (report.unexpected.length) console.log(`not used: ${report.unexpected.map((e) => `${e.key} [${e.shape}]`).join(', ')}`);
    console.log(`input normalisation: ${normalizeText}${carried && o.normalize === 'auto' ? " (the checkpoint's mu/sigma)" : ''}; ${numClasses} classes${!o.numClasses && classifier ? ` (from ${classifier})` : ''}`);
    console.log(`saved to ${o.out}/ (model.json, weights.bin, import.json); evaluate with: rmc-robust eval --model ${o.out} --attacks autoattack`);
  } finally {
    model.dispose();
  }
}
