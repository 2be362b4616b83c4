/**
 * Aggregation of a sweep: per cell of its table (row x column x metric), the mean, standard deviation
 * and count over seeds of the finished runs, with the paper's ↑/↓ marks computed on the means against
 * the grid's first column. A cell with no finished run is missing, never zero.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { saveChart } from '../../analysis/chart.js';
import { writeAtomic } from '../file-system.js';
import type { Metric, SweepGrid, SweepRun } from './grid.js';
import { expandGrid } from './grid.js';
import type { ResultsStore, RunResult } from './store.js';

/** Statistics of one cell over seeds (accuracies in %). */
export interface CellStats {
  /** Mean over the seeds that finished. */
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator), null for a single seed. */
  std: number | null;
  /** Number of seeds that finished. */
  n: number;
  /** Those seeds, in grid order. */
  seeds: number[];
}

/** A sweep's table: rows (labels) x columns (e.g. strides) x metrics, each cell with its statistics or null. */
export interface SweepTable {
  /** The grid's name. */
  name: string;
  /** The grid's title (default: its name). */
  title: string;
  /** Column labels; the first is the one the others are compared with (↑/↓). */
  columns: string[];
  /** The metrics of each cell, in column order. */
  metrics: Metric[];
  /** The rows, in grid order. */
  rows: Array<{
    /** Row label. */
    label: string;
    /** Per column label, per metric: the statistics over seeds, or null when no seed finished. */
    cells: Record<string, Partial<Record<Metric, CellStats | null>>>;
  }>;
  /** Runs of the grid and how many have finished. */
  runs: {
    /** Runs of the grid. */
    total: number;
    /** Runs with a result in the store. */
    finished: number;
  };
  /** Lines printed under the table. */
  notes: string[];
}

/** Mean, sample std and count of `values` (non-empty). */
export function cellStats(values: number[], seeds: number[]): CellStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n, seeds };
}

/** The table of `grid` from the results in hand (`results` by run id; absent runs are missing). */
export function aggregate(grid: SweepGrid, runs: SweepRun[], results: ReadonlyMap<string, RunResult>): SweepTable {
  const columns: string[] = [];
  const rowLabels: string[] = [];
  const groups = new Map<string, Array<{ seed: number; metrics: RunResult['metrics'] | null }>>();
  const add = (row: string, column: string, seed: number, metrics: RunResult['metrics'] | null) => {
    if (!rowLabels.includes(row)) rowLabels.push(row);
    if (!columns.includes(column)) columns.push(column);
    const key = `${row}\n${column}`;
    groups.set(key, [...(groups.get(key) ?? []), { seed, metrics }]);
  };
  for (const run of runs) {
    const result = results.get(run.id) ?? null;
    add(run.row, run.column, run.config.seed, result?.metrics ?? null);
    if (run.config.validate) add(`${run.row} ‡`, run.column, run.config.seed, result?.best?.metrics ?? null);
  }
  const rows = rowLabels.map((label) => {
    const cells: SweepTable['rows'][number]['cells'] = {};
    for (const column of columns) {
      const group = (groups.get(`${label}\n${column}`) ?? []).filter((g) => g.metrics !== null);
      cells[column] = {};
      for (const metric of grid.metrics) {
        const found = group.filter((g) => g.metrics![metric] !== undefined);
        cells[column]![metric] = found.length ? cellStats(found.map((g) => g.metrics![metric]!), found.map((g) => g.seed)) : null;
      }
    }
    return { label, cells };
  });
  return {
    name: grid.name,
    title: grid.title ?? grid.name,
    columns,
    metrics: grid.metrics,
    rows,
    runs: { total: runs.length, finished: runs.filter((r) => results.has(r.id)).length },
    notes: grid.notes ?? [],
  };
}

/** ↑ when `value` is above `base`, ↓ below, = equal. */
export function arrow(base: number, value: number): string {
  return value > base ? '↑' : value < base ? '↓' : '=';
}

