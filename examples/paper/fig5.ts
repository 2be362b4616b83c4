/**
 * Fig. 5: natural accuracy (%) of ResNet18 and its modified versions under standard training and
 * TRADES: (a) inputs upsampled by nearest or bilinear interpolation at several scales, (b) stride
 * configurations 2-2-2-2, 1-2-2-2, 1-1-2-2, 1-1-1-2.
 */
import type { Defense } from '../../src/index.node.js';
import { describe, featureSide, type ModelConfig, type PaperExperiment } from './common.js';

export const fig5: PaperExperiment = {
  id: 'fig5',
  title: 'Fig. 5: natural accuracy of ResNet18 with (a) upsampled inputs and (b) stride configurations, standard training and TRADES',
  scales: { cpu: { trainSize: 256 } },
  async run(exp) {
    // `cpu` stops at 2x (3x inputs cost about 9x to train); `smoke` (a pipeline test) walks scales 1-2
    // (nearest only) and two stride configurations.
    const scales = exp.scale === 'full' ? [1, 2, 3, 4] : [1, 2];
    const strides = exp.smoke ? ['1-2-2-2', '1-1-2-2'] : ['2-2-2-2', '1-2-2-2', '1-1-2-2', '1-1-1-2'];
    const defenses: Defense[] = ['standard', 'trades'];
    const accuracy = new Map<string, number>();
    const side = new Map<string, number>();
    const measure = async (config: ModelConfig, defense: Defense): Promise<number> => {
      const key = `${describe(config)} ${defense}`;
      if (!accuracy.has(key)) {
        const { model } = await exp.train(config, defense);
        side.set(describe(config), Number(featureSide(model).split('x')[0]));
        accuracy.set(key, (await exp.evaluate(model, [])).Natural);
        model.dispose();
      }
      return accuracy.get(key)!;
    };
    const upsampled = (scale: number, mode: 'nearest' | 'bilinear'): ModelConfig => (scale === 1 ? { arch: 'resnet18' } : { arch: 'resnet18', upsample: { scale, mode } });
    const rows: Array<Array<string | number>> = [];
    const seriesA: Array<{ name: string; points: Array<[number, number]> }> = [];
    for (const defense of defenses) {
      for (const mode of exp.smoke ? (['nearest'] as const) : (['nearest', 'bilinear'] as const)) {
        const points: Array<[number, number]> = [];
        for (const scale of scales) points.push([scale, await measure(upsampled(scale, mode), defense)]);
        seriesA.push({ name: `${mode}, ${defense}`, points });
      }
    }
    const seriesB: Array<{ name: string; points: Array<[number, number]> }> = [];
    for (const defense of defenses) {
      const points: Array<[number, number]> = [];
      for (const s of strides) {
        const config: ModelConfig = s === '1-2-2-2' ? { arch: 'resnet18' } : { arch: 'resnet18', strides: s };
        const acc = await measure(config, defense);
        points.push([side.get(describe(config))!, acc]);
      }
      seriesB.push({ name: defense, points });
    }
    for (const scale of scales) {
      for (const mode of scale === 1 || exp.smoke ? (['nearest'] as const) : (['nearest', 'bilinear'] as const)) {
        const c = upsampled(scale, mode);
        rows.push([scale === 1 ? 'ResNet18 (1×)' : `${mode === 'nearest' ? 'Nearest' : 'Bilinear'} (${scale}×)`, ...defenses.map((d) => accuracy.get(`${describe(c)} ${d}`)!)]);
      }
    }
    for (const s of strides) {
      const c: ModelConfig = s === '1-2-2-2' ? { arch: 'resnet18' } : { arch: 'resnet18', strides: s };
      rows.push([s === '1-2-2-2' ? 'ResNet18 (1-2-2-2)' : s, ...defenses.map((d) => accuracy.get(`${describe(c)} ${d}`)!)]);
    }
    await exp.table('fig5', {
      title: 'Fig. 5 data. Natural accuracy (%) of ResNet18 and its modified versions (top: upsampling; bottom: strides)',
      columns: ['', 'Standard', 'TRADES'],
      rows,
      notes: ['ResNet18 (1×) and ResNet18 (1-2-2-2) are the same network, trained once per defense'],
    });
    await exp.chart('fig5a-upsampling', { title: 'Fig. 5a: natural accuracy vs upsampling scale', xLabel: 'upsampling scale', yLabel: 'natural accuracy (%)', series: seriesA });
    await exp.chart('fig5b-strides', { title: `Fig. 5b: natural accuracy vs strides (${strides.join(', ')})`, xLabel: 'feature map side before pooling', yLabel: 'natural accuracy (%)', series: seriesB });
  },
};
