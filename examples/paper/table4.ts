/**
 * Table IV: natural accuracy and PGD-20 robustness (%) of AlexNet, VGG16, ResNet18 and PreActResNet18
 * with their original and modified stride configurations, TRADES on CIFAR-10.
 */
import type { ModelConfig, PaperExperiment } from './common.js';

const GRID: Array<[string, ModelConfig['arch'], string, string]> = [
  ['AlexNet', 'alexnet', '2-2-2-2', '1-1-2-2'],
  ['VGG16', 'vgg16', '2-2-2-2-2', '1-1-2-2-2'],
  ['ResNet18', 'resnet18', '1-2-2-2', '1-1-2-2'],
  ['PreActResNet18', 'preactresnet18', '1-2-2-2', '1-1-2-2'],
];

export const table4: PaperExperiment = {
  id: 'table4',
  title: 'Table IV: AlexNet, VGG16, ResNet18, PreActResNet18 with original and modified strides, TRADES, natural and PGD-20 accuracy',
  // AlexNet 1-1-2-2 and VGG16 1-1-2-2-2 are the slowest networks on the CPU (large early maps).
  scales: { cpu: { trainSize: 256 } },
  async run(exp) {
    const rows: Array<Array<string | number>> = [];
    for (const [name, arch, original, modified] of GRID) {
      // `smoke` (a pipeline test) builds each architecture once, with its modified strides.
      for (const strides of exp.smoke ? [modified] : [original, modified]) {
        const { model } = await exp.train({ arch, strides }, 'trades');
        const r = await exp.evaluate(model, ['PGD-20']);
        model.dispose();
        rows.push([strides === original || exp.smoke ? name : '', strides === modified ? `<u>${strides}</u>` : strides, r.Natural, r['PGD-20']!]);
      }
    }
    await exp.table('table4', {
      title: 'Table IV. Natural accuracy (%) and robustness (%) under PGD-20 of various architectures on CIFAR-10 (TRADES); underlined: the modified configuration',
      columns: ['', 'Configuration', 'Natural', 'PGD-20'],
      rows,
    });
  },
};
