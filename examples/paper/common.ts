/**
 * Shared machinery of the paper's experiments (examples/paper/*.ts): the `--scale full|cpu|smoke`
 * settings, data, models from a small config, training with a defense preset, evaluation under the
 * paper's attacks, and the run directory with tables (Markdown + JSON) and SVG plots.
 *
 * An experiment is a {@link PaperExperiment}: an id, a title and a `run(exp)` that walks its grid
 * (architectures x strides/upsampling x pooling x defenses x eps) with the {@link Experiment} helpers.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel, loadData, progressBar, RunDir, statsFor, timestamp, UsageError, type ArchitectureName } from '../../src/cli/common.js';
import {
  adversarialTrain,
  antiPerturbationRatio,
  autoAttackAttack,
  backendInfo,
  deepfoolAttack,
  featureMapShape,
  fgsmAttack,
  imagesToTensor,
  loadCheckpoint,
  pgdAttack,
  presets,
  robustAccuracy,
  saveChart,
  type Attack,
  type ChartSpec,
  type CifarSplit,
  type Defense,
  type Pooling,
} from '../../src/index.node.js';

import { collectSweep, directoryStore, embeddedExecutor, paperGrid, SCALE_SETTINGS, type PaperGridName, type Scale, type ScaleSettings } from './sweep.js';
export { SCALE_SETTINGS, SCALES, type Scale, type ScaleSettings } from './sweep.js';
import { SCALES } from './sweep.js';

/** Command-line arguments of an experiment. */
export interface ExperimentArgs {
  scale: Scale;
  /** `sample`, `cifar10:<dir>` or `cifar100:<dir>` (default: the scale's). */
  data?: string;
  /** Run directory (default `runs/paper/<time>-<id>-<scale>`). */
  out?: string;
  /** Seed of initialisation, shuffling, augmentation and attacks (default 0). */
  seed?: number;
  /** Print progress bars (default true). */
  progress?: boolean;
}

export const USAGE = `options: --scale full|cpu|smoke (default cpu), --data sample|cifar10:<dir>|cifar100:<dir>, --out <dir>, --seed <n>`;

/** Parses `--scale`, `--data`, `--out`, `--seed`; errors name the option and the accepted values. */
export function parseArgs(argv: readonly string[]): ExperimentArgs {
  const args: ExperimentArgs = { scale: 'cpu' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag}: expects a value (${USAGE})`);
      i++;
      return value;
    };
    if (flag === '--scale') {
      const v = need();
      if (!SCALES.includes(v as Scale)) throw new UsageError(`--scale '${v}': accepted values are ${SCALES.join(', ')}`);
      args.scale = v as Scale;
    } else if (flag === '--data') args.data = need();
    else if (flag === '--out') args.out = need();
    else if (flag === '--seed') {
      const v = need();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--seed ${v}: must be an integer >= 0`);
      args.seed = n;
    } else throw new UsageError(`unknown option '${flag}'; ${USAGE}`);
  }
  return args;
}

/** A network of the grid: architecture, strides, pooling, upsampling. */
export interface ModelConfig {
  arch: ArchitectureName;
  /** Paper notation, e.g. `'1-1-2-2'` (default: the architecture's original). */
  strides?: string;
  pooling?: Pooling;
  upsample?: { scale: number; mode?: 'nearest' | 'bilinear' };
}

/** A short label: `resnet18 1-1-2-2 max nearest-2x`. */
export function describe(config: ModelConfig): string {
  const parts: string[] = [config.arch];
  if (config.strides) parts.push(config.strides);
  if (config.pooling && config.pooling !== 'avg') parts.push(config.pooling);
  if (config.upsample) parts.push(`${config.upsample.mode ?? 'nearest'}-${config.upsample.scale}x`);
  return parts.join(' ');
}

/** Names of the evaluation attacks of Table I. */
export type PaperAttackName = 'FGSM' | 'PGD-10' | 'PGD-20' | 'PGD-50' | 'DeepFool' | 'AutoAttack';

/** A table laid out like the paper's: a header row and rows of cells (numbers are percentages). */
export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Lines printed under the table (settings, caveats). */
  notes?: string[];
  /** The results in structured form, written to the JSON beside the rows. */
  data?: unknown;
}

