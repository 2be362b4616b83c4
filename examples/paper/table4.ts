/**
 * Table IV: natural accuracy and PGD-20 robustness (%) of AlexNet, VGG16, ResNet18 and PreActResNet18
 * with their original and modified stride configurations, TRADES on CIFAR-10. The grid is
 * src/node/sweep/paper-grids.ts's `table4`, run by the embedded sweep executor.
 */
import type { PaperExperiment } from './common.js';

export const table4: PaperExperiment = {
  id: 'table4',
  title: 'Table IV: AlexNet, VGG16, ResNet18, PreActResNet18 with original and modified strides, TRADES, natural and PGD-20 accuracy',
  // AlexNet 1-1-2-2 and VGG16 1-1-2-2-2 are the slowest networks on the CPU (large early maps).
  scales: { cpu: { trainSize: 256 } },
  run: (exp) => exp.sweep('table4'),
};
