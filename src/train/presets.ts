/**
 * The paper's training settings (shared/reference/rcm-reference.md, the table of defenses), for
 * {@link adversarialTrain}: `adversarialTrain(model, data, { ...presets.trades, epochs: 5 })`.
 */
import type { PiecewiseSchedule } from './schedule.js';

/** The defenses the trainer runs. */
export type Defense = 'standard' | 'at' | 'alp' | 'trades' | 'mart' | 'fat' | 'fat-trades' | 'awp-at' | 'awp-trades';

/** A preset: the options of one row of the reference table. */
export interface TrainingPreset {
  /** The defense the row trains. */
  defense: Defense;
  /** Training epochs (reference: 164 standard, 110 AT/ALP/TRADES, 120 MART and FAT, 85 FAT-TRADES, 200 AWP). */
  epochs: number;
  /**
   * Learning-rate schedule over 0-based epochs, as PyTorch's `MultiStepLR` stepped once per epoch; the
   * rate scales every SGD step of the epoch (reference: base 0.1, MART 0.01; milestones in {@link presets}).
   */
  lr: PiecewiseSchedule;
  /** L2 weight decay added to the gradient, `g + weightDecay * w` (PyTorch SGD's `weight_decay`; reference 2e-4 to 3.5e-3). */
  weightDecay: number;
  /** SGD momentum, without Nesterov (reference: 0.9 for every defense). */
  momentum: number;
  /** Training images per SGD step (reference: 128); an epoch's last batch holds the remainder. */
  batchSize: number;
  /** Linf radius of the training attack in pixel units of [0, 1] images (reference: 8/255; FAT 0.031). */
  eps: number;
  /** Iterations of the training attack (reference: 10, an upper bound for FAT's early-stopped PGD); ignored by `'standard'`. */
  attackSteps: number;
  /** Step of each attack iteration in pixel units (reference: 2/255 for AT, ALP, FAT and AT-AWP; 0.007 for the TRADES family and MART). */
  attackStepSize: number;
  /**
   * Weight of the loss's robustness term: the KL weight of TRADES, FAT-TRADES and TRADES-AWP (6), of
   * MART (5), the logit-pairing weight of ALP (0.5, its default). Unused by the other defenses.
   */
  beta?: number;
  /** FAT's tau by epoch: `tau.values[i]` applies from epoch `tau.epochs[i]` on (FAT and FAT-TRADES only). */
  tau?: {
    /** 0-based epochs, increasing, at which tau changes; before the first, `values[0]` applies. */
    epochs: number[];
    /** Tau from the matching epoch on: extra PGD steps allowed after an example is first misclassified (integer >= 0). */
    values: number[];
  };
  /** AWP's relative weight-perturbation size, `gamma * ||w||` per layer (reference: AT-AWP 0.01, TRADES-AWP 0.005); AWP only. */
  gamma?: number;
  /** AWP warm-up: the weight perturbation applies from 0-based epoch `awpWarmup` on (reference: AT-AWP 0, TRADES-AWP 10); AWP only. */
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
