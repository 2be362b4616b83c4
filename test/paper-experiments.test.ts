// Every paper experiment (examples/paper) end to end at the `smoke` scale: a few images, tiny networks,
// one-step attacks. Checks that each writes its table (Markdown + JSON, laid out like the paper's) and
// its plots (SVG + JSON), well formed, and leaks no tensors.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPERIMENTS, Experiment, parseArgs, tableMarkdown } from '../examples/paper/index.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-paper-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Rows each table has at the smoke scale, and which of its columns hold percentages. */
// Tables III-VI are sweeps (src/node/sweep): rows of cells with mean/std/n per column and metric.
const EXPECTED: Record<string, { table: string; rows: number; percentColumns: number[]; charts: string[]; sweep?: boolean }> = {
  table2: { table: 'table2', rows: 4, percentColumns: [1, 2, 3, 4, 5, 6], charts: ['table2-unchanged'] },
  table3: { table: 'table3', rows: 2, percentColumns: [], charts: ['table3-plot'], sweep: true },
  table4: { table: 'table4', rows: 4, percentColumns: [], charts: ['table4-plot'], sweep: true },
  table5: { table: 'table5', rows: 3, percentColumns: [], charts: ['table5-plot'], sweep: true },
  table6: { table: 'table6', rows: 3, percentColumns: [], charts: ['table6-plot'], sweep: true },
  fig2: { table: 'fig2', rows: 2, percentColumns: [], charts: ['fig2a-average-pooling', 'fig2b-max-pooling'] },
  fig5: { table: 'fig5', rows: 4, percentColumns: [1, 2], charts: ['fig5a-upsampling', 'fig5b-strides'] },
  fig6: { table: 'fig6', rows: 4, percentColumns: [], charts: ['fig6-receptive-field'] },
  fig7: { table: 'fig7', rows: 5, percentColumns: [], charts: ['fig7-macs', 'fig7-memory'] },
};

