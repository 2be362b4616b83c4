/**
 * Tables V and VI: natural accuracy and robustness (%) under FGSM, PGD-20, PGD-50, DeepFool and
 * AutoAttack at eps = 8/255 of ResNet18 1-2-2-2 and 1-1-2-2 trained with each defense (AT, ALP, TRADES,
 * MART, FAT, AT-AWP, TRADES-AWP) on CIFAR-10 (Table V) and CIFAR-100 (Table VI). Rows marked ‡ are the
 * best checkpoint under PGD-10 validation of the same training run. The grids are
 * src/node/sweep/paper-grids.ts's `table5` and `table6`, run by the embedded sweep executor.
 */
import type { PaperExperiment } from './common.js';

export const table5: PaperExperiment = {
  id: 'table5',
  title: 'Table V: defenses x strides 1-2-2-2 / 1-1-2-2 on CIFAR-10 under FGSM, PGD-20, PGD-50, DeepFool, AutoAttack (eps 8/255)',
  scales: { cpu: { trainSize: 256, testSize: 50, epochs: 1 } },
  run: (exp) => exp.sweep('table5'),
};

export const table6: PaperExperiment = {
  id: 'table6',
  title: 'Table VI: defenses x strides 1-2-2-2 / 1-1-2-2 on CIFAR-100 under FGSM, PGD-20, PGD-50, DeepFool, AutoAttack (eps 8/255)',
  scales: {
    full: { data: 'cifar100:.cache/cifar100' },
    cpu: { trainSize: 256, testSize: 50, epochs: 1, data: 'cifar100:../shared/data/cifar-100-binary' },
  },
  run: (exp) => exp.sweep('table6'),
};
