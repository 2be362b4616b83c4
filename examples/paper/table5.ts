/**
 * Tables V and VI: natural accuracy and robustness (%) under FGSM, PGD-20, PGD-50 and DeepFool at
 * eps = 8/255 of ResNet18 1-2-2-2 and 1-1-2-2 trained with each defense (AT, ALP, TRADES, MART, FAT,
 * AT-AWP, TRADES-AWP) on CIFAR-10 (Table V) and CIFAR-100 (Table VI). Rows marked ‡ are the best
 * checkpoint under PGD-10 validation of the same training run. The last column is AutoAttack
 * (standard version at the full scale; smaller budgets at the cpu and smoke scales, said in the notes).
 */
import type { Defense } from '../../src/index.node.js';
import type { Accuracies, Experiment, PaperAttackName, PaperExperiment } from './common.js';

const ROWS: Array<{ label: string; defense: Defense; best?: boolean }> = [
  { label: 'AT †', defense: 'at' },
  { label: 'ALP †', defense: 'alp' },
  { label: 'TRADES †', defense: 'trades' },
  { label: 'MART', defense: 'mart', best: true },
  { label: 'FAT', defense: 'fat', best: true },
  { label: 'AT-AWP', defense: 'awp-at' },
  { label: 'TRADES-AWP', defense: 'awp-trades' },
];
const ATTACKS: PaperAttackName[] = ['FGSM', 'PGD-20', 'PGD-50', 'DeepFool', 'AutoAttack'];
const STRIDES = ['1-2-2-2', '1-1-2-2'] as const;
const METRICS = ['Natural', ...ATTACKS] as const;

/** `smoke` (a pipeline test) trains one defense with a final row and one with a ‡ row. */
const SMOKE_DEFENSES = new Set<Defense>(['trades', 'mart']);

async function run(exp: Experiment, table: 'V' | 'VI'): Promise<void> {
  const results: Record<string, Record<string, Accuracies>> = {};
  for (const row of ROWS.filter((r) => !exp.smoke || SMOKE_DEFENSES.has(r.defense))) {
    for (const strides of STRIDES) {
      const { model, checkpointDir, epochs } = await exp.train({ arch: 'resnet18', strides }, row.defense, { best: row.best });
      try {
        const final = await exp.evaluate(model, ATTACKS);
        (results[row.label] ??= {})[strides] = final;
        if (row.best) {
          // When the last epoch validated best, the ‡ weights are the final ones: same results.
          const bestEpoch = await exp.loadBest(model, checkpointDir!);
          (results[`${row.label} ‡`] ??= {})[strides] = bestEpoch === epochs - 1 ? final : await exp.evaluate(model, ATTACKS);
        }
      } finally {
        model.dispose();
      }
    }
  }
  const arrow = (base: number, modified: number) => (modified > base ? '↑' : modified < base ? '↓' : '=');
  const rows = Object.entries(results).map(([label, r]) => [
    label,
    ...METRICS.flatMap((m) => [r['1-2-2-2']![m]!, `${r['1-1-2-2']![m]!.toFixed(2)} ${arrow(r['1-2-2-2']![m]!, r['1-1-2-2']![m]!)}`]),
  ]);
  const dataset = table === 'V' ? 'CIFAR-10' : 'CIFAR-100';
  await exp.table(`table${table === 'V' ? 5 : 6}`, {
    title: `Table ${table}. Natural accuracy (%) and robustness (%) under various attacks within ϵ = 8/255 on ${dataset} (data: ${exp.dataSpec}); ResNet18 1-2-2-2 vs the modified 1-1-2-2`,
    columns: ['', ...METRICS.flatMap((m) => [`${m} 1-2-2-2`, `${m} <u>1-1-2-2</u>`])],
    rows,
    notes: [
      '†: the early-stopping learning schedule of the preset; ‡: the best checkpoint of the same run under PGD-10 validation on the test subset',
      'FAT is the AT-based friendly adversarial training (preset fat)',
    ],
    data: results,
  });
}

export const table5: PaperExperiment = {
  id: 'table5',
  title: 'Table V: defenses x strides 1-2-2-2 / 1-1-2-2 on CIFAR-10 under FGSM, PGD-20, PGD-50, DeepFool, AutoAttack (eps 8/255)',
  scales: { cpu: { trainSize: 256, testSize: 50, epochs: 1 } },
  run: (exp) => run(exp, 'V'),
};

export const table6: PaperExperiment = {
  id: 'table6',
  title: 'Table VI: defenses x strides 1-2-2-2 / 1-1-2-2 on CIFAR-100 under FGSM, PGD-20, PGD-50, DeepFool, AutoAttack (eps 8/255)',
  scales: {
    full: { data: 'cifar100:.cache/cifar100' },
    cpu: { trainSize: 256, testSize: 50, epochs: 1, data: 'cifar100:../shared/data/cifar-100-binary' },
  },
  run: (exp) => run(exp, 'VI'),
};