/** Markdown of a table; numbers get two decimals, as in the paper. */
export function tableMarkdown(table: Table): string {
  const cell = (c: string | number) => (typeof c === 'number' ? c.toFixed(2) : c);
  const lines = [
    `**${table.title}**`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  if (table.notes?.length) lines.push('', ...table.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** A fraction in [0, 1] as a percentage rounded to 0.01 (the paper's precision). */
export const pct = (v: number) => Math.round(v * 10000) / 100;

/** Result of {@link Experiment.evaluate}: accuracies in percent. */
export type Accuracies = { Natural: number } & Partial<Record<PaperAttackName, number>>;

/** One experiment of the paper. */
export interface PaperExperiment {
  /** Command name, e.g. `table3`. */
  id: string;
  /** What it reproduces. */
  title: string;
  /** Per-scale overrides of {@link SCALE_SETTINGS}. */
  scales?: Partial<Record<Scale, Partial<ScaleSettings>>>;
  run(exp: Experiment): Promise<void>;
}

/** The running experiment: settings, data, run directory and the helpers each script uses. */
export class Experiment {
  readonly settings: ScaleSettings;
  readonly seed: number;
  readonly dataSpec: string;
  private cache: { train: CifarSplit; test: CifarSplit; classes: number } | null = null;
  private readonly started = Date.now();
  private readonly files: string[] = [];

  private constructor(readonly definition: PaperExperiment, readonly args: ExperimentArgs, readonly run: RunDir) {
    this.settings = { ...SCALE_SETTINGS[args.scale], ...definition.scales?.[args.scale] };
    this.seed = args.seed ?? 0;
    this.dataSpec = args.data ?? this.settings.data;
  }

  get scale(): Scale {
    return this.args.scale;
  }

  /** True at the `smoke` scale, where experiments walk a reduced grid (a test of the pipeline, not of the paper). */
  get smoke(): boolean {
    return this.args.scale === 'smoke';
  }

  /** Creates the run directory (with config.json) and runs `definition`. Returns the written files. */
  static async execute(definition: PaperExperiment, args: ExperimentArgs): Promise<{ out: string; files: string[]; seconds: number }> {
    const out = args.out ?? `runs/paper/${timestamp()}-${definition.id}-${args.scale}`;
    const settings = { ...SCALE_SETTINGS[args.scale], ...definition.scales?.[args.scale] };
    const info = backendInfo();
    const run = await RunDir.create(out, { experiment: definition.id, title: definition.title, ...args, data: args.data ?? settings.data, settings, backend: info });
    const exp = new Experiment(definition, args, run);
    await exp.log(`${definition.title}`);
    await exp.log(`scale ${args.scale}: width ${settings.width}, epochs ${settings.epochs ?? "preset's"}, batch ${settings.batchSize ?? "preset's"}, ` +
      `train ${settings.trainSize ?? 'all'} / test ${settings.testSize ?? 'all'} images of ${exp.dataSpec}; ` +
      `backend ${info.backend}, native kernels ${info.native.available ? 'yes' : 'no'}`);
    await definition.run(exp);
    const seconds = (Date.now() - exp.started) / 1000;
    await exp.log(`done in ${seconds.toFixed(0)} s; results in ${out}/`);
    return { out, files: exp.files, seconds };
  }

  /** Prints a line and appends it to the run's log.txt. */
  log(line: string): Promise<void> {
    return this.run.log(line);
  }

  /** The training and test images (the scale's subsets), loaded once and kept as uint8. */
  async data(): Promise<{ train: CifarSplit; test: CifarSplit; classes: number }> {
    if (this.cache) return this.cache;
    const train = await loadData(this.dataSpec, 'train');
    const test = await loadData(this.dataSpec, 'test');
    const take = (split: CifarSplit, n: number | undefined): CifarSplit => {
      const count = Math.min(n ?? split.count, split.count);
      return { images: split.images.subarray(0, count * 3072), labels: split.labels.subarray(0, count), count };
    };
    this.cache = { train: take(train.data, this.settings.trainSize), test: take(test.data, this.settings.testSize), classes: train.classes };
    await this.log(`data: ${this.cache.train.count} training and ${this.cache.test.count} test images, ${this.cache.classes} classes`);
    return this.cache;
  }

  /** Builds a network of the grid at the scale's width, for the data's classes and normalisation. */
  async model(config: ModelConfig): Promise<tfl.LayersModel> {
    // The class count follows the data spec, so analyses build networks without loading any data.
    const classes = this.dataSpec.startsWith('cifar100:') ? 100 : 10;
    return buildModel(config.arch, {
      strides: config.strides,
      pooling: config.pooling ?? 'avg',
      upsample: config.upsample,
      width: this.settings.width,
      numClasses: classes,
      normalize: statsFor(this.dataSpec),
      seed: this.seed,
    });
  }

  /**
   * Builds and trains a network with a defense preset (the scale's epochs, batch size, attack steps;
   * everything else the preset's). With `best`, validates with PGD-10 after each epoch on the test
   * subset (the paper's best checkpoint) and keeps the best weights in a checkpoint directory, loaded
   * by {@link Experiment.loadBest}. The caller disposes the model.
   */
  async train(config: ModelConfig, defense: Defense, options: { best?: boolean } = {}): Promise<{ model: tfl.LayersModel; seconds: number; epochs: number; checkpointDir?: string; losses: number[] }> {
    const { train, test } = await this.data();
    const model = await this.model(config);
    const preset = presets[defense];
    const epochs = this.settings.epochs ?? preset.epochs;
    const batchSize = this.settings.batchSize ?? preset.batchSize;
    const batches = Math.ceil(train.count / batchSize);
    const label = `${describe(config)} ${defense}`;
    const bar = this.args.progress === false ? null : await progressBar(`train ${label}`, epochs * batches);
    const start = Date.now();
    const { join } = await import('node:path');
    const checkpointDir = options.best ? join(this.run.path, 'checkpoints', label.replace(/[^\w.-]+/g, '_')) : undefined;
    const validation = options.best ? { x: imagesToTensor(test), y: test.labels, batchSize: this.settings.evalBatchSize } : undefined;
    let losses: number[] = [];
    try {
      const result = await adversarialTrain(model, train, {
        ...preset,
        epochs,
        batchSize,
        ...(this.settings.trainAttackSteps !== undefined && defense !== 'standard' ? { attackSteps: this.settings.trainAttackSteps } : {}),
        seed: this.seed,
        validation,
        restoreBest: false,
        checkpointDir,
        onBatchEnd: (b) => bar?.update(b.epoch * batches + b.batch + 1, `loss ${b.loss.toFixed(3)}`),
      });
      losses = result.epochs.map((e) => e.loss);
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      bar?.stop();
      if (validation) validation.x.dispose();
    }
    const seconds = (Date.now() - start) / 1000;
    await this.log(`trained ${label} (feature map ${featureSide(model)}): ${epochs} epochs in ${seconds.toFixed(0)} s, final loss ${losses[losses.length - 1]?.toFixed(4)}`);
    return { model, seconds, epochs, checkpointDir, losses };
  }

  /**
   * Loads the best validated weights written by {@link Experiment.train} with `best`; returns the
   * (0-based) epoch they come from.
   */
  async loadBest(model: tfl.LayersModel, checkpointDir: string): Promise<number> {
    const loaded = await loadCheckpoint(checkpointDir, model, 'best.json');
    if (!loaded?.state.best) throw new Error(`${checkpointDir}: no best checkpoint`);
    await this.log(`  best checkpoint: epoch ${loaded.state.best.epoch + 1} (PGD-10 validation)`);
    return loaded.state.best.epoch;
  }

  /**
   * Runs one of the paper's training tables as a sweep grid with the embedded executor (results and
   * checkpoints in `<run>/results`, so a re-run with the same --out resumes), then writes its table
   * (`<name>.md`, `.json`, `-plot.svg`) with mean ± std over the seeds.
   */
  async sweep(name: PaperGridName): Promise<void> {
    const { join } = await import('node:path');
    const grid = paperGrid(name, { scale: this.scale, seeds: [this.seed], settings: this.args.data ? { data: this.args.data } : {} });
    const store = directoryStore(join(this.run.path, 'results'));
    const executor = embeddedExecutor(store, {
      onRun: async (run, e) => {
        if (e.kind === 'start') await this.log(`run ${run.id}: ${run.row} ${run.column} ${run.config.defense} seed ${run.config.seed}`);
        else if (e.kind === 'epoch') await this.log(`  epoch ${e.epoch + 1}/${run.config.epochs}: loss ${e.loss.toFixed(4)}`);
        else if (e.kind === 'failed') await this.log(`  failed: ${e.error}`);
      },
      stopOnFailure: true,
    });
    await executor.submit(grid);
    const { markdown, files } = await collectSweep(grid, store, this.run.path);
    this.files.push(...files);
    console.log(`\n${markdown}`);
  }

  /** The Table I attack `name` at this scale's step counts (seeded). */
  attack(name: PaperAttackName): Attack {
    const steps = this.settings.evalSteps;
    switch (name) {
      case 'FGSM':
        return fgsmAttack();
      case 'PGD-10':
        return pgdAttack({ name, steps: steps['PGD-10'], relStepSize: 0.25, seed: this.seed });
      case 'PGD-20':
        return pgdAttack({ name, steps: steps['PGD-20'], relStepSize: 0.25, seed: this.seed + 1000 });
      case 'PGD-50':
        return pgdAttack({ name, steps: steps['PGD-50'], relStepSize: 0.033333, seed: this.seed + 2000 });
      case 'DeepFool':
        return deepfoolAttack({ name, steps: steps.DeepFool, overshoot: 0.02, candidates: 10 });
      case 'AutoAttack':
        return autoAttackAttack({ ...this.settings.autoAttack, seed: this.seed + 4000, onWarning: (m) => void this.log(`  AutoAttack warning: ${m}`) });
      default:
        throw new RangeError(`attack '${String(name)}': accepted values are FGSM, PGD-10, PGD-20, PGD-50, DeepFool, AutoAttack`);
    }
  }

  /** Natural accuracy and robust accuracy (%) under each attack at `eps` (default 8/255) on the test subset. */
  async evaluate(model: tfl.LayersModel, attacks: readonly PaperAttackName[], eps = 8 / 255): Promise<Accuracies> {
    const { test } = await this.data();
    // With no attack, an identity "attack" lets robustAccuracy report the clean accuracy alone.
    const identity: Attack = { name: 'none', norm: 'linf', kind: 'fixed-epsilon', targeted: false, bounds: [0, 1], run: (_m, x) => x.clone() };
    const list = attacks.length ? attacks.map((a) => this.attack(a)) : [identity];
    const bar = this.args.progress === false ? null : await progressBar(`eval ${model.name} ${attacks.join(', ') || 'natural'}`, test.count);
    try {
      const r = robustAccuracy(model, test, list, { eps, batchSize: this.settings.evalBatchSize, onProgress: (done) => bar?.update(done) });
      const result: Accuracies = { Natural: pct(r.clean) };
      for (const a of attacks) result[a] = pct(r.perAttack[a]!);
      await this.log(`  ${model.name}: ${Object.entries(result).map(([k, v]) => `${k} ${v.toFixed(2)}%`).join(', ')}`);
      return result;
    } finally {
      bar?.stop();
    }
  }

  /** Anti-perturbation ratio (%) at each budget: predictions left unchanged by PGD-20 (Table II). */
  async antiPerturbation(model: tfl.LayersModel, epsilons: readonly number[]): Promise<number[]> {
    const { test } = await this.data();
    const x = imagesToTensor(test);
    try {
      const results = antiPerturbationRatio(model, x, epsilons, { steps: this.settings.evalSteps['PGD-20'], seed: this.seed + 3000, batchSize: this.settings.evalBatchSize });
      const ratios = results.map((r) => pct(r.ratio));
      await this.log(`  ${model.name}: unchanged ${ratios.map((r) => `${r.toFixed(2)}%`).join(' ')}`);
      return ratios;
    } finally {
      x.dispose();
    }
  }

  /** Writes `<name>.md` and `<name>.json` (the table with the run's settings) and prints the Markdown. */
  async table(name: string, table: Table): Promise<void> {
    const notes = [...(table.notes ?? []), this.settingsNote()];
    const md = tableMarkdown({ ...table, notes });
    this.files.push(await this.run.write(`${name}.md`, md));
    const json = { ...table, notes, experiment: this.definition.id, scale: this.scale, dataset: this.cache ? this.dataSpec : null, settings: this.settings, seed: this.seed };
    this.files.push(await this.run.write(`${name}.json`, JSON.stringify(json, null, 1)));
    console.log(`\n${md}`);
  }

  /** Writes `<name>.svg` and `<name>.json` (src/analysis/chart.ts); `name` must differ from the tables'. */
  async chart(name: string, spec: ChartSpec): Promise<void> {
    const { join } = await import('node:path');
    if (this.files.some((f) => f.endsWith(`/${name}.json`))) throw new Error(`internal: chart '${name}' would overwrite a table's JSON`);
    const { svg, json } = await saveChart(join(this.run.path, name), spec);
    this.files.push(svg, json);
  }

  /** One line describing the scale, for table notes (the training settings only when data was used). */
  settingsNote(): string {
    const s = this.settings;
    if (!this.cache) return `scale ${this.scale}: width ${s.width}, seed ${this.seed} (no training)`;
    return `scale ${this.scale}: data ${this.dataSpec} (train ${this.cache.train.count}, test ${this.cache.test.count} images), ` +
      `width ${s.width}, epochs ${s.epochs ?? "preset's"}, batch ${s.batchSize ?? "preset's"}, training attack steps ${s.trainAttackSteps ?? "preset's"}, ` +
      `eval steps PGD-20 ${s.evalSteps['PGD-20']} / PGD-50 ${s.evalSteps['PGD-50']} / DeepFool ${s.evalSteps.DeepFool}, ` +
      `AutoAttack ${Object.keys(s.autoAttack).length ? `non-standard (${Object.entries(s.autoAttack).map(([k, v]) => `${k} ${v}`).join(', ')})` : 'standard'}, seed ${this.seed}`;
  }
}

/** `HxW` of the feature map reaching global pooling. */
export function featureSide(model: tfl.LayersModel): string {
  const f = featureMapShape(model);
  return `${f.height}x${f.width}`;
}
