/**
 * The table of the recorded multi-seed Table III run (docs/experiments.md): aggregates the 12 runs
 * listed in docs/paper-runs/table3-w8/runs.json with the library's own aggregate() (mean, sample std,
 * n, ↑/↓ on the means), exactly as `rmc-robust sweep collect` does from a results store. The run was
 * made in several sittings and the store of the first four was lost with the machine it was on, so
 * `collect` cannot see all 12 at once: runs with a `result` file are read from it (copied from the
 * store of the last sitting), the others carry their metrics as recorded when they finished.
 * Writes table3-w8.md and table3-w8-table.json beside runs.json.
 *
 *   npx tsx scripts/table3-w8-table.ts
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregate, checkGrid, expandGrid, sweepTableMarkdown, type RunMetrics, type RunResult } from '../src/sweep.js';

interface RecordedRun {
  row: string;
  column: string;
  seed: number;
  /** Metrics as recorded (runs without a result file). */
  metrics?: RunMetrics;
  /** A result.json from the results store, relative to runs.json. */
  result?: string;
  source: string;
}

const dir = 'docs/paper-runs/table3-w8';
const grid = checkGrid(JSON.parse(readFileSync(join(dir, 'table3-w8.json'), 'utf8')));
const recorded = (JSON.parse(readFileSync(join(dir, 'runs.json'), 'utf8')) as { runs: RecordedRun[] }).runs;
const runs = expandGrid(grid, '0.1.0'); // the version the runs were made with (part of their ids)
const results = new Map<string, RunResult>();
for (const r of recorded) {
  const run = runs.find((x) => x.row === r.row && x.column === r.column && x.config.seed === r.seed);
  if (!run) throw new Error(`runs.json: ${r.row} ${r.column} seed ${r.seed} is not a run of the grid`);
  if (results.has(run.id)) throw new Error(`runs.json: ${r.row} ${r.column} seed ${r.seed} twice`);
  if (r.result) {
    const result = JSON.parse(readFileSync(join(dir, r.result), 'utf8')) as RunResult;
    if (result.id !== run.id) throw new Error(`${r.result}: run ${result.id}, expected ${run.id} (${r.row} ${r.column} seed ${r.seed})`);
    results.set(run.id, result);
  } else if (r.metrics) {
    // aggregate() reads only the metrics (and `best`, null here) of a result.
    results.set(run.id, { metrics: r.metrics, best: null } as RunResult);
  } else throw new Error(`runs.json: ${r.row} ${r.column} seed ${r.seed} has neither metrics nor result`);
}
const table = aggregate(grid, runs, results);
await writeFile(join(dir, 'table3-w8.md'), sweepTableMarkdown(table));
await writeFile(join(dir, 'table3-w8-table.json'), `${JSON.stringify(table, null, 1)}\n`);
process.stdout.write(sweepTableMarkdown(table));
