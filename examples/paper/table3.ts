/**
 * Table III: natural accuracy and PGD-20 robustness (%) of ResNet18 1-2-2-2 and 1-1-2-2 with global
 * average or max pooling before the classifier, TRADES on CIFAR-10 (Proposition 1: enlarging the feature
 * map helps before average pooling, not before max pooling).
 */
import type { PaperExperiment } from './common.js';

export const table3: PaperExperiment = {
  id: 'table3',
  title: 'Table III: average vs max pooling, ResNet18 1-2-2-2 / 1-1-2-2, TRADES, natural and PGD-20 accuracy',
  async run(exp) {
    const rows: Array<Array<string | number>> = [];
    for (const strides of ['1-2-2-2', '1-1-2-2']) {
      for (const pooling of ['avg', 'max'] as const) {
        const { model } = await exp.train({ arch: 'resnet18', strides, pooling }, 'trades');
        const r = await exp.evaluate(model, ['PGD-20']);
        model.dispose();
        rows.push([pooling === 'avg' ? (strides === '1-1-2-2' ? '<u>1-1-2-2</u>' : strides) : '', pooling === 'avg' ? 'Average' : 'Max', r.Natural, r['PGD-20']!]);
      }
    }
    await exp.table('table3', {
      title: 'Table III. Natural accuracy (%) and robustness (%) under PGD-20 on CIFAR-10 using average pooling and max pooling, respectively (TRADES)',
      columns: ['', 'Pooling Type', 'Natural', 'PGD-20'],
      rows,
    });
  },
};
