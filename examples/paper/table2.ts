/**
 * Table II: the share (%) of test predictions left unchanged by a PGD-20 perturbation (the
 * anti-perturbation ratio) for ResNet18 with upsampled inputs (top) and with other stride
 * configurations (bottom), at eps = 0, 2, ..., 10 / 255. The networks are trained with TRADES, the
 * section's representative defense.
 */
import { describe, type ModelConfig, type PaperExperiment } from './common.js';

const EPSILONS = [0, 2, 4, 6, 8, 10];

const ROWS: Array<[string, ModelConfig]> = [
  ['ResNet18 (1×)', { arch: 'resnet18' }],
  ['Nearest (2×)', { arch: 'resnet18', upsample: { scale: 2, mode: 'nearest' } }],
  ['Nearest (3×)', { arch: 'resnet18', upsample: { scale: 3, mode: 'nearest' } }],
  ['Bilinear (3×)', { arch: 'resnet18', upsample: { scale: 3, mode: 'bilinear' } }],
  ['2-2-2-2', { arch: 'resnet18', strides: '2-2-2-2' }],
  ['ResNet18 (1-2-2-2)', { arch: 'resnet18' }],
  ['1-1-2-2', { arch: 'resnet18', strides: '1-1-2-2' }],
  ['1-1-1-2', { arch: 'resnet18', strides: '1-1-1-2' }],
];
/** `smoke` (a pipeline test) walks one row of each kind. */
const SMOKE_ROWS = new Set(['ResNet18 (1×)', 'Nearest (2×)', 'ResNet18 (1-2-2-2)', '1-1-2-2']);

export const table2: PaperExperiment = {
  id: 'table2',
  title: 'Table II: proportion (%) of unchanged predictions under PGD-20 at eps 0-10/255; ResNet18 upsampled (top) and with other strides (bottom), TRADES',
  scales: { cpu: { trainSize: 256, testSize: 50 } },
  async run(exp) {
    const epsilons = EPSILONS.map((e) => e / 255);
    const done = new Map<string, number[]>();
    const rows: Array<Array<string | number>> = [];
    for (const [label, config] of ROWS.filter(([label]) => !exp.smoke || SMOKE_ROWS.has(label))) {
      const key = describe(config);
      if (!done.has(key)) {
        const { model } = await exp.train(config, 'trades');
        // eps = 0 leaves every prediction unchanged; only the positive budgets are attacked.
        const ratios = await exp.antiPerturbation(model, epsilons.slice(1));
        done.set(key, [100, ...ratios]);
        model.dispose();
      }
      rows.push([label, ...done.get(key)!]);
    }
    await exp.table('table2', {
      title: 'Table II. The proportion (%) of unchanged predicted results on CIFAR-10 under various perturbation budgets ϵ (ℓ∞, PGD-20). Top: upsampling; bottom: stride configurations',
      columns: ['', ...EPSILONS.map((e) => (e === 0 ? 'ϵ = 0' : `${e}/255`))],
      rows,
      notes: ['ResNet18 (1×) and ResNet18 (1-2-2-2) are the same network, trained once', 'ϵ = 0 is 100 by definition (not attacked)'],
    });
    await exp.chart('table2-unchanged', {
      title: 'Unchanged predictions under PGD-20 (Table II)',
      xLabel: 'eps (x/255)',
      yLabel: 'unchanged predictions (%)',
      series: rows.filter(([label]) => label !== 'ResNet18 (1-2-2-2)').map((row) => ({ name: String(row[0]), points: EPSILONS.map((e, i) => [e, row[i + 1] as number] as [number, number]) })),
    });
  },
};
