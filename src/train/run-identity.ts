/**
 * A training run's identity: every setting that shapes the model or the data order, recorded in each
 * checkpoint so that resuming refuses a different run instead of training on into a mixed model.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { VERSION } from '../version.js';
import type { TrainingPreset } from './presets.js';

/**
 * The settings of a run, by name: each a string, number, boolean or null (JSON values, so they survive
 * a checkpoint unchanged and compare with `===`).
 */
export type RunSettings = Record<string, string | number | boolean | null>;

/** One setting that differs between a checkpoint and the run that tries to resume it. */
export interface SettingDifference {
  /** The setting's name (a key of {@link RunSettings}). */
  setting: string;
  /** Its value in the checkpoint (undefined: the checkpoint does not record it). */
  checkpoint: RunSettings[string] | undefined;
  /** Its value in this run (undefined: this run does not record it). */
  run: RunSettings[string] | undefined;
}

/**
 * Thrown by {@link adversarialTrain} with `resume: true` when the checkpoint was written by a run with
 * other settings (or by a version that did not record them): resuming would mix two runs in one model.
 */
export class ResumeMismatchError extends Error {
  /** Where the checkpoint is (a directory or a URL). */
  readonly location: string;
  /** Each differing setting, the checkpoint's value and this run's; empty when the checkpoint records no settings. */
  readonly differences: SettingDifference[];

  /**
   * Builds the message listing the differences.
   *
   * @param location Where the checkpoint is.
   * @param differences The differing settings; empty for a checkpoint without recorded settings.
   */
  constructor(location: string, differences: SettingDifference[]) {
    const fresh = 'to train with these settings, start a fresh run in another checkpoint location';
    super(
      differences.length === 0
        ? `resume: the checkpoint in ${location} records no run settings (written by rmc-robust 0.1.0 or earlier), so resuming cannot check that this is the same run; finish it with the version that started it, or ${fresh}`
        : `resume: the checkpoint in ${location} is of a different run: ${describeDifferences(differences)}; resume with the checkpoint's settings, or ${fresh}`,
    );
    this.name = 'ResumeMismatchError';
    this.location = location;
    this.differences = differences;
  }
}

/** `a: 1 (checkpoint) vs 2 (this run); b: 'x' (checkpoint) vs 'y' (this run)`, with `format` naming each setting (default: its key). */
export function describeDifferences(differences: readonly SettingDifference[], format: (setting: string) => string = (s) => s): string {
  const show = (v: RunSettings[string] | undefined) => (v === undefined ? 'not recorded' : typeof v === 'string' ? `'${v}'` : String(v));
  return differences.map((d) => `${format(d.setting)}: ${show(d.checkpoint)} (checkpoint) vs ${show(d.run)} (this run)`).join('; ');
}

/** The settings of `checkpoint` and `run` that differ, in `run`'s order then the checkpoint's. */
export function settingDifferences(checkpoint: RunSettings, run: RunSettings): SettingDifference[] {
  const keys = [...Object.keys(run), ...Object.keys(checkpoint).filter((k) => !(k in run))];
  return keys
    .filter((k) => checkpoint[k] !== run[k])
    .map((setting) => ({ setting, checkpoint: setting in checkpoint ? checkpoint[setting] : undefined, run: setting in run ? run[setting] : undefined }));
}

/** What {@link runSettings} reads the data's identity from. */
export interface DataIdentity {
  /** Number of training images. */
  images: number;
  /** {@link fingerprint} of the images and labels. */
  checksum: string;
}

/** The settings the trainer itself knows, then `extra` (the caller's: architecture options, data set name, ...). */
export function runSettings(model: tfl.LayersModel, cfg: TrainingPreset, o: { seed: number; augment: boolean; data: DataIdentity; extra?: RunSettings }): RunSettings {
  const defense = cfg.defense;
  const attacks = defense !== 'standard';
  const settings: RunSettings = {
    version: VERSION,
    defense,
    seed: o.seed,
    batchSize: cfg.batchSize,
    augment: o.augment,
    lr: JSON.stringify(cfg.lr),
    momentum: cfg.momentum,
    weightDecay: cfg.weightDecay,
    ...(attacks ? { eps: cfg.eps, attackSteps: cfg.attackSteps, attackStepSize: cfg.attackStepSize } : {}),
    ...(defense === 'alp' ? { beta: cfg.beta ?? 0.5 } : ['trades', 'mart', 'fat-trades', 'awp-trades'].includes(defense) ? { beta: cfg.beta ?? 0 } : {}),
    ...(defense === 'fat' || defense === 'fat-trades' ? { tau: JSON.stringify(cfg.tau ?? null) } : {}),
    ...(defense === 'awp-at' || defense === 'awp-trades' ? { gamma: cfg.gamma ?? null, awpWarmup: cfg.awpWarmup ?? 0 } : {}),
    'model.name': model.name,
    'model.inputShape': JSON.stringify(model.inputs[0]!.shape.slice(1)),
    'model.classes': model.outputs[0]!.shape[1] ?? null,
    'model.parameters': model.weights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0),
    'model.topology': topologyFingerprint(model),
    'data.images': o.data.images,
    'data.checksum': o.data.checksum,
  };
  for (const [key, value] of Object.entries(o.extra ?? {})) {
    if (key in settings) throw new RangeError(`runSettings.${key}: the trainer records '${key}' itself; name the setting otherwise`);
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      throw new TypeError(`runSettings.${key}: expected a string, number, boolean or null, got ${typeof value}`);
    }
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`runSettings.${key} = ${value}: must be finite`);
    settings[key] = value;
  }
  return settings;
}

/** Layer configuration keys of weight initialisation (`kernel_initializer`, `kernel_seed`, `bias_init`, ...). */
const INITIALISATION = /(?:^|_)(?:seed|init)$|initializer$/i;

/**
 * A fingerprint of the model's architecture: its layers and their configuration (filters, strides,
 * pooling, normalisation statistics, ...), without the initialisers (their seeds only set the starting
 * weights, which a resumed run takes from the checkpoint).
 */
function topologyFingerprint(model: tfl.LayersModel): string {
  const json = model.toJSON(undefined, false) as unknown as { config: unknown };
  const text = JSON.stringify(json.config, (key, value: unknown) => (INITIALISATION.test(key) ? undefined : value));
  return fingerprint(new TextEncoder().encode(text));
}

/**
 * A 64-bit fingerprint (16 hex digits) of `parts`' bytes: two 32-bit multiplicative hashes over 32-bit
 * words. Not cryptographic; it tells whether two data sets differ (CIFAR-10's 150 MB in about 0.1 s).
 */
export function fingerprint(...parts: ArrayBufferView[]): string {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  const mix = (v: number) => {
    h1 = Math.imul(h1 ^ v, 0x01000193);
    h2 = Math.imul(h2 ^ v, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  };
  for (const part of parts) {
    const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
    mix(bytes.length);
    const whole = bytes.length >>> 2;
    if (bytes.byteOffset % 4 === 0) {
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, whole);
      for (let i = 0; i < whole; i++) mix(words[i]!);
    } else {
      for (let i = 0; i < whole; i++) mix(bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24));
    }
    for (let i = whole * 4; i < bytes.length; i++) mix(bytes[i]!);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}
