/**
 * The BullMQ executor: a sweep's runs as jobs on a Redis queue (job id = run id, so a run is queued
 * once however often its grid is submitted), taken by `rmc-robust worker` processes on any number of
 * machines. Retries, backoff, stalled-job detection (a worker that died: its job goes back to the
 * queue once its lock expires) and locking are BullMQ's. Each job runs in a sandboxed child process
 * (BullMQ's), so the worker keeps renewing the job's lock while training blocks the child's thread.
 *
 * bullmq and ioredis are loaded only when a sweep uses Redis.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Job, Queue, Worker } from 'bullmq';
import { expandGrid, type RunConfig, type SweepGrid } from './grid.js';
import { beginSubmit, countStates, runStatus, type RunState, type SweepExecutor, type SweepStatus } from './executor.js';
import { packageFile } from '../package-path.js';
import { estimateEtaSeconds, type FinishedRunTiming } from './eta.js';
import type { ResultsStore } from './store.js';

/** The default queue name. */
export const DEFAULT_QUEUE = 'rmc-sweep';

/** What a job carries: the run and the results store its worker writes to. */
export interface SweepJobData {
  /** The run's id (the job's id too). */
  id: string;
  /** The run's configuration. */
  config: RunConfig;
  /** The results store's directory, as the submitting machine sees it (a worker may override it). */
  results: string;
}

/** Checks a Redis URL (`redis://host:port[/db]`, `rediss://` for TLS). */
export function checkRedisUrl(url: string, option = 'redis'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`${option} '${url}': expected a URL such as redis://127.0.0.1:6379`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new RangeError(`${option} '${url}': the scheme must be redis:// or rediss://`);
  return url;
}

function queueName(name: string): string {
  if (!/^[\w-]{1,64}$/.test(name)) throw new RangeError(`queue '${name}': expected 1-64 letters, digits, - or _`);
  return name;
}

/** Connects once to `url` (5 s, no retries) so that an unreachable Redis is one clear error, not a hang. */
export async function pingRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new Error(`cannot reach Redis at ${url}: ${(e as Error).message || String(e)}`);
  } finally {
    client.disconnect();
  }
}

/** BullMQ connection options for `url` (workers need `maxRetriesPerRequest: null`). */
function connection(url: string) {
  return { url, maxRetriesPerRequest: null };
}

/** Options of {@link redisExecutor}. */
export interface RedisExecutorOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Where the runs' results go (workers write there: a shared directory). */
  store: ResultsStore;
  /** Queue name (default {@link DEFAULT_QUEUE}). */
  queue?: string;
  /** Attempts per run before it is failed (default 3; a bad configuration fails at once). */
  attempts?: number;
  /** First retry delay in seconds, doubled at each retry (default 10). */
  backoffSeconds?: number;
}

/** The BullMQ executor: `submit` queues the grid's runs, `status` reads their jobs. */
export async function redisExecutor(options: RedisExecutorOptions): Promise<SweepExecutor> {
  const url = checkRedisUrl(options.redis);
  const name = queueName(options.queue ?? DEFAULT_QUEUE);
  await pingRedis(url);
  const { Queue } = await import('bullmq');
  const queue: Queue<SweepJobData> = new Queue<SweepJobData>(name, { connection: connection(url) });
  queue.on('error', () => {});
  const attempts = options.attempts ?? 3;
  const backoff = (options.backoffSeconds ?? 10) * 1000;
  return {
    async submit(grid, submitOptions = {}) {
      const { runs, summary } = beginSubmit(grid, submitOptions);
      for (const run of runs) {
        if (await options.store.readResult(run.id)) {
          summary.skipped++;
          continue;
        }
        const job = await queue.getJob(run.id);
        if (job) {
          if ((await job.getState()) !== 'failed') summary.skipped++;
          else if (submitOptions.retryFailed) {
            // BullMQ moves the job back to waiting; its checkpoints in the store let it resume.
            await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
            summary.retried++;
          } else summary.failed.push({ id: run.id, error: job.failedReason });
          continue;
        }
        // Adding a job id that exists is a no-op in BullMQ, so two submitters cannot queue a run twice.
        await queue.add(`${run.row} ${run.column} seed ${run.config.seed}`, { id: run.id, config: run.config, results: options.store.location }, {
          jobId: run.id,
          attempts,
          backoff: { type: 'exponential', delay: backoff },
          removeOnComplete: false,
          removeOnFail: false,
        });
        summary.added++;
      }
      return summary;
    },
    async status(grid) {
      const finished: FinishedRunTiming[] = [];
      const remaining: number[] = [];
      const runs: SweepStatus['runs'] = [];
      for (const run of expandGrid(grid)) {
        const done = await options.store.readResult(run.id);
        const job = done ? null : await queue.getJob(run.id);
        let state: RunState = done ? 'done' : 'not submitted';
        let error: string | undefined;
        if (job) state = jobState(await job.getState());
        if (job && state === 'failed') error = job.failedReason;
        if (done) finished.push({ seconds: done.seconds, startEpoch: done.startEpoch, epochs: done.config.epochs });
        // A waiting run may have stopped part-way: it resumes after the epochs it checkpointed.
        const checkpointed = job && (state === 'running' || state === 'waiting') ? epochsCheckpointed(job) : 0;
        if (state === 'running' || state === 'waiting') remaining.push(checkpointed / run.config.epochs);
        runs.push(runStatus(run, state, { error, checkpointedEpochs: checkpointed }));
      }
      const counts = countStates(runs);
      // Runs going at once: those running (the workers' concurrency in use), at least one per worker.
      const slots = Math.max(counts.running, (await queue.getWorkers()).length);
      return { counts, runs, etaSeconds: estimateEtaSeconds(finished, remaining, slots) };
    },
    async close() {
      await queue.close();
    },
  };
}

