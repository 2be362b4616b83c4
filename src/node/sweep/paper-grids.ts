/**
 * The paper's training experiments as sweep grids: Tables III, IV, V and VI at a scale, over seeds.
 * `npm run paper` runs them with the embedded executor; `rmc-robust sweep submit table3` queues them.
 */
import type { Defense } from '../../train/presets.js';
import type { GridModel, Metric, SweepGrid } from './grid.js';
import type { Scale, ScaleSettings } from './scale.js';

/** Options of {@link paperGrid}. */
export interface PaperGridOptions {
  /** Scale (default `cpu`). */
  scale?: Scale;
  /** Seeds (default `[0]`; the paper averages seeds 0-4). */
  seeds?: number[];
  /** Overrides of the scale's settings (e.g. `{ data: 'cifar10:.cache/cifar10' }`). */
  settings?: Partial<ScaleSettings>;
}

/** The names of the paper's grids. */
export const PAPER_GRIDS = ['table3', 'table4', 'table5', 'table6'] as const;
/** A grid of {@link PAPER_GRIDS}. */
export type PaperGridName = (typeof PAPER_GRIDS)[number];

const TABLE5_DEFENSES: Defense[] = ['at', 'alp', 'trades', 'mart', 'fat', 'awp-at', 'awp-trades'];
const TABLE5_LABELS: Partial<Record<Defense, string>> = { at: 'AT †', alp: 'ALP †', trades: 'TRADES †', mart: 'MART', fat: 'FAT', 'awp-at': 'AT-AWP', 'awp-trades': 'TRADES-AWP' };
const TABLE5_METRICS: Metric[] = ['Natural', 'FGSM', 'PGD-20', 'PGD-50', 'DeepFool', 'AutoAttack'];
const RESNET_STRIDES: GridModel[] = [{ arch: 'resnet18', strides: '1-2-2-2' }, { arch: 'resnet18', strides: '1-1-2-2' }];

/** Per-scale settings of each table beyond the scale's (as the serial scripts had them). */
const OVERRIDES: Record<PaperGridName, Partial<Record<Scale, Partial<ScaleSettings>>>> = {
  table3: {},
  table4: { cpu: { trainSize: 256 } },
  table5: { cpu: { trainSize: 256, testSize: 50, epochs: 1 } },
  table6: { full: { data: 'cifar100:.cache/cifar100' }, cpu: { trainSize: 256, testSize: 50, epochs: 1, data: 'cifar100:../shared/data/cifar-100-binary' } },
};

/**
 * The grid of one of the paper's tables. At the `smoke` scale (a pipeline test) Table IV builds each
 * architecture once (its modified strides) and Tables V/VI train TRADES and MART only.
 */
export function paperGrid(name: PaperGridName, options: PaperGridOptions = {}): SweepGrid {
  const scale = options.scale ?? 'cpu';
  const base = { name, scale, seeds: options.seeds ?? [0], settings: { ...OVERRIDES[name][scale], ...options.settings } };
  switch (name) {
    case 'table3':
      return {
        ...base,
        title: 'Table III. Natural accuracy (%) and robustness (%) under PGD-20 on CIFAR-10 using average pooling and max pooling (TRADES); ResNet18 1-2-2-2 vs 1-1-2-2',
        models: (['avg', 'max'] as const).flatMap((pooling) => RESNET_STRIDES.map((m) => ({ ...m, pooling, row: pooling === 'avg' ? 'Average' : 'Max' }))),
        defenses: ['trades'],
        metrics: ['Natural', 'PGD-20'],
      };
    case 'table4': {
      const archs: Array<[string, GridModel['arch'], string, string]> = [
        ['AlexNet', 'alexnet', '2-2-2-2', '1-1-2-2'],
        ['VGG16', 'vgg16', '2-2-2-2-2', '1-1-2-2-2'],
        ['ResNet18', 'resnet18', '1-2-2-2', '1-1-2-2'],
        ['PreActResNet18', 'preactresnet18', '1-2-2-2', '1-1-2-2'],
      ];
      return {
        ...base,
        title: 'Table IV. Natural accuracy (%) and robustness (%) under PGD-20 of various architectures on CIFAR-10 (TRADES): original vs modified strides',
        models: archs.flatMap(([row, arch, original, modified]) => [
          ...(scale === 'smoke' ? [] : [{ arch, strides: original, row, column: 'original' }]),
          { arch, strides: modified, row, column: 'modified' },
        ]),
        defenses: ['trades'],
        metrics: ['Natural', 'PGD-20'],
        notes: ['columns: original strides (AlexNet 2-2-2-2, VGG16 2-2-2-2-2, ResNets 1-2-2-2) vs modified (1-1-2-2, VGG16 1-1-2-2-2)'],
      };
    }
    case 'table5':
    case 'table6': {
      const dataset = name === 'table5' ? 'CIFAR-10' : 'CIFAR-100';
      const defenses = scale === 'smoke' ? (['trades', 'mart'] as Defense[]) : TABLE5_DEFENSES;
      return {
        ...base,
        title: `Table ${name === 'table5' ? 'V' : 'VI'}. Natural accuracy (%) and robustness (%) under various attacks within ϵ = 8/255 on ${dataset}; ResNet18 1-2-2-2 vs 1-1-2-2`,
        models: RESNET_STRIDES,
        defenses,
        defenseLabels: TABLE5_LABELS,
        metrics: TABLE5_METRICS,
        best: ['mart', 'fat'],
        notes: [
          '†: the early-stopping learning schedule of the preset; ‡: the best checkpoint of the same run under PGD-10 validation on the test subset',
          'FAT is the AT-based friendly adversarial training (preset fat)',
        ],
      };
    }
    default:
      throw new RangeError(`grid '${String(name)}': accepted values are ${PAPER_GRIDS.join(', ')}`);
  }
}
