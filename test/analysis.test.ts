import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  avgPoolingBound,
  avgPoolingFeatureSize,
  avgPoolingGamma,
  compareStrides,
  disturbanceExperiment,
  lineChartSvg,
  maxPoolingBound,
  maxPoolingFeatureSize,
  maxPoolingGamma,
  modelCost,
  receptiveField,
  resnet18,
  saveChart,
} from '../src/index.js';

describe('Proposition 1 bounds: hand-computed cases', () => {
  it('average pooling: 2 exp(-2 HW gamma^2 / (b - a)^2)', () => {
    // HW = 16, b - a = 2, gamma = 0.5: 2 exp(-2 * 16 * 0.25 / 4) = 2 exp(-2) = 0.2706705664732254.
    const r = avgPoolingBound({ height: 4, width: 4, a: -1, b: 1, gamma: 0.5 });
    expect(r.value).toBeCloseTo(0.2706705664732254, 12);
    expect(r).toMatchObject({ vacuous: false });
    // HW = 1, b - a = 1, gamma = 0.1: 2 exp(-0.02) = 1.9603973466135105 >= 1, vacuous.
    const v = avgPoolingBound({ height: 1, width: 1, a: 0, b: 1, gamma: 0.1 });
    expect(v.value).toBeCloseTo(1.9603973466135105, 12);
    expect(v).toMatchObject({ probability: 1, vacuous: true });
  });

  it('max pooling: (b - a) sqrt(log sqrt(2 HW)) / gamma', () => {
    // HW = 8, b - a = 1, gamma = 2: sqrt(log 4) / 2 = 1.1774100225154747 / 2 = 0.5887050112577373.
    expect(maxPoolingBound({ height: 2, width: 4, a: 0, b: 1, gamma: 2 }).value).toBeCloseTo(0.5887050112577373, 12);
    // HW = 16, b - a = 2, gamma = 1: 2 sqrt(log sqrt(32)) = 2 * 1.3163853 = 2.6327706... vacuous.
    const v = maxPoolingBound({ height: 4, width: 4, a: -1, b: 1, gamma: 1 });
    expect(v.value).toBeCloseTo(2 * Math.sqrt(0.5 * Math.log(32)), 12);
    expect(v.vacuous).toBe(true);
  });

  it('inverse forms: smallest gamma for p, feature size for gamma', () => {
    // The cases above, solved back: gamma 0.5 and 2; HW 16 and 8.
    expect(avgPoolingGamma({ height: 4, width: 4, a: -1, b: 1, p: 2 * Math.exp(-2) })).toBeCloseTo(0.5, 12);
    expect(maxPoolingGamma({ height: 2, width: 4, a: 0, b: 1, p: 0.5887050112577373 })).toBeCloseTo(2, 12);
    expect(avgPoolingFeatureSize({ a: -1, b: 1, gamma: 0.5, p: 2 * Math.exp(-2) })).toBeCloseTo(16, 10);
    expect(maxPoolingFeatureSize({ a: 0, b: 1, gamma: 2, p: 0.5887050112577373 })).toBeCloseTo(8, 10);
  });

  it('the average bound falls and the max bound rises with HW (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 0.001, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        (a, range, gamma, side, grow) => {
          const small = { height: side, width: side, a, b: a + range, gamma };
          const large = { ...small, height: side + grow };
          expect(avgPoolingBound(large).value).toBeLessThanOrEqual(avgPoolingBound(small).value);
          expect(maxPoolingBound(large).value).toBeGreaterThan(maxPoolingBound(small).value);
        },
      ),
      { numRuns: 200, seed: 6 },
    );
  });

  it('validates its inputs, naming them', () => {
    expect(() => avgPoolingBound({ height: 4, width: 4, a: 1, b: 1, gamma: 1 })).toThrow(/a = 1, b = 1: need finite numbers with b > a/);
    expect(() => maxPoolingBound({ height: 4, width: 4, a: 0, b: 1, gamma: 0 })).toThrow(/gamma = 0: must be a finite number > 0/);
    expect(() => avgPoolingBound({ height: 2.5, width: 4, a: 0, b: 1, gamma: 1 })).toThrow(/height = 2.5: must be a positive integer/);
    expect(() => avgPoolingGamma({ height: 4, width: 4, a: 0, b: 1, p: 0 })).toThrow(/p = 0: must satisfy 0 < p <= 1/);
    expect(() => maxPoolingFeatureSize({ a: 0, b: 1, gamma: 1, p: 1.5 })).toThrow(/p = 1.5/);
  });

  it('compareStrides: the paper\'s ResNet18 configurations', () => {
    const rows = compareStrides((strides) => resnet18({ strides, width: 1 / 16 }), ['1-2-2-2', '1-1-2-2'], { a: -1, b: 1, gamma: 0.2 });
    expect(rows.map((r) => [r.strides, r.height, r.width])).toEqual([['1-2-2-2', 4, 4], ['1-1-2-2', 8, 8]]);
    expect(rows[1]!.avgPooling.value).toBeLessThan(rows[0]!.avgPooling.value);
    expect(rows[1]!.maxPooling.value).toBeGreaterThan(rows[0]!.maxPooling.value);
  });
});

