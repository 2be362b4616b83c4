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

/** A command-line usage error: printed without a stack, exit code 2. */
export class UsageError extends Error {}

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

export function parseInteger(text: string, option: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${option} ${text}: must be an integer >= ${min}`);
  return v;
}

export function parseNumber(text: string, option: string, min: number, exclusive = false): number {
  const v = Number(text);
  if (!Number.isFinite(v) || (exclusive ? v <= min : v < min)) throw new UsageError(`${option} ${text}: must be a number ${exclusive ? '>' : '>='} ${min}`);
  return v;
}

/** `--upsample 2` or `2:bilinear`. */
export function parseUpsample(text: string | undefined): ModelOptions['upsample'] {
  if (!text) return undefined;
  const [scale, mode = 'nearest'] = text.split(':');
  if (mode !== 'nearest' && mode !== 'bilinear') throw new UsageError(`--upsample '${text}': the mode must be nearest or bilinear`);
  return { scale: parseNumber(scale!, '--upsample', 0, true), mode };
}

/** Data: `sample` (embedded CIFAR-10 sample), `cifar10:<dir>` or `cifar100:<dir>`. */
export async function loadData(spec: string, split: 'train' | 'test'): Promise<{ data: CifarSplit; classes: number }> {
  if (spec === 'sample') return { data: await loadCifar10Sample(split), classes: 10 };
  const [kind, dir] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  if (kind === 'cifar10' && dir) return { data: await loadCifar10(dir, { split }), classes: 10 };
  if (kind === 'cifar100' && dir) return { data: await loadCifar100(dir, { split }), classes: 100 };
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

/** A progress bar with ETA on a terminal; a line every 10% otherwise (CI logs). */
export async function progressBar(label: string, total: number): Promise<{ update(done: number, extra?: string): void; stop(): void }> {
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} {extra}`, noTTYOutput: true, notTTYSchedule: 10_000, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { extra: '' });
  return {
    update: (done, extra = '') => bar.update(done, { extra }),
    stop: () => bar.stop(),
  };
}

export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}
