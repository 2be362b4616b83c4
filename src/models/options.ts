/**
 * Options shared by every architecture, their validation, and the common input stem and head.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { CIFAR10_STATS, Normalize, type NormalizeStats, validateStats } from './layers/normalize.js';
import { Upsample, type UpsampleOptions, validateUpsample } from './layers/upsample.js';
import { parseStrides, type StrideSpec } from './strides.js';
import { SeedStream } from './seed.js';

/** Global pooling before the classifier: the paper's knob of Proposition 1. */
export type Pooling = 'avg' | 'max';

/** Options every architecture accepts. */
export interface ModelOptions {
  /** Number of classes (default 10), an integer >= 2. */
  numClasses?: number;
  /** Input images as `[height, width, channels]` (default `[32, 32, 3]`), raw pixels in [0, 1]. */
  inputShape?: readonly [number, number, number];
  /**
   * Stride configuration in the paper's notation (`'1-1-2-2'`, `'1122'` or `[1, 1, 2, 2]`); its length is
   * the architecture's number of stride slots. Defaults to the architecture's original configuration.
   */
  strides?: StrideSpec;
  /** Global pooling before the classifier (default `'avg'`, as in the reference code). */
  pooling?: Pooling;
  /** Input upsampling applied after normalisation, as the reference wrapper does (default none). */
  upsample?: UpsampleOptions;
  /** Per-channel normalisation of the [0, 1] input (default CIFAR-10's statistics); `false` skips it. */
  normalize?: NormalizeStats | false;
  /**
   * Channel multiplier applied to every convolution and hidden layer (default 1, the paper's networks):
   * `channels = max(1, round(channels * width))`. Narrow copies (e.g. 1/16) train fast on CPU.
   */
  width?: number;
  /** Seed of the weight initialisers (a non-negative integer); the same seed gives the same weights. */
  seed?: number;
  /** Name of the returned model (default: the architecture and its strides). */
  name?: string;
}

const COMMON_KEYS = ['numClasses', 'inputShape', 'strides', 'pooling', 'upsample', 'normalize', 'width', 'seed', 'name'];

/** Options after validation and defaults. */
export interface ResolvedOptions {
  numClasses: number;
  inputShape: [number, number, number];
  strides: number[];
  pooling: Pooling;
  upsample?: UpsampleOptions;
  normalize: NormalizeStats | false;
  width: number;
  seeds: SeedStream;
  name?: string;
}

/** Per-architecture facts needed to validate options. */
export interface ArchitectureSpec {
  architecture: string;
  defaultStrides: number[];
  /** Option names the architecture accepts besides the common ones. */
  extraKeys?: readonly string[];
}

/** Validates `options` against `spec` and fills defaults; errors name the option and the accepted values. */
export function resolveOptions(options: ModelOptions | undefined, spec: ArchitectureSpec): ResolvedOptions {
  const arch = spec.architecture;
  const opts = (options ?? {}) as ModelOptions & Record<string, unknown>;
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${arch}: options must be an object`);
  const accepted = [...COMMON_KEYS, ...(spec.extraKeys ?? [])];
  for (const key of Object.keys(opts)) {
    if (!accepted.includes(key)) {
      throw new RangeError(`${arch}: unknown option '${key}'; accepted options: ${accepted.join(', ')}`);
    }
  }
  const numClasses = opts.numClasses ?? 10;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(`${arch}: numClasses = ${String(numClasses)}: must be an integer >= 2`);
  }
  const inputShape = opts.inputShape ?? [32, 32, 3];
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(
      `${arch}: inputShape = ${JSON.stringify(inputShape)}: must be [height, width, channels] of positive integers (NHWC without the batch axis)`,
    );
  }
  const pooling = opts.pooling ?? 'avg';
  if (pooling !== 'avg' && pooling !== 'max') {
    throw new RangeError(`${arch}: pooling = '${String(pooling)}': accepted values are 'avg' and 'max'`);
  }
  const width = opts.width ?? 1;
  if (typeof width !== 'number' || !Number.isFinite(width) || width <= 0) {
    throw new RangeError(`${arch}: width = ${String(width)}: must be a finite number > 0`);
  }
  if (opts.upsample !== undefined) validateUpsample(opts.upsample, `${arch}: upsample`);
  const normalize = opts.normalize === undefined ? CIFAR10_STATS : opts.normalize;
  if (normalize !== false) {
    validateStats(normalize, `${arch}: normalize`);
    if (normalize.mean.length !== inputShape[2]) {
      throw new RangeError(
        `${arch}: normalize has ${normalize.mean.length} channels but inputShape has ${inputShape[2]}; pass matching { mean, std } or normalize: false`,
      );
    }
  }
  let seeds: SeedStream;
  try {
    seeds = new SeedStream(opts.seed);
  } catch (e) {
    throw new RangeError(`${arch}: ${(e as Error).message}`);
  }
  const strides = parseStrides(opts.strides ?? spec.defaultStrides, {
    count: spec.defaultStrides.length,
    name: `${arch}: strides`,
    architecture: arch,
  });
  if (opts.name !== undefined && (typeof opts.name !== 'string' || !/^[A-Za-z0-9][-A-Za-z0-9._/]*$/.test(opts.name))) {
    throw new RangeError(`${arch}: name = ${JSON.stringify(opts.name)}: must match /^[A-Za-z0-9][-A-Za-z0-9._/]*$/`);
  }
  return {
    numClasses,
    inputShape: [...inputShape] as [number, number, number],
    strides,
    pooling,
    upsample: opts.upsample ? { scale: opts.upsample.scale, mode: opts.upsample.mode ?? 'nearest' } : undefined,
    normalize,
    width,
    seeds,
    name: opts.name,
  };
}

/** Input layer, then {@link Normalize} (`normalize`) and {@link Upsample} (`upsample`) when enabled. */
export function inputStem(options: ResolvedOptions): { input: tfl.SymbolicTensor; x: tfl.SymbolicTensor } {
  const input = tfl.input({ shape: options.inputShape, name: 'input' });
  let x = input;
  if (options.normalize) x = new Normalize({ ...options.normalize, name: 'normalize' }).apply(x) as tfl.SymbolicTensor;
  if (options.upsample) x = new Upsample({ ...options.upsample, name: 'upsample' }).apply(x) as tfl.SymbolicTensor;
  return { input, x };
}

/** Default model name: the architecture and its strides in the paper's notation, e.g. `resnet18_1-1-2-2`. */
export function modelName(arch: string, options: ResolvedOptions): string {
  return options.name ?? `${arch}_${options.strides.join('-')}`;
}

/**
 * Throws a clear error when a layer's output has no spatial extent left (an input too small for the
 * strides). `what` names the layer.
 */
export function checkSpatial(x: tfl.SymbolicTensor, what: string): void {
  const [, h, w] = x.shape;
  if ((h != null && h < 1) || (w != null && w < 1)) {
    throw new RangeError(
      `inputShape is too small for these strides: the feature map after ${what} would be ${h}x${w}; use a larger inputShape or smaller strides`,
    );
  }
}