describe('the disturbance experiment (seeded)', () => {
  it('reproduces the paper\'s direction: average pooling shrinks the disturbance as the map grows, max pooling grows it', () => {
    const before = tf.memory().numTensors;
    const rows = disturbanceExperiment({ sizes: [4, 8, 16, 32], samples: 200, seed: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => r.size)).toEqual([4, 8, 16, 32]);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.avgPool.mean).toBeLessThan(rows[i - 1]!.avgPool.mean);
      expect(rows[i]!.maxPool.mean).toBeGreaterThan(rows[i - 1]!.maxPool.mean);
    }
    for (const row of rows) {
      expect(row.layers.length).toBe(3);
      // Pooling never increases the l-infinity disturbance of the last layer.
      expect(row.avgPool.max).toBeLessThanOrEqual(row.layers[2]!.max + 1e-6);
      expect(row.maxPool.max).toBeLessThanOrEqual(row.layers[2]!.max + 1e-6);
      expect(row.assumptions.b).toBeGreaterThan(row.assumptions.a);
      expect(row.assumptions.hwOverRangeSquared).toBeCloseTo((row.size * row.size) / (row.assumptions.b - row.assumptions.a) ** 2, 6);
    }
    // Remark 3: HW / (b - a)^2 grows with the map here, which is what makes larger maps help.
    expect(rows[3]!.assumptions.hwOverRangeSquared).toBeGreaterThan(rows[0]!.assumptions.hwOverRangeSquared);
  });

  it('the linear network with Xavier init shows the same direction; bad options are refused', () => {
    const rows = disturbanceExperiment({ sizes: [4, 16], samples: 50, init: 'xavierUniform', relu: false, seed: 1 });
    expect(rows[1]!.avgPool.mean).toBeLessThan(rows[0]!.avgPool.mean);
    expect(rows[1]!.maxPool.mean).toBeGreaterThan(rows[0]!.maxPool.mean);
    expect(() => disturbanceExperiment({ init: 'he' as never })).toThrow(/init = 'he': accepted values are 'default', 'normal', 'uniform', 'xavierNormal', 'xavierUniform'/);
    expect(() => disturbanceExperiment({ samples: 0 })).toThrow(/samples = 0: must be an integer >= 1/);
  });
});

describe('receptive field (field += (k - 1) * jump; jump *= stride)', () => {
  // By hand, main-path convolutions of ResNet18 (stem, then two 3x3 per block):
  //   1-2-2-2: 3 | 5 7 9 11 | 13 (j 2) 17 21 25 | 29 (j 4) 37 45 53 | 61 (j 8) 77 93 109
  //   1-1-2-2: 3 | 5 7 9 11 | 13 15 17 19 | 21 (j 2) 25 29 33 | 37 (j 4) 45 53 61
  //   1-1-1-2: 3 | 5 7 9 11 | 13 15 17 19 | 21 23 25 27 | 29 (j 2) 33 37 41
  it.each([
    ['1-2-2-2', [3, 5, 7, 9, 11, 13, 17, 21, 25, 29, 37, 45, 53, 61, 77, 93, 109], 11, 'layer3.0.conv2'],
    ['1-1-2-2', [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 25, 29, 33, 37, 45, 53, 61], 13, 'layer3.1.conv2'],
    ['1-1-1-2', [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 33, 37, 41], 15, 'layer4.0.conv2'],
  ] as const)('ResNet18 %s', (strides, fields, covers, name) => {
    const model = resnet18({ strides, width: 1 / 16 });
    const rf = receptiveField(model);
    expect(rf.inputSize).toBe(32);
    expect(rf.layers.filter((e) => e.onMainPath).map((e) => e.field)).toEqual(fields);
    expect(rf.coversInputAt).toMatchObject({ index: covers, name });
    // The 1x1 shortcut projections are side branches.
    expect(rf.layers.filter((e) => !e.onMainPath).map((e) => e.name)).toEqual(['layer2.0.downsample.0', 'layer3.0.downsample.0', 'layer4.0.downsample.0']);
    model.dispose();
  });

  it('input upsampling halves the jump: fields grow by half as fast in input pixels', () => {
    const model = resnet18({ strides: '1-2-2-2', width: 1 / 16, upsample: { scale: 2 } });
    expect(receptiveField(model).layers.filter((e) => e.onMainPath).slice(0, 7).map((e) => e.field)).toEqual([2, 3, 4, 5, 6, 7, 9]);
    model.dispose();
  });
});

