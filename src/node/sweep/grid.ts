/**
 * A sweep's grid: models x defenses x seeds at one scale, expanded into runs. Each run is identified
 * by a hash of its resolved configuration (everything that changes its result, and the package
 * version), so submitting a grid again never repeats a finished run, and two grids that share a run
 * share its result.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { presets, type Defense } from '../../train/presets.js';
import type { Pooling } from '../../models/options.js';
import { packageFile } from '../package-path.js';
import { SCALE_SETTINGS, SCALES, type Scale, type ScaleSettings } from './scale.js';

/** The architectures a grid may name. */
export const SWEEP_ARCHITECTURES = ['resnet18', 'preactresnet18', 'vgg16', 'alexnet', 'wrn'] as const;
/** An architecture of the paper. */
export type SweepArchitecture = (typeof SWEEP_ARCHITECTURES)[number];
/** The metrics a run can report: natural accuracy and robust accuracy under the attacks of Table I. */
export const METRICS = ['Natural', 'FGSM', 'PGD-10', 'PGD-20', 'PGD-50', 'DeepFool', 'AutoAttack'] as const;
/** A metric of {@link METRICS}. */
export type Metric = (typeof METRICS)[number];

/** A network of a grid, with where its runs go in the table. */
export interface GridModel {
  /** Architecture. */
  arch: SweepArchitecture;
  /** Stride configuration in the paper's notation, e.g. `'1-1-2-2'` (default: the architecture's original). */
  strides?: string;
  /** Global pooling before the classifier (default `'avg'`). */
  pooling?: Pooling;
  /** Input upsampling (default none). */
  upsample?: {
    /** Integer factor of the input's height and width (e.g. 2: 32x32 -> 64x64). */
    scale: number;
    /** Interpolation (default `'nearest'`). */
    mode?: 'nearest' | 'bilinear';
  };
  /** Table row label (default: the architecture with its pooling and upsampling). */
  row?: string;
  /** Table column label (default: the strides); the first column of the grid is the one compared against (↑/↓). */
  column?: string;
}

/** A sweep: what {@link expandGrid} turns into runs. JSON files hold the same object. */
export interface SweepGrid {
  /** Name of the sweep and of its table files, e.g. `table3` (letters, digits, `-`, `_`). */
  name: string;
  /** Title of the table. */
  title?: string;
  /** Scale the settings start from. */
  scale: Scale;
  /** Overrides of the scale's settings (width, epochs, data, ...). */
  settings?: Partial<ScaleSettings>;
  /** Seeds of every configuration (initialisation, shuffling, augmentation, attacks). */
  seeds: number[];
  /** The networks. */
  models: GridModel[];
  /** The defenses each network is trained with. */
  defenses: Defense[];
  /** Row label of each defense when the grid has several (default: the defense's name). */
  defenseLabels?: Partial<Record<Defense, string>>;
  /** Metrics of the table (Natural is always measured). */
  metrics: Metric[];
  /** Defenses whose runs also report the best checkpoint under PGD-10 validation (rows marked ‡). */
  best?: Defense[];
  /** Lines printed under the table. */
  notes?: string[];
}

/** Everything that determines a run's result: what its id hashes. */
export interface RunConfig {
  /** Architecture. */
  arch: SweepArchitecture;
  /** Stride configuration, e.g. `'1-1-2-2'` (null: the architecture's original). */
  strides: string | null;
  /** Global pooling before the classifier. */
  pooling: Pooling;
  /** Input upsampling (null: none). */
  upsample: {
    /** Integer factor of the input's height and width. */
    scale: number;
    /** Interpolation. */
    mode: 'nearest' | 'bilinear';
  } | null;
  /** Defense the network is trained with (its preset's hyperparameters). */
  defense: Defense;
  /** Data: `sample`, `cifar10:<dir>` or `cifar100:<dir>`. */
  data: string;
  /** Channel multiplier of the network (1 = the paper's widths). */
  width: number;
  /** Training epochs. */
  epochs: number;
  /** Learning-rate milestones replacing the preset's (absent: the preset's). */
  lrMilestones?: number[];
  /** Training batch size. */
  batchSize: number;
  /** Training attack steps (null: the preset's). */
  trainAttackSteps: number | null;
  /** First n training images (null: all). */
  trainSize: number | null;
  /** First n test images (null: all). */
  testSize: number | null;
  /** Steps of the evaluation attacks. */
  evalSteps: ScaleSettings['evalSteps'];
  /** AutoAttack budgets (empty: the standard ones). */
  autoAttack: ScaleSettings['autoAttack'];
  /** Evaluation batch size. */
  evalBatchSize: number;
  /** The attacks evaluated (Natural is always). */
  attacks: Exclude<Metric, 'Natural'>[];
  /** Validate each epoch with PGD-10 and evaluate the best checkpoint too. */
  validate: boolean;
  /** Seed of initialisation, shuffling, augmentation and the attacks' random starts. */
  seed: number;
  /** The rmc-robust version that ran it. */
  version: string;
}