/** A cell as text: `mean ± std (n=k)` with two decimals, `missing` without results. */
export function cellText(cell: CellStats | null | undefined): string {
  if (!cell) return 'missing';
  return `${cell.mean.toFixed(2)}${cell.std === null ? '' : ` ± ${cell.std.toFixed(2)}`} (n=${cell.n})`;
}

/** The table as Markdown: a column per metric and column label; non-first columns carry ↑/↓ against the first. */
export function sweepTableMarkdown(table: SweepTable): string {
  const header = ['', ...table.metrics.flatMap((m) => table.columns.map((c, i) => `${m} ${i === 0 ? c : `<u>${c}</u>`}`))];
  const lines = [`**${table.title}**`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of table.rows) {
    const cells = table.metrics.flatMap((m) => table.columns.map((c, i) => {
      const cell = row.cells[c]?.[m];
      const base = row.cells[table.columns[0]!]?.[m];
      return `${cellText(cell)}${i > 0 && cell && base ? ` ${arrow(base.mean, cell.mean)}` : ''}`;
    }));
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  const notes = [...table.notes, `mean ± sample standard deviation over seeds (n = seeds finished); ${table.runs.finished} of ${table.runs.total} runs finished; missing: no finished run`];
  lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** Reads the results of `runs` present in `store`. */
export async function readResults(store: ResultsStore, runs: SweepRun[]): Promise<Map<string, RunResult>> {
  const results = new Map<string, RunResult>();
  for (const run of runs) {
    const result = await store.readResult(run.id);
    if (result) results.set(run.id, result);
  }
  return results;
}

/** What {@link collectSweep} returns. */
export interface CollectedSweep {
  /** The table with every cell's statistics. */
  table: SweepTable;
  /** The table as Markdown (what `<name>.md` holds). */
  markdown: string;
  /** The files written. */
  files: string[];
}

/** The files {@link collectSweep} writes for a table named `name` in `outDir`. */
export function collectedFiles(name: string, outDir: string): { markdown: string; json: string; plot: string; plotSvg: string; plotJson: string } {
  const plot = join(outDir, `${name}-plot`);
  return { markdown: join(outDir, `${name}.md`), json: join(outDir, `${name}.json`), plot, plotSvg: `${plot}.svg`, plotJson: `${plot}.json` };
}

/**
 * Collects `grid` from `store` into `outDir`: `<name>.md`, `<name>.json` (the table with every cell's
 * statistics) and `<name>-plot.svg` (+ its JSON: one line per row and column over the metrics, at the
 * means). Returns the table and the files written.
 */
export async function collectSweep(grid: SweepGrid, store: ResultsStore, outDir: string): Promise<CollectedSweep> {
  const runs = expandGrid(grid);
  const table = aggregate(grid, runs, await readResults(store, runs));
  const markdown = sweepTableMarkdown(table);
  await mkdir(outDir, { recursive: true });
  const { markdown: md, json, plot } = collectedFiles(table.name, outDir);
  await writeAtomic(md, markdown);
  await writeAtomic(json, `${JSON.stringify({ ...table, grid, results: store.location }, null, 1)}\n`);
  const series = table.rows.flatMap((row) => table.columns.map((c) => ({
    name: `${row.label} ${c}`,
    points: table.metrics.flatMap((m, i) => (row.cells[c]?.[m] ? [[i, row.cells[c]![m]!.mean] as const] : [])),
  }))).filter((s) => s.points.length > 0);
  const files = [md, json];
  if (series.length) {
    const chart = await saveChart(plot, {
      title: table.title.length > 90 ? `${table.title.slice(0, 87)}...` : table.title,
      xLabel: `metric (${table.metrics.map((m, i) => `${i} ${m}`).join(', ')})`,
      yLabel: 'accuracy (%), mean over seeds',
      series,
    });
    files.push(chart.svg, chart.json);
  }
  return { table, markdown, files };
}
