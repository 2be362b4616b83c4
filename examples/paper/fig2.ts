/**
 * Fig. 2: the l-infinity disturbance of the output features of a randomly initialised 4-layer CNN
 * (3-16-32-64 channels) under input perturbations from U[-0.1, 0.1], layer by layer, followed by (a)
 * average pooling or (b) max pooling, for several feature-map sizes (src/analysis/disturbance.ts).
 * Proposition 1: the disturbance after average pooling falls as the map grows, after max pooling it rises.
 */
import { disturbanceExperiment } from '../../src/index.node.js';
import type { PaperExperiment } from './common.js';

export const fig2: PaperExperiment = {
  id: 'fig2',
  title: 'Fig. 2: feature disturbance of a random CNN by layer and feature size, average vs max pooling (Proposition 1)',
  async run(exp) {
    const smoke = exp.smoke;
    const sizes = smoke ? [4, 8] : [8, 16, 32, 64];
    const samples = smoke ? 20 : 1000;
    await exp.log(`disturbance experiment: sizes ${sizes.join(', ')}, ${samples} perturbations from U[-0.1, 0.1] each`);
    const rows = disturbanceExperiment({ sizes, samples, delta: 0.1, seed: exp.seed });
    await exp.table('fig2', {
      title: 'Fig. 2 data. Mean ℓ∞ disturbance of the output features (δ ~ U[-0.1, 0.1]) after each layer and after global pooling',
      columns: ['Feature size', 'conv 1', 'conv 2', 'conv 3', 'Average pooling', 'Max pooling', 'measured [a, b] of d_ij'],
      rows: rows.map((r) => [`${r.size}×${r.size}`, ...r.layers.map((l) => l.mean.toFixed(4)), r.avgPool.mean.toFixed(5), r.maxPool.mean.toFixed(5), `[${r.assumptions.a.toFixed(3)}, ${r.assumptions.b.toFixed(3)}]`]),
      notes: [`${samples} perturbations per size; the same seeded weights for every size; values are not percentages`],
      data: rows,
    });
    const series = (pool: 'avgPool' | 'maxPool') => rows.map((r) => ({
      name: `${r.size}×${r.size}`,
      points: [...r.layers.map((l, i) => [i + 1, l.mean] as [number, number]), [r.layers.length + 1, r[pool].mean] as [number, number]],
    }));
    await exp.chart('fig2a-average-pooling', { title: 'Fig. 2a: disturbance by layer, then average pooling (layer 4)', xLabel: 'layer (4 = global average pooling)', yLabel: 'mean l-inf disturbance', series: series('avgPool'), logY: true });
    await exp.chart('fig2b-max-pooling', { title: 'Fig. 2b: disturbance by layer, then max pooling (layer 4)', xLabel: 'layer (4 = global max pooling)', yLabel: 'mean l-inf disturbance', series: series('maxPool'), logY: true });
  },
};
