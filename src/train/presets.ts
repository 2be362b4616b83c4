/**
 * The paper's training settings (shared/reference/rcm-reference.md, the table of defenses), for
 * {@link adversarialTrain}: `adversarialTrain(model, data, { ...presets.trades, epochs: 5 })`.
 */
import type { PiecewiseSchedule } from './schedule.js';

/** The defenses the trainer runs. */
export type Defense = 'standard' | 'at' | 'alp' | 'trades' | 'mart' | 'fat' | 'fat-trades' | 'awp-at' | 'awp-trades';

/** A preset: the options of one row of the reference table. */
export interface TrainingPreset {
  defense: Defense;
  epochs: number;
  lr: PiecewiseSchedule;
  weightDecay: number;
  momentum: number;
  batchSize: number;
  eps: number;
  attackSteps: number;
  attackStepSize: number;
  beta?: number;
  /** FAT's tau by epoch: `tau[i]` from epoch `tauEpochs[i]` on. */
  tau?: { epochs: number[]; values: number[] };
  gamma?: number;
  awpWarmup?: number;
}

const common = { momentum: 0.9, batchSize: 128, eps: 8 / 255, attackSteps: 10 };

/** Reference settings of every defense in the paper's Tables V and VI. */
export const presets: Record<Defense, TrainingPreset> = {
  standard: { ...common, defense: 'standard', epochs: 164, lr: { base: 0.1, milestones: [82, 123], gamma: 0.1 }, weightDecay: 2e-4, attackSteps: 0, attackStepSize: 0 },
  at: { ...common, defense: 'at', epochs: 110, lr: { base: 0.1, milestones: [100, 105], gamma: 0.1 }, weightDecay: 5e-4, attackStepSize: 2 / 255 },
  alp: { ...common, defense: 'alp', epochs: 110, lr: { base: 0.1, milestones: [100, 105], gamma: 0.1 }, weightDecay: 5e-4, attackStepSize: 2 / 255, beta: 0.5 },
  trades: { ...common, defense: 'trades', epochs: 110, lr: { base: 0.1, milestones: [100, 105], gamma: 0.1 }, weightDecay: 5e-4, attackStepSize: 0.007, beta: 6 },
  mart: { ...common, defense: 'mart', epochs: 120, lr: { base: 0.01, milestones: [75, 90], gamma: 0.1 }, weightDecay: 3.5e-3, attackStepSize: 0.007, beta: 5 },
  fat: {
    ...common, defense: 'fat', epochs: 120, eps: 0.031,
    lr: { base: 0.1, milestones: [58, 88, 108], factors: [0.1, 0.01, 0.005] }, weightDecay: 2e-4, attackStepSize: 2 / 255,
    tau: { epochs: [0, 50, 90], values: [0, 1, 2] },
  },
  'fat-trades': {
    ...common, defense: 'fat-trades', epochs: 85,
    lr: { base: 0.1, milestones: [73, 88], factors: [0.1, 0.01] }, weightDecay: 5e-4, attackStepSize: 0.007, beta: 6,
    tau: { epochs: [0, 30, 50, 70], values: [0, 1, 2, 3] },
  },
  'awp-at': { ...common, defense: 'awp-at', epochs: 200, lr: { base: 0.1, milestones: [100, 150], gamma: 0.1 }, weightDecay: 5e-4, attackStepSize: 2 / 255, gamma: 0.01, awpWarmup: 0 },
  'awp-trades': { ...common, defense: 'awp-trades', epochs: 200, lr: { base: 0.1, milestones: [100, 150], gamma: 0.1 }, weightDecay: 5e-4, attackStepSize: 0.007, beta: 6, gamma: 0.005, awpWarmup: 10 },
};
