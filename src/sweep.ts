/**
 * `rmc-robust/sweep` (Node.js only): sweeps of training runs, from a declarative grid to tables of
 * mean ± std over seeds. A grid ({@link SweepGrid}: networks x defenses x seeds at a scale, or one of
 * the paper's tables via {@link paperGrid}) expands into runs identified by a hash of their resolved
 * configuration ({@link expandGrid}, {@link runId}); an executor runs them, in this process
 * ({@link embeddedExecutor}) or as BullMQ jobs on Redis taken by workers on many machines
 * ({@link redisExecutor}, {@link startWorker}); each run's result, checkpoints and final model go to a
 * results store ({@link directoryStore}, or your own {@link ResultsStore}); {@link collectSweep} writes
 * the tables (Markdown, JSON, SVG). The CLI's `rmc-robust sweep` and `rmc-robust worker` are built on
 * this API; docs/sweeps.md has the guide.
 *
 * ```ts
 * import { paperGrid, embeddedExecutor, directoryStore, collectSweep } from 'rmc-robust/sweep';
 * const grid = paperGrid('table3', { scale: 'cpu', seeds: [0, 1, 2] });
 * const store = directoryStore('results/table3');
 * await embeddedExecutor(store).submit(grid);
 * const { markdown } = await collectSweep(grid, store, 'results/table3/tables');
 * ```
 *
 * @packageDocumentation
 * @module rmc-robust/sweep
 */
import './node/register.js';

export { SCALES, SCALE_SETTINGS, type Scale, type ScaleSettings } from './node/sweep/scale.js';
export {
  METRICS,
  SWEEP_ARCHITECTURES,
  checkGrid,
  expandGrid,
  gridSettings,
  readGridFile,
  runId,
  type GridModel,
  type Metric,
  type RunConfig,
  type SweepArchitecture,
  type SweepGrid,
  type SweepRun,
} from './node/sweep/grid.js';
export { PAPER_GRIDS, paperGrid, type PaperGridName, type PaperGridOptions } from './node/sweep/paper-grids.js';
export { directoryStore, type ResultsStore, type RunMetrics, type RunResult } from './node/sweep/store.js';
export { RunConfigError, executeRun, type ExecuteRunOptions } from './node/sweep/run.js';
export {
  embeddedExecutor,
  type EmbeddedExecutorOptions,
  type RunState,
  type SubmitOptions,
  type SubmitSummary,
  type SweepExecutor,
  type SweepStatus,
} from './node/sweep/executor.js';
export {
  DEFAULT_QUEUE,
  redisExecutor,
  startWorker,
  type RedisExecutorOptions,
  type SweepJobData,
  type SweepWorker,
  type WorkerOptions,
} from './node/sweep/redis.js';
export { aggregate, cellStats, collectSweep, readResults, sweepTableMarkdown, type CellStats, type CollectedSweep, type SweepTable } from './node/sweep/aggregate.js';