/** Epochs a running job has checkpointed (the progress its processor reports), 0 before the first. */
function epochsCheckpointed(job: Job<SweepJobData>): number {
  const progress = job.progress as { epoch?: unknown } | number | undefined;
  const epoch = typeof progress === 'object' && progress !== null ? progress.epoch : undefined;
  return typeof epoch === 'number' && Number.isFinite(epoch) ? epoch : 0;
}

function jobState(state: string): RunState {
  switch (state) {
    case 'completed':
      return 'done';
    case 'active':
      return 'running';
    case 'failed':
      return 'failed';
    case 'unknown':
      return 'not submitted';
    default:
      return 'waiting';
  }
}

/**
 * The sandboxed processor's file: beside this module (src/ in development, the ESM build installed);
 * from the CommonJS bundle (dist/cjs/*.cjs, no sibling module) the ESM build's, which the child
 * process loads on its own.
 */
function processorFile(): string {
  const here = import.meta.url;
  const sibling = fileURLToPath(new URL(here.endsWith('.ts') ? './processor.ts' : './processor.js', here));
  if (existsSync(sibling)) return sibling;
  const esm = packageFile('dist/esm/node/sweep/processor.js', here);
  if (!esm) throw new Error(`rmc-robust: the sweep processor is missing (looked for ${sibling} and dist/esm/node/sweep/processor.js); reinstall rmc-robust`);
  return esm;
}

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** Redis URL. */
  redis: string;
  /** Queue name (default {@link DEFAULT_QUEUE}). */
  queue?: string;
  /** Runs at a time in this worker (default 1; each in its own process). */
  concurrency?: number;
  /** The results directory as this machine sees it (default: the one each job names). */
  results?: string;
  /**
   * Seconds after which a job whose worker stopped renewing its lock (died) goes back to the queue
   * (default 30: BullMQ's lock duration; the stalled check runs at the same interval).
   */
  stalledSeconds?: number;
  /** Called with a line for each job event (started, epoch, completed, failed). */
  log?: (line: string) => void;
}

/** A running worker. */
export interface SweepWorker {
  /**
   * Stops taking jobs and returns the running ones to the queue: each run stops at its next training
   * batch (a run already evaluating finishes) and waits for a worker, which resumes it from its last
   * checkpoint (the epoch in progress is trained again). No attempt is counted and nothing stalls.
   * Resolves when the worker is closed. What `rmc-robust worker` does on Ctrl-C or SIGTERM.
   */
  stop(): Promise<void>;
  /** Stops taking jobs and waits until the running ones finish (BullMQ's graceful close). */
  close(): Promise<void>;
  /** The BullMQ worker. */
  readonly worker: Worker<SweepJobData>;
}

/** Starts a worker on the queue: it takes jobs until closed, each in a sandboxed child process. */
export async function startWorker(options: WorkerOptions): Promise<SweepWorker> {
  const url = checkRedisUrl(options.redis);
  const name = queueName(options.queue ?? DEFAULT_QUEUE);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency ${concurrency}: must be an integer >= 1`);
  const stalled = (options.stalledSeconds ?? 30) * 1000;
  if (!(stalled >= 1000)) throw new RangeError(`stalledSeconds ${options.stalledSeconds}: must be a number >= 1`);
  await pingRedis(url);
  const { Worker } = await import('bullmq');
  const processor = processorFile();
  const log = options.log ?? ((line: string) => console.log(line));
  const worker = new Worker<SweepJobData>(name, processor, {
    connection: connection(url),
    concurrency,
    lockDuration: stalled,
    stalledInterval: stalled,
    maxStalledCount: 2,
    workerForkOptions: { env: { ...process.env, ...(options.results ? { RMC_SWEEP_RESULTS: options.results } : {}) } },
  });
  const label = (job: Job<SweepJobData> | undefined) => (job ? `run ${job.id} (${job.name})` : 'a run');
  // Attempts as --attempts counts them: failures (a stop or a stall is not one).
  worker.on('active', (job) => log(`started ${label(job)}, attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1}`));
  worker.on('progress', (job, progress) => {
    const { epoch, resumed } = progress as { epoch?: number; resumed?: boolean };
    const of = `${String(epoch)}/${job.data.config.epochs}`;
    log(resumed ? `${label(job)}: resumed after epoch ${of}` : `${label(job)}: epoch ${of} checkpointed`);
  });
  worker.on('completed', (job) => log(`completed ${label(job)}`));
  worker.on('failed', (job, error) => log(`failed ${label(job)}: ${error.message}`));
  worker.on('error', (error) => log(`worker error: ${error.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    close: () => worker.close(),
    stop: () => {
      const closed = worker.close(); // first: takes no new job while the running ones wind down
      worker.cancelAllJobs('the worker is stopping');
      return closed;
    },
  };
}
