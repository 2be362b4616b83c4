/**
 * `rmc-robust analyze`: the paper's analysis in one run - Proposition 1 bounds (vs feature size and
 * across ResNet18 stride configurations), the feature-disturbance experiment (Fig. 2 / Fig. 8), the
 * receptive field per layer (Fig. 6) and the cost of one inference (Fig. 7). Writes SVG plots with
 * their data as JSON into `outDir`.
 */
// The Node services (files, the native kernels) before anything else.
import '../node/register.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareStrides } from '../analysis/compare-strides.js';
import { saveChart, type Series } from '../analysis/chart.js';
import { modelCost } from '../analysis/cost.js';
import { disturbanceExperiment } from '../analysis/disturbance.js';
import { avgPoolingBound, maxPoolingBound } from '../analysis/proposition1.js';
import { receptiveField } from '../analysis/receptive-field.js';
import { resnet18 } from '../models/resnet18.js';

export async function runAnalysis(outDir: string, samples = 1000): Promise<void> {
  mkdirSync(outDir, { recursive: true });

  // Proposition 1 against the side of a square feature map (a = -1, b = 1, gamma = 0.25).
  const sides = [1, 2, 4, 8, 16, 32];
  const bound = (f: typeof avgPoolingBound) => sides.map((s) => [s, f({ height: s, width: s, a: -1, b: 1, gamma: 0.25 }).value] as [number, number]);
  await saveChart(join(outDir, 'proposition1'), {
    title: 'Proposition 1: bounds on P(|Pool(d)| >= 0.25), d in [-1, 1]',
    xLabel: 'feature map side (H = W)',
    yLabel: 'bound',
    logY: true,
    series: [{ name: 'average pooling', points: bound(avgPoolingBound) }, { name: 'max pooling', points: bound(maxPoolingBound) }],
    referenceY: { value: 1, label: 'vacuous above' },
  });
  const strides = compareStrides((s) => resnet18({ strides: s, width: 1 / 16 }), ['1-2-2-2', '1-1-2-2', '1-1-1-2'], { a: -1, b: 1, gamma: 0.25 });
  console.log('ResNet18 stride configurations (a = -1, b = 1, gamma = 0.25):');
  for (const r of strides) console.log(`  ${r.strides}: ${r.height}x${r.width}, avg bound ${r.avgPooling.value.toExponential(3)}, max bound ${r.maxPooling.value.toFixed(3)}`);

  // The disturbance experiment, default initialisation with ReLU.
  const rows = disturbanceExperiment({ sizes: [8, 16, 32, 64], samples, seed: 0 });
  await saveChart(join(outDir, 'disturbance'), {
    title: `l-inf disturbance after pooling (${samples} perturbations from U[-0.1, 0.1])`,
    xLabel: 'feature map side',
    yLabel: 'mean disturbance',
    logY: true,
    series: [
      { name: 'after average pooling', points: rows.map((r) => [r.size, r.avgPool.mean] as [number, number]) },
      { name: 'after max pooling', points: rows.map((r) => [r.size, r.maxPool.mean] as [number, number]) },
      { name: 'last conv layer', points: rows.map((r) => [r.size, r.layers[2]!.mean] as [number, number]) },
    ],
  });
  console.log('disturbance (avg / max pooling):', rows.map((r) => `${r.size}: ${r.avgPool.mean.toExponential(2)} / ${r.maxPool.mean.toExponential(2)}`).join(', '));

  // Receptive field per main-path layer and cost per configuration.
  const fields: Series[] = [];
  const costs: string[] = [];
  for (const [label, options] of [
    ['1-2-2-2', { strides: '1-2-2-2' }],
    ['1-1-2-2', { strides: '1-1-2-2' }],
    ['1-1-1-2', { strides: '1-1-1-2' }],
    ['1-2-2-2 + 2x upsampling', { strides: '1-2-2-2', upsample: { scale: 2 } }],
  ] as const) {
    const model = resnet18(options);
    const rf = receptiveField(model);
    fields.push({ name: label, points: rf.layers.filter((e) => e.onMainPath).map((e) => [e.index, e.field] as [number, number]) });
    const cost = modelCost(model);
    costs.push(`  ${label}: ${(cost.macs / 1e9).toFixed(3)} G multiply-adds, ${(cost.activationBytes / 2 ** 20).toFixed(2)} MiB activations; covers 32 px at layer ${rf.coversInputAt?.index} (${rf.coversInputAt?.name})`);
    model.dispose();
  }
  await saveChart(join(outDir, 'receptive-field'), {
    title: 'Receptive field of ResNet18 (main path)',
    xLabel: 'convolution layer',
    yLabel: 'receptive field (input pixels)',
    series: fields,
    referenceY: { value: 32, label: 'image size 32' },
  });
  console.log('cost of one 32x32 inference:');
  console.log(costs.join('\n'));
  console.log(`plots and data in ${outDir}/`);
}