describe('modelCost', () => {
  // Multiply-accumulates of conv and linear layers for one 32x32 image; the same counts from PyTorch
  // forward hooks on the reference definition: scripts/torch_cost.py (PyTorch 1.13).
  it.each([
    ['1-2-2-2', undefined, 555_422_720],
    ['1-1-2-2', undefined, 1_763_382_272],
    ['1-1-1-2', undefined, 4_984_607_744],
    ['1-2-2-2', { scale: 2 }, 2_221_675_520],
  ] as const)('ResNet18 %s upsample %j: %i MACs', (strides, upsample, macs) => {
    const model = resnet18({ strides, ...(upsample ? { upsample } : {}) });
    const before = tf.memory().numTensors;
    const cost = modelCost(model);
    expect(tf.memory().numTensors).toBe(before);
    expect(cost.macs).toBe(macs);
    expect(cost.parameterBytes).toBe(4 * model.countParams());
    // Hand check of the stem: 3x3x3x64 per output pixel, 32x32 outputs = 1,769,472 MACs.
    expect(cost.layers.find((l) => l.name === 'conv1')!.macs).toBe(upsample ? 4 * 1_769_472 : 1_769_472);
    model.dispose();
  });

  it('activation memory: the input and every layer output as float32', () => {
    const small = resnet18({ strides: '1-2-2-2', width: 1 / 16 });
    const cost = modelCost(small);
    expect(cost.activationBytes).toBe(4 * cost.layers.reduce((s, l) => s + l.outputElements, 0));
    expect(cost.layers[0]!.outputElements).toBe(32 * 32 * 3);
    small.dispose();
  });
});

describe('charts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmc-chart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('draws one polyline per series with one vertex per point, axes and legend', async () => {
    const spec = {
      title: 'Proposition 1',
      xLabel: 'HW',
      yLabel: 'bound',
      series: [
        { name: 'avg', points: [[1, 0.5], [4, 0.2], [16, 0.01]] as Array<[number, number]> },
        { name: 'max <&>', points: [[1, 0.1], [16, 0.4]] as Array<[number, number]> },
      ],
      logY: true,
      referenceY: { value: 1, label: 'p = 1' },
    };
    const svg = lineChartSvg(spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const polylines = [...svg.matchAll(/<polyline data-series="([^"]*)"[^>]*points="([^"]*)"/g)];
    expect(polylines.map((m) => m[1])).toEqual(['avg', 'max &lt;&amp;&gt;']);
    expect(polylines.map((m) => m[2]!.split(' ').length)).toEqual([3, 2]);
    // x grows left to right; on the log axis the smaller y is lower (larger SVG y).
    const avg = polylines[0]![2]!.split(' ').map((p) => p.split(',').map(Number));
    expect(avg[1]![0]).toBeGreaterThan(avg[0]![0]!);
    expect(avg[2]![1]).toBeGreaterThan(avg[0]![1]!);
    const files = await saveChart(join(dir, 'bounds'), spec);
    expect(readFileSync(files.svg, 'utf8')).toBe(svg);
    expect(JSON.parse(readFileSync(files.json, 'utf8')).series[0].points).toEqual([[1, 0.5], [4, 0.2], [16, 0.01]]);
    expect(() => lineChartSvg({ ...spec, series: [{ name: 'bad', points: [[1, 0]] }] })).toThrow(/logY needs y > 0/);
    expect(() => lineChartSvg({ ...spec, series: [] })).toThrow(/no points/);
  });
});
