/**
 * Fig. 7: computational cost of one inference on a 32x32 image, upsampling the input vs shrinking the
 * strides, at the same magnification of the feature map before pooling: multiply-accumulates (what thop
 * reports as "Flops") and total memory (activations + weights, float32) (src/analysis/cost.ts). No
 * training; `full` and `cpu` use the paper's full widths.
 */
import { modelCost } from '../../src/index.node.js';
import type { ModelConfig, PaperExperiment } from './common.js';

export const fig7: PaperExperiment = {
  id: 'fig7',
  title: 'Fig. 7: MACs and memory of ResNet18 inference, upsampling vs strides',
  scales: { cpu: { width: 1 } },
  async run(exp) {
    const smoke = exp.smoke;
    const grid: Array<[string, number, ModelConfig]> = [
      ['1× / 1-2-2-2', 1, { arch: 'resnet18' }],
      ['Upsample 2×', 2, { arch: 'resnet18', upsample: { scale: 2 } }],
      ['Upsample 3×', 3, { arch: 'resnet18', upsample: { scale: 3 } }],
      ...(smoke ? [] : [['Upsample 4×', 4, { arch: 'resnet18', upsample: { scale: 4 } }] as [string, number, ModelConfig]]),
      ['1-1-2-2', 2, { arch: 'resnet18', strides: '1-1-2-2' }],
      ['1-1-1-2', 4, { arch: 'resnet18', strides: '1-1-1-2' }],
    ];
    const results: Array<{ label: string; magnification: number; gmacs: number; activationMB: number; parameterMB: number }> = [];
    for (const [label, magnification, config] of grid) {
      const model = await exp.model(config);
      const cost = modelCost(model);
      model.dispose();
      results.push({ label, magnification, gmacs: cost.macs / 1e9, activationMB: cost.activationBytes / 2 ** 20, parameterMB: cost.parameterBytes / 2 ** 20 });
      await exp.log(`  ${label}: ${(cost.macs / 1e9).toFixed(3)} GMACs, ${((cost.activationBytes + cost.parameterBytes) / 2 ** 20).toFixed(1)} MB`);
    }
    const fmt = (v: number) => v.toFixed(3);
    await exp.table('fig7', {
      title: `Fig. 7 data. Cost of one inference of ResNet18 (width ${exp.settings.width}) on a 32×32 image`,
      columns: ['Configuration', 'feature magnification', 'GMACs', 'activation memory (MB)', 'weights (MB)', 'total memory (MB)'],
      rows: results.map((r) => [r.label, `${r.magnification}×`, fmt(r.gmacs), fmt(r.activationMB), fmt(r.parameterMB), fmt(r.activationMB + r.parameterMB)]),
      notes: ['MACs of convolutions and dense layers (thop calls them Flops; FLOPs = 2 × MACs); memory: every layer output for one image plus the weights, float32'],
      data: results,
    });
    const by = (prefix: 'up' | 'stride', value: (r: (typeof results)[number]) => number) =>
      results.filter((r) => r.magnification === 1 || (prefix === 'up' ? r.label.startsWith('Upsample') : /^1-1/.test(r.label))).map((r) => [r.magnification, value(r)] as [number, number]);
    await exp.chart('fig7-macs', { title: 'Fig. 7 (left): multiply-accumulates per 32x32 image', xLabel: 'magnification of the feature map', yLabel: 'GMACs', series: [{ name: 'upsampling', points: by('up', (r) => r.gmacs) }, { name: 'strides', points: by('stride', (r) => r.gmacs) }] });
    await exp.chart('fig7-memory', { title: 'Fig. 7 (right): total memory per 32x32 image', xLabel: 'magnification of the feature map', yLabel: 'MB', series: [{ name: 'upsampling', points: by('up', (r) => r.activationMB + r.parameterMB) }, { name: 'strides', points: by('stride', (r) => r.activationMB + r.parameterMB) }] });
  },
};
