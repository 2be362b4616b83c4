/**
 * The tables of the recorded multi-seed Table III run (docs/experiments.md), made by the library's own
 * `collectSweep` (what `rmc-robust sweep collect` runs: mean, sample std and n per cell, ↑/↓ on the
 * means, Markdown, JSON and an SVG plot) from the runs listed in docs/paper-runs/table3-w8/runs.json.
 * The run was made in several sittings and the results store of the first four was lost with the
 * machine it was on, so no one store holds every run: runs.json is served here as a read-only
 * ResultsStore. A run with a `result` is read from that file (a result.json copied from the last
 * sitting's store); the others carry their metrics as recorded when they finished.
 * Writes table3-w8.md, table3-w8.json and table3-w8-plot.{svg,json} to docs/paper-runs/table3-w8/tables/.
 *
 *   npx tsx scripts/table3-w8-table.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectSweep, expandGrid, readGridFile, runId, type ResultsStore, type RunMetrics, type RunResult } from '../src/sweep.js';

interface RecordedRun {
  row: string;
  column: string;
  seed: number;
  /** Metrics as recorded (runs without a result file). */
  metrics?: RunMetrics;
  /** A result.json from a results store, relative to runs.json. */
  result?: string;
  /** Where the numbers come from. */
  source: string;
}

const dir = 'docs/paper-runs/table3-w8';
const grid = readGridFile(join(dir, 'table3-w8.json'));
const recorded = (JSON.parse(readFileSync(join(dir, 'runs.json'), 'utf8')) as { runs: RecordedRun[] }).runs;
// The ids collectSweep looks up: the grid's runs under the installed version.
const runs = expandGrid(grid);
const results = new Map<string, RunResult>();
for (const r of recorded) {
  const what = `runs.json: ${r.row} ${r.column} seed ${r.seed}`;
  const run = runs.find((x) => x.row === r.row && x.column === r.column && x.config.seed === r.seed);
  if (!run) throw new Error(`${what} is not a run of the grid`);
  if (results.has(run.id)) throw new Error(`${what} is listed twice`);
  if (r.result) {
    const result = JSON.parse(readFileSync(join(dir, r.result), 'utf8')) as RunResult;
    // The same configuration, made with the version in the file (the runs were made with 0.1.0).
    const expected = runId({ ...run.config, version: result.config.version });
    if (result.id !== expected) throw new Error(`${what}: ${r.result} is run ${result.id}, expected ${expected}`);
    results.set(run.id, result);
  } else if (r.metrics) {
    // collect reads only a result's metrics (and `best`, for grids that validate: not this one).
    results.set(run.id, { id: run.id, config: run.config, metrics: r.metrics, best: null } as RunResult);
  } else throw new Error(`${what} has neither metrics nor result`);
}
const readOnly = (): never => { throw new Error(`${dir}/runs.json is a record, not a store runs write to`); };
const store: ResultsStore = {
  location: join(dir, 'runs.json'),
  readResult: async (id) => results.get(id) ?? null,
  writeResult: async () => readOnly(),
  saveModel: async () => readOnly(),
  checkpoints: () => readOnly(),
};
const { markdown } = await collectSweep(grid, store, join(dir, 'tables'));
process.stdout.write(markdown);
