/** Shared pieces of the command line: run directories, logging, progress bars, data and models. */
import '../node/register.js';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { imagesToTensor, loadCifar10, loadCifar100, type CifarSplit } from '../data/cifar.js';
import { loadCifar10Sample } from '../data/sample.js';
import { writeAtomic } from '../io/file-system.js';
import { alexnet } from '../models/alexnet.js';
import { CIFAR100_STATS } from '../models/layers/normalize.js';
import type { ModelOptions } from '../models/options.js';
import { preActResNet18 } from '../models/preact-resnet18.js';
import { resnet18 } from '../models/resnet18.js';
import { vgg16 } from '../models/vgg16.js';
import { wideResNet } from '../models/wide-resnet.js';

/**
 * A command-line usage error: printed as one line without a stack, exit code 2, followed by a pointer
 * to the command's `--help` unless `pointToHelp` is false (when help would not fix it, e.g. a missing
 * package).
 */
export class UsageError extends Error {
  readonly pointToHelp: boolean;
  constructor(message: string, options: { pointToHelp?: boolean } = {}) {
    super(message);
    this.name = 'UsageError';
    this.pointToHelp = options.pointToHelp ?? true;
  }
}

/** `text` as it appears in a message: bare when it is a plain token, else quoted (empty, spaces, quotes). */
export function shown(text: string): string {
  return /^[\x21-\x7e]+$/.test(text) && !text.includes("'") ? text : `'${text}'`;
}

export const ARCHITECTURES = { resnet18, preactresnet18: preActResNet18, vgg16, alexnet, wrn: wideResNet } as const;
export type ArchitectureName = keyof typeof ARCHITECTURES;

export function buildModel(arch: string, options: ModelOptions): tfl.LayersModel {
  const build = ARCHITECTURES[arch as ArchitectureName];
  if (!build) throw new UsageError(`--arch '${arch}': accepted values are ${Object.keys(ARCHITECTURES).join(', ')}`);
  return build(options);
}

/** Parses `8/255,4/255,0.01` into numbers >= 0. */
export function parseEpsList(text: string, option = '--eps'): number[] {
  const values = text.split(',').map((part) => {
    const t = part.trim();
    const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(t);
    if (!m) throw new UsageError(`${option} '${text}': expected numbers or fractions like 8/255, separated by commas`);
    const v = m[2] ? Number(m[1]) / Number(m[2]) : Number(m[1]);
    if (!Number.isFinite(v)) throw new UsageError(`${option} '${text}': ${t} is not a finite number`);
    return v;
  });
  return values;
}

/**
 * Parses a decimal integer in [min, max] (max default: the largest safe integer). Only digits with an
 * optional sign: no empty text, spaces, exponents or hex, which `Number()` would accept.
 */
export function parseInteger(text: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`${option} ${shown(text)}: must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}`);
  }
  return v;
}

/** Parses a finite decimal number (`0.5`, `2`, `1e-3`) > min (`exclusive`) or >= min; nothing else. */
export function parseNumber(text: string, option: string, min: number, exclusive = false): number {
  const v = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(v) || (exclusive ? v <= min : v < min)) throw new UsageError(`${option} ${shown(text)}: must be a number ${exclusive ? '>' : '>='} ${min}`);
  return v;
}

/** `--upsample 2` or `2:bilinear`. */
export function parseUpsample(text: string | undefined): ModelOptions['upsample'] {
  if (text === undefined) return undefined;
  const [scale, mode = 'nearest'] = text.split(':');
  if (mode !== 'nearest' && mode !== 'bilinear') throw new UsageError(`--upsample '${text}': the mode must be nearest or bilinear`);
  return { scale: parseNumber(scale!, '--upsample', 0, true), mode };
}

/** Data: `sample` (embedded CIFAR-10 sample), `cifar10:<dir>` or `cifar100:<dir>`. */
export async function loadData(spec: string, split: 'train' | 'test'): Promise<{ data: CifarSplit; classes: number }> {
  const { kind, dir } = parseDataSpec(spec);
  if (kind === 'sample') return { data: await loadCifar10Sample(split), classes: 10 };
  if (kind === 'cifar10') return { data: await loadCifar10(dir, { split }), classes: 10 };
  return { data: await loadCifar100(dir, { split }), classes: 100 };
}

/** `--data`: `sample`, `cifar10:<dir>` or `cifar100:<dir>` (a non-empty directory). */
export function parseDataSpec(spec: string): { kind: 'sample' | 'cifar10' | 'cifar100'; dir: string } {
  if (spec === 'sample') return { kind: 'sample', dir: '' };
  const [kind, dir] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  if ((kind === 'cifar10' || kind === 'cifar100') && dir) return { kind, dir };
  throw new UsageError(`--data '${spec}': expected sample, cifar10:<dir> or cifar100:<dir>`);
}

/** Normalisation statistics for a data spec. */
export function statsFor(spec: string): ModelOptions['normalize'] {
  return spec.startsWith('cifar100:') ? CIFAR100_STATS : undefined;
}

/** The first `limit` images (all when undefined) as a float tensor and labels. */
export function subset(data: CifarSplit, limit?: number): { x: tf.Tensor4D; y: number[] } {
  const count = limit ? Math.min(limit, data.count) : data.count;
  return { x: imagesToTensor(data, 0, count), y: Array.from(data.labels.subarray(0, count)) };
}

/** A run directory with config.json and an appending log. */
export class RunDir {
  private lines: string[] = [];
  constructor(readonly path: string) {}

  /**
   * Creates the run directory and writes config.json. With `resume`, an existing config.json is kept
   * and log.txt is continued rather than replaced.
   */
  static async create(path: string, config: unknown, options: { resume?: boolean } = {}): Promise<RunDir> {
    const { mkdir, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    await mkdir(path, { recursive: true });
    const run = new RunDir(path);
    const read = (name: string) => readFile(join(path, name), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    const log = options.resume ? await read('log.txt') : null;
    if (log) run.lines = log.replace(/\n$/, '').split('\n');
    if (!options.resume || (await read('config.json')) === null) await run.write('config.json', JSON.stringify(config, null, 1));
    return run;
  }

  async write(name: string, content: string): Promise<string> {
    const { join } = await import('node:path');
    const file = join(this.path, name);
    await writeAtomic(file, content);
    return file;
  }

  /** Prints a line (unless `print` is false) and keeps it in log.txt. */
  async log(line: string, print = true): Promise<void> {
    if (print) console.log(line);
    this.lines.push(line);
    await this.write('log.txt', `${this.lines.join('\n')}\n`);
  }
}

/** A progress bar: `update(done, note)` moves it, `stop()` ends its line. */
export interface ProgressBar {
  update(done: number, extra?: string): void;
  stop(): void;
}

/** Loads cli-progress; the function it returns starts a bar at once (see {@link progressBar}). */
export async function progressBars(): Promise<(label: string, total: number) => ProgressBar> {
  const { default: cliProgress } = await import('cli-progress');
  return (label, total) => {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} {extra}`, noTTYOutput: true, notTTYSchedule: 10_000, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { extra: '' });
    return {
      update: (done, extra = '') => bar.update(done, { extra }),
      stop: () => bar.stop(),
    };
  };
}

/** A progress bar with ETA on a terminal; a line every 10% otherwise (CI logs). */
export async function progressBar(label: string, total: number): Promise<ProgressBar> {
  return (await progressBars())(label, total);
}

export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}