/** One run of a sweep: its id, configuration and place in the table. */
export interface SweepRun {
  /** Stable hash of `config` (24 hex digits). */
  id: string;
  /** What the run trains and evaluates. */
  config: RunConfig;
  /** Its row in the table. */
  row: string;
  /** Its column in the table. */
  column: string;
}

/** The installed rmc-robust version (part of every run's id). */
export function packageVersion(): string {
  const file = packageFile('package.json', import.meta.url);
  if (!file) throw new Error('rmc-robust: cannot find the package.json of rmc-robust');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** JSON with object keys sorted, so equal configurations give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The id of a run: the first 24 hex digits of the SHA-256 of its canonical configuration. */
export function runId(config: RunConfig): string {
  return createHash('sha256').update(canonical(config)).digest('hex').slice(0, 24);
}

const DEFENSES = Object.keys(presets) as Defense[];

function fail(field: string, message: string): never {
  throw new RangeError(`grid ${field}: ${message}`);
}

function checkList<T>(value: unknown, field: string, accepted?: readonly T[]): T[] {
  if (!Array.isArray(value) || value.length === 0) fail(field, 'expected a non-empty array');
  if (accepted) {
    for (const v of value) if (!accepted.includes(v as T)) fail(field, `${JSON.stringify(v)} is not accepted; accepted values are ${accepted.join(', ')}`);
  }
  return value as T[];
}

/**
 * Checks a grid (e.g. parsed from JSON) and returns it typed; errors name the field and what it
 * accepts. Configurations a model builder refuses (strides of the wrong length) are not caught here:
 * their runs fail, with the builder's error.
 */
export function checkGrid(grid: unknown): SweepGrid {
  if (grid === null || typeof grid !== 'object' || Array.isArray(grid)) fail('', 'expected an object with name, scale, seeds, models, defenses, metrics');
  const g = grid as Record<string, unknown>;
  const known = ['name', 'title', 'scale', 'settings', 'seeds', 'models', 'defenses', 'defenseLabels', 'metrics', 'best', 'notes'];
  for (const key of Object.keys(g)) if (!known.includes(key)) fail(key, `unknown field; the fields are ${known.join(', ')}`);
  if (typeof g['name'] !== 'string' || !/^[\w-]{1,64}$/.test(g['name'])) fail('name', 'expected 1-64 letters, digits, - or _');
  if (!SCALES.includes(g['scale'] as Scale)) fail('scale', `accepted values are ${SCALES.join(', ')}`);
  const seeds = checkList<number>(g['seeds'], 'seeds');
  for (const s of seeds) if (!Number.isSafeInteger(s) || s < 0) fail('seeds', `${JSON.stringify(s)} is not an integer >= 0`);
  if (new Set(seeds).size !== seeds.length) fail('seeds', 'a seed is repeated');
  const models = checkList<GridModel>(g['models'], 'models');
  models.forEach((m, i) => {
    if (m === null || typeof m !== 'object') fail(`models[${i}]`, 'expected an object with arch');
    if (!SWEEP_ARCHITECTURES.includes(m.arch)) fail(`models[${i}].arch`, `accepted values are ${SWEEP_ARCHITECTURES.join(', ')}`);
    if (m.pooling !== undefined && m.pooling !== 'avg' && m.pooling !== 'max') fail(`models[${i}].pooling`, 'accepted values are avg, max');
    if (m.strides !== undefined && typeof m.strides !== 'string') fail(`models[${i}].strides`, "expected a string such as '1-1-2-2'");
  });
  checkList<Defense>(g['defenses'], 'defenses', DEFENSES);
  checkList<Metric>(g['metrics'], 'metrics', METRICS);
  if (g['best'] !== undefined) checkList<Defense>(g['best'], 'best', DEFENSES);
  if (g['settings'] !== undefined && (g['settings'] === null || typeof g['settings'] !== 'object')) fail('settings', 'expected an object of scale settings');
  const settings = (g['settings'] ?? {}) as Record<string, unknown>;
  const settingKeys = Object.keys(SCALE_SETTINGS.full).concat(['epochs', 'lrMilestones', 'batchSize', 'trainAttackSteps', 'trainSize', 'testSize']);
  for (const key of Object.keys(settings)) if (!settingKeys.includes(key)) fail(`settings.${key}`, `unknown setting; the settings are ${[...new Set(settingKeys)].join(', ')}`);
  for (const key of ['epochs', 'batchSize', 'trainAttackSteps', 'trainSize', 'testSize', 'evalBatchSize']) {
    const v = settings[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) fail(`settings.${key}`, `${JSON.stringify(v)} is not an integer >= 1`);
  }
  const milestones = settings['lrMilestones'];
  if (milestones !== undefined) {
    if (!Array.isArray(milestones) || milestones.length === 0) fail('settings.lrMilestones', 'expected a non-empty array of epochs');
    milestones.forEach((m: unknown, i) => {
      if (!Number.isSafeInteger(m) || (m as number) < 1) fail(`settings.lrMilestones[${i}]`, `${JSON.stringify(m)} is not an integer >= 1`);
      if (i > 0 && (m as number) <= (milestones[i - 1] as number)) fail('settings.lrMilestones', `must be strictly increasing, got ${JSON.stringify(milestones)}`);
    });
  }
  if (settings['width'] !== undefined && !(typeof settings['width'] === 'number' && settings['width'] > 0)) fail('settings.width', 'expected a number > 0');
  return grid as SweepGrid;
}

/** `milestones` checked against `defense`'s schedule: a preset with explicit factors needs one per milestone. */
function lrMilestonesFor(defense: Defense, milestones: number[]): number[] {
  const factors = presets[defense].lr.factors;
  if (factors && factors.length !== milestones.length) {
    fail('settings.lrMilestones', `${defense}'s schedule has ${factors.length} rate changes (factors ${factors.join(', ')}); give ${factors.length} milestones, got ${milestones.length}`);
  }
  return [...milestones];
}

/** A model's default row label: architecture, non-average pooling, upsampling. */
function modelLabel(m: GridModel): string {
  const parts: string[] = [m.arch];
  if (m.pooling === 'max') parts.push('max');
  if (m.upsample) parts.push(`${m.upsample.mode ?? 'nearest'}-${m.upsample.scale}x`);
  return parts.join(' ');
}

/** The scale settings of a grid: its scale's, with its overrides. */
export function gridSettings(grid: SweepGrid): ScaleSettings {
  return { ...SCALE_SETTINGS[grid.scale], ...grid.settings };
}

/** The runs of a grid, in table order (models, then defenses, then seeds); checks the grid first. */
export function expandGrid(input: SweepGrid, version = packageVersion()): SweepRun[] {
  const grid = checkGrid(input);
  const s = gridSettings(grid);
  const attacks = grid.metrics.filter((m): m is Exclude<Metric, 'Natural'> => m !== 'Natural');
  const runs: SweepRun[] = [];
  for (const model of grid.models) {
    for (const defense of grid.defenses) {
      const preset = presets[defense];
      for (const seed of grid.seeds) {
        const config: RunConfig = {
          arch: model.arch,
          strides: model.strides ?? null,
          pooling: model.pooling ?? 'avg',
          upsample: model.upsample ? { scale: model.upsample.scale, mode: model.upsample.mode ?? 'nearest' } : null,
          defense,
          data: s.data,
          width: s.width,
          epochs: s.epochs ?? preset.epochs,
          ...(s.lrMilestones ? { lrMilestones: lrMilestonesFor(defense, s.lrMilestones) } : {}),
          batchSize: s.batchSize ?? preset.batchSize,
          trainAttackSteps: defense === 'standard' ? null : s.trainAttackSteps ?? null,
          trainSize: s.trainSize ?? null,
          testSize: s.testSize ?? null,
          evalSteps: s.evalSteps,
          autoAttack: s.autoAttack,
          evalBatchSize: s.evalBatchSize,
          attacks,
          validate: grid.best?.includes(defense) ?? false,
          seed,
          version,
        };
        const label = model.row ?? modelLabel(model);
        const defenseLabel = grid.defenseLabels?.[defense] ?? defense;
        // One network label for all: rows by defense; one defense: rows by network; else both.
        const oneLabel = grid.models.every((m) => (m.row ?? modelLabel(m)) === label);
        const row = grid.defenses.length === 1 ? label : oneLabel ? defenseLabel : `${label} ${defenseLabel}`;
        runs.push({ id: runId(config), config, row, column: model.column ?? model.strides ?? 'default' });
      }
    }
  }
  const ids = new Set(runs.map((r) => r.id));
  if (ids.size !== runs.length) fail('models', 'two entries describe the same run (same network, defense and seed)');
  return runs;
}

/** Reads a grid from a JSON file and checks it. */
export function readGridFile(file: string): SweepGrid {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RangeError(`grid '${file}': cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new RangeError(`grid '${file}': not valid JSON (${(e as Error).message})`);
  }
  return checkGrid(parsed);
}
