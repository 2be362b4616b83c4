/**
 * Fig. 6: the receptive field of ResNet18 layer by layer for several stride configurations, against the
 * image size 32 (src/analysis/receptive-field.ts). No training.
 */
import { receptiveField } from '../../src/index.node.js';
import type { PaperExperiment } from './common.js';

export const fig6: PaperExperiment = {
  id: 'fig6',
  title: 'Fig. 6: receptive field of ResNet18 by layer for strides 2-2-2-2, 1-2-2-2, 1-1-2-2, 1-1-1-2',
  async run(exp) {
    const configs = ['2-2-2-2', '1-2-2-2', '1-1-2-2', '1-1-1-2'];
    const results = [];
    for (const strides of configs) {
      const model = await exp.model({ arch: 'resnet18', strides });
      const rf = receptiveField(model);
      model.dispose();
      const main = rf.layers.filter((l) => l.onMainPath);
      results.push({ strides, coversAt: rf.coversInputAt?.index ?? null, final: main[main.length - 1]!.field, fields: main.map((l) => [l.index, l.field] as [number, number]) });
    }
    await exp.table('fig6', {
      title: 'Fig. 6 data. Receptive field of ResNet18 (main-path convolutions in order)',
      columns: ['Strides', 'first layer covering 32×32', 'final receptive field', 'fields by layer'],
      rows: results.map((r) => [r.strides, r.coversAt === null ? 'never' : String(r.coversAt), String(r.final), r.fields.map(([, f]) => f).join(' ')]),
      notes: ['layers numbered along the main path (shortcut projections excluded); the width does not change receptive fields'],
      data: results,
    });
    await exp.chart('fig6-receptive-field', {
      title: 'Fig. 6: receptive field of ResNet18',
      xLabel: 'layer',
      yLabel: 'receptive field (pixels)',
      series: results.map((r) => ({ name: r.strides, points: r.fields })),
      referenceY: { value: 32, label: 'image size 32' },
    });
  },
};