describe('paper experiments at the smoke scale', () => {
  it('covers every experiment', () => {
    expect(EXPERIMENTS.map((e) => e.id).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(EXPERIMENTS.map((e) => [e.id, e] as const))('%s writes its table and plots', async (id, definition) => {
    const expected = EXPECTED[id]!;
    const out = join(work, id);
    const before = tf.memory().numTensors;
    const result = await Experiment.execute(definition, { scale: 'smoke', out, progress: false });
    expect(tf.memory().numTensors).toBe(before);
    const names = [`${expected.table}.md`, `${expected.table}.json`, ...expected.charts.flatMap((c) => [`${c}.svg`, `${c}.json`])];
    expect(result.files.map((f) => f.slice(out.length + 1)).sort()).toEqual(names.sort());

    if (expected.sweep) {
      const sweep = JSON.parse(readFileSync(join(out, `${expected.table}.json`), 'utf8')) as { grid: { scale: string }; columns: string[]; metrics: string[]; rows: Array<{ cells: Record<string, Record<string, { mean: number; n: number } | null>> }> };
      expect(sweep.grid.scale).toBe('smoke');
      expect(sweep.rows).toHaveLength(expected.rows);
      for (const row of sweep.rows) {
        for (const c of sweep.columns) {
          for (const m of sweep.metrics) {
            expect(row.cells[c]![m]!.n).toBe(1);
            expect(row.cells[c]![m]!.mean).toBeGreaterThanOrEqual(0);
            expect(row.cells[c]![m]!.mean).toBeLessThanOrEqual(100);
          }
        }
      }
      const lines = readFileSync(join(out, `${expected.table}.md`), 'utf8').split('\n').filter((l) => l.startsWith('|'));
      expect(lines).toHaveLength(expected.rows + 2);
      return;
    }
    const table = JSON.parse(readFileSync(join(out, `${expected.table}.json`), 'utf8')) as { columns: string[]; rows: Array<Array<string | number>>; scale: string; notes: string[] };
    expect(table.scale).toBe('smoke');
    expect(table.rows).toHaveLength(expected.rows);
    for (const row of table.rows) {
      expect(row).toHaveLength(table.columns.length);
      for (const c of expected.percentColumns) {
        expect(typeof row[c]).toBe('number');
        expect(row[c]).toBeGreaterThanOrEqual(0);
        expect(row[c]).toBeLessThanOrEqual(100);
      }
    }
    // The Markdown is the same table: a header, a separator and one line per row.
    const md = readFileSync(join(out, `${expected.table}.md`), 'utf8');
    const lines = md.split('\n').filter((l) => l.startsWith('|'));
    expect(lines).toHaveLength(expected.rows + 2);
    expect(lines[0]).toBe(`| ${table.columns.join(' | ')} |`);
    expect(md).toBe(tableMarkdown({ title: md.split('\n')[0]!.slice(2, -2), columns: table.columns, rows: table.rows, notes: table.notes }));

    for (const chart of expected.charts) {
      const svg = readFileSync(join(out, `${chart}.svg`), 'utf8');
      const spec = JSON.parse(readFileSync(join(out, `${chart}.json`), 'utf8')) as { series: Array<{ name: string; points: number[][] }> };
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(spec.series.length).toBeGreaterThan(0);
      expect((svg.match(/<polyline /g) ?? []).length).toBe(spec.series.length);
      for (const s of spec.series) for (const p of s.points) expect(p.every(Number.isFinite)).toBe(true);
    }
    const log = readFileSync(join(out, 'log.txt'), 'utf8');
    expect(log).toMatch(/done in \d+ s/);
  });

  it('table II: eps 0 is 100% and the 1x and 1-2-2-2 rows are one network', () => {
    const table = JSON.parse(readFileSync(join(work, 'table2', 'table2.json'), 'utf8')) as { rows: Array<Array<string | number>> };
    for (const row of table.rows) expect(row[1]).toBe(100);
    const one = table.rows.find((r) => r[0] === 'ResNet18 (1×)')!;
    const same = table.rows.find((r) => r[0] === 'ResNet18 (1-2-2-2)')!;
    expect(same.slice(1)).toEqual(one.slice(1));
  });

  it('fig. 6 and 7 match the analysis: 1-1-1-2 covers the image later; upsampling costs more than strides', () => {
    const fig6 = JSON.parse(readFileSync(join(work, 'fig6', 'fig6.json'), 'utf8')) as { data: Array<{ strides: string; coversAt: number }> };
    const at = Object.fromEntries(fig6.data.map((d) => [d.strides, d.coversAt]));
    expect(at['1-1-1-2']).toBeGreaterThan(at['1-2-2-2']!);
    expect(at['2-2-2-2']).toBeLessThanOrEqual(at['1-2-2-2']!);
    const fig7 = JSON.parse(readFileSync(join(work, 'fig7', 'fig7.json'), 'utf8')) as { data: Array<{ label: string; gmacs: number }> };
    const macs = Object.fromEntries(fig7.data.map((d) => [d.label, d.gmacs]));
    expect(macs['Upsample 2×']).toBeGreaterThan(macs['1-1-2-2']!);
    expect(macs['1-1-2-2']).toBeGreaterThan(macs['1× / 1-2-2-2']!);
  });

  it('parses its options and rejects bad ones by name', () => {
    expect(parseArgs(['--scale', 'full', '--data', 'cifar10:x', '--out', 'o', '--seed', '3'])).toEqual({ scale: 'full', data: 'cifar10:x', out: 'o', seed: 3 });
    expect(parseArgs([])).toEqual({ scale: 'cpu' });
    expect(() => parseArgs(['--scale', 'gpu'])).toThrow(/--scale 'gpu': accepted values are full, cpu, smoke/);
    expect(() => parseArgs(['--seed', '-1'])).toThrow(/--seed -1: must be an integer >= 0/);
    expect(() => parseArgs(['--out'])).toThrow(/--out: expects a value/);
    expect(() => parseArgs(['--epochs', '3'])).toThrow(/unknown option '--epochs'/);
  });
});
