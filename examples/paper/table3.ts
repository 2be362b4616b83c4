/**
 * Table III: natural accuracy and PGD-20 robustness (%) of ResNet18 1-2-2-2 and 1-1-2-2 with global
 * average or max pooling before the classifier, TRADES on CIFAR-10 (Proposition 1: enlarging the feature
 * map helps before average pooling, not before max pooling). The grid is src/node/sweep/paper-grids.ts's
 * `table3`, run by the embedded sweep executor.
 */
import type { PaperExperiment } from './common.js';

export const table3: PaperExperiment = {
  id: 'table3',
  title: 'Table III: average vs max pooling, ResNet18 1-2-2-2 / 1-1-2-2, TRADES, natural and PGD-20 accuracy',
  run: (exp) => exp.sweep('table3'),
};
