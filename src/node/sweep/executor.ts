/**
 * The executors of a sweep, behind one interface: the embedded one runs the grid in this process
 * (no services); the BullMQ one (./redis.ts) queues it on Redis for workers on many machines.
 */
import { expandGrid, type SweepGrid, type SweepRun } from './grid.js';
import { executeRun, RunConfigError, type ExecuteRunOptions } from './run.js';
import { checkOptionKeys, optionKeys } from '../../attacks/validate.js';
import type { ResultsStore } from './store.js';

/** State of a run in a sweep. */
export type RunState = 'done' | 'running' | 'failed' | 'waiting' | 'not submitted';

/** What {@link SweepExecutor.status} reports. */
export interface SweepStatus {
  /** Runs by state. */
  counts: Record<RunState, number>;
  /** Each run with its state, and the error of a failed one. */
  runs: Array<{
    /** The run's id. */
    id: string;
    /** Its row in the table. */
    row: string;
    /** Its column in the table. */
    column: string;
    /** Its seed. */
    seed: number;
    /** Where it stands. */
    state: RunState;
    /** The error of a failed run. */
    error?: string;
    /** Epochs the run trains. */
    epochs: number;
    /**
     * Epochs a running run has checkpointed, or a waiting one that stopped part-way (it resumes after
     * them); absent when none (and from the embedded executor, which runs in the submitting process).
     */
    checkpointedEpochs?: number;
  }>;
  /** Estimated seconds until the waiting and running runs are done (null: no finished run to time yet). */
  etaSeconds: number | null;
}

/** A run's entry in {@link SweepStatus.runs}: its labels, state, epochs, and what is given of the rest. */
export function runStatus(run: SweepRun, state: RunState, more: { error?: string | undefined; checkpointedEpochs?: number } = {}): SweepStatus['runs'][number] {
  return {
    id: run.id, row: run.row, column: run.column, seed: run.config.seed, state,
    ...(more.error !== undefined ? { error: more.error } : {}),
    epochs: run.config.epochs,
    ...(more.checkpointedEpochs ? { checkpointedEpochs: more.checkpointedEpochs } : {}),
  };
}

/** What {@link SweepExecutor.submit} reports. */
export interface SubmitSummary {
  /** Runs of the grid. */
  total: number;
  /** Runs newly queued (or, embedded, run now). */
  added: number;
  /** Runs already done or already queued: not added again. */
  skipped: number;
  /** Failed runs queued again ({@link SubmitOptions.retryFailed}; Redis). */
  retried: number;
  /**
   * Runs that failed, with their errors: embedded, during this call; Redis, runs whose jobs had failed
   * before and were not retried.
   */
  failed: Array<{
    /** The run's id. */
    id: string;
    /** Its error message. */
    error: string;
  }>;
}

/** Options of {@link SweepExecutor.submit}. */
export interface SubmitOptions {
  /**
   * Queue again the runs whose jobs failed (default false: a failed run stays failed, listed in
   * {@link SubmitSummary.failed}), with their attempts counted from zero; each resumes from its last
   * checkpoint. The embedded executor keeps no failed state between calls: it always runs them again.
   */
  retryFailed?: boolean;
}

/** The option names {@link SweepExecutor.submit} accepts. */
export const SUBMIT_OPTION_KEYS = optionKeys<SubmitOptions>({ retryFailed: true });

/** What every executor's `submit` starts with: its options checked, the grid's runs, an empty summary. */
export function beginSubmit(grid: SweepGrid, submitOptions: SubmitOptions): { runs: SweepRun[]; summary: SubmitSummary } {
  checkOptionKeys(submitOptions, SUBMIT_OPTION_KEYS, 'submit');
  const runs = expandGrid(grid);
  return { runs, summary: { total: runs.length, added: 0, skipped: 0, retried: 0, failed: [] } };
}

/** Runs a grid: in this process, or by queueing it for workers. */
export interface SweepExecutor {
  /** Submits the grid's runs that are not done (nor queued); the embedded executor runs them before returning. */
  submit(grid: SweepGrid, options?: SubmitOptions): Promise<SubmitSummary>;
  /** Where each run of the grid stands. */
  status(grid: SweepGrid): Promise<SweepStatus>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Counts of each state, all present. */
export function countStates(runs: SweepStatus['runs']): Record<RunState, number> {
  const counts: Record<RunState, number> = { done: 0, running: 0, failed: 0, waiting: 0, 'not submitted': 0 };
  for (const r of runs) counts[r.state]++;
  return counts;
}

/** Options of {@link embeddedExecutor}. */
export interface EmbeddedExecutorOptions {
  /** Called when a run starts, and after each of its epochs. */
  onRun?: (run: SweepRun, event: { kind: 'start' } | { kind: 'epoch'; epoch: number; loss: number } | { kind: 'done' } | { kind: 'failed'; error: string }) => void | Promise<void>;
  /** Stop at the first failed run instead of going on with the rest (default false). */
  stopOnFailure?: boolean;
}

/**
 * The embedded executor: runs the grid's unfinished runs one after the other in this process, each
 * resuming from its checkpoint in `store`, so an interrupted sweep continues where it stopped. A failed
 * run is reported and the others go on.
 */
export function embeddedExecutor(store: ResultsStore, options: EmbeddedExecutorOptions = {}): SweepExecutor {
  const failures = new Map<string, string>();
  return {
    async submit(grid, submitOptions = {}) {
      const { runs, summary } = beginSubmit(grid, submitOptions);
      for (const run of runs) {
        if (await store.readResult(run.id)) {
          summary.skipped++;
          continue;
        }
        summary.added++;
        await options.onRun?.(run, { kind: 'start' });
        const onEpoch: ExecuteRunOptions['onEpoch'] = (e) => options.onRun?.(run, { kind: 'epoch', epoch: e.epoch, loss: e.loss });
        try {
          await executeRun(run, store, { onEpoch });
          failures.delete(run.id);
          await options.onRun?.(run, { kind: 'done' });
        } catch (e) {
          const error = (e as Error).message;
          failures.set(run.id, error);
          summary.failed.push({ id: run.id, error });
          await options.onRun?.(run, { kind: 'failed', error });
          if (options.stopOnFailure || !(e instanceof RunConfigError || e instanceof RangeError)) throw e;
        }
      }
      return summary;
    },
    async status(grid) {
      const runs = await Promise.all(expandGrid(grid).map(async (run) => {
        const done = await store.readResult(run.id);
        const error = failures.get(run.id);
        const state: RunState = done ? 'done' : error !== undefined ? 'failed' : 'not submitted';
        return runStatus(run, state, { error: done ? undefined : error });
      }));
      return { counts: countStates(runs), runs, etaSeconds: null };
    },
    async close() {},
  };
}
