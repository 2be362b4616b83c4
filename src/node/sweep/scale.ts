/**
 * The scales of the paper's experiments: `full` (the paper's settings, for a GPU), `cpu` (a reduced run
 * for a 2-core machine) and `smoke` (a few images, for tests), and what each one sets.
 */
import type { AutoAttackOptions } from '../../attacks/autoattack.js';

/** `full`: the paper's settings (GPU); `cpu`: a reduced run for a 2-core machine; `smoke`: a few images, for tests. */
export type Scale = 'full' | 'cpu' | 'smoke';
/** The scales, in order of cost. */
export const SCALES: readonly Scale[] = ['full', 'cpu', 'smoke'];

/** What a scale sets. `undefined` means "the paper's" (the preset's epochs and batch size, the whole split). */
export interface ScaleSettings {
  /** Channel multiplier of every network (1 = the paper's widths). */
  width: number;
  /** Training epochs (undefined: the preset's, e.g. 110 for TRADES). */
  epochs?: number;
  /**
   * Epochs (0-based) at which the learning rate drops, replacing the preset's milestones (undefined: the
   * preset's, e.g. [100, 105] for TRADES). The preset's factors apply in order (TRADES: x0.1, then
   * x0.01), so a preset with explicit factors (FAT) needs as many milestones. For a run shorter than the
   * paper's, e.g. `[14]` for 15 epochs compresses TRADES's schedule (its last 9% at the lower rates).
   */
  lrMilestones?: number[];
  /** Training batch size (undefined: the preset's 128). */
  batchSize?: number;
  /** PGD steps of the training attack (undefined: the preset's 10). */
  trainAttackSteps?: number;
  /** First n training images (undefined: all). */
  trainSize?: number;
  /** First n test images (undefined: all). */
  testSize?: number;
  /** Steps of the evaluation attacks (Table I: PGD-10/20/50 and DeepFool-50). */
  evalSteps: {
    /** Steps of PGD-10 (the paper: 10). */
    'PGD-10': number;
    /** Steps of PGD-20 (the paper: 20). */
    'PGD-20': number;
    /** Steps of PGD-50 (the paper: 50). */
    'PGD-50': number;
    /** Iterations of DeepFool (the paper: 50). */
    DeepFool: number;
  };
  /** AutoAttack budgets: empty for the standard settings (100 iterations, 5000 Square queries, 9 targets). */
  autoAttack: Pick<AutoAttackOptions, 'steps' | 'queries' | 'targetClasses'>;
  /** Evaluation batch size. */
  evalBatchSize: number;
  /** Data: `sample`, `cifar10:<dir>` or `cifar100:<dir>`. */
  data: string;
}

const TABLE_I = { 'PGD-10': 10, 'PGD-20': 20, 'PGD-50': 50, DeepFool: 50 };

/** The default settings of each scale; an experiment or a grid may override some of them. */
export const SCALE_SETTINGS: Readonly<Record<Scale, ScaleSettings>> = {
  full: { width: 1, evalSteps: TABLE_I, autoAttack: {}, evalBatchSize: 256, data: 'cifar10:.cache/cifar10' },
  cpu: {
    width: 1 / 16, epochs: 2, batchSize: 64, trainSize: 512, testSize: 100, evalSteps: TABLE_I, autoAttack: { queries: 1000 }, evalBatchSize: 100, data: 'sample',
  },
  smoke: {
    width: 1 / 64, epochs: 1, batchSize: 2, trainAttackSteps: 1, trainSize: 2, testSize: 2,
    evalSteps: { 'PGD-10': 1, 'PGD-20': 1, 'PGD-50': 1, DeepFool: 2 }, autoAttack: { steps: 1, queries: 2, targetClasses: 1 }, evalBatchSize: 2, data: 'sample',
  },
};
