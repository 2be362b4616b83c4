/**
 * `rmc-robust sweep submit|status|collect` and `rmc-robust worker`: a grid of runs (a paper table or a
 * JSON file) executed here (the embedded executor) or queued on Redis for workers (BullMQ), and its
 * table collected from the results store. See docs/sweeps.md.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { collectSweep, collectedFiles } from '../node/sweep/aggregate.js';
import { embeddedExecutor, type SweepExecutor } from '../node/sweep/executor.js';
import { expandGrid, readGridFile, type SweepGrid } from '../node/sweep/grid.js';
import { PAPER_GRIDS, paperGrid, type PaperGridName } from '../node/sweep/paper-grids.js';
import type { Scale } from '../node/sweep/scale.js';
import { directoryStore } from '../node/sweep/store.js';
import { parseDataSpec, parseInteger, UsageError } from './common.js';

/** Options shared by the sweep commands. */
export interface SweepOptions {
  results: string;
  redis?: string;
  queue: string;
  scale?: string;
  seeds?: string;
  data?: string;
  /** submit: attempts per run on Redis. */
  attempts?: string;
  /** submit: queue failed runs again. */
  retryFailed?: boolean;
}

/** `0,1,2` or `0-4` (or a mix): distinct integers >= 0. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const range = /^(\d+)-(\d+)$/.exec(part.trim());
    if (range) {
      const [from, to] = [parseInteger(range[1]!, '--seeds', 0), parseInteger(range[2]!, '--seeds', 0)];
      if (to < from || to - from > 1000) throw new UsageError(`--seeds '${text}': a range must go up, by at most 1000 seeds`);
      for (let s = from; s <= to; s++) seeds.push(s);
    } else {
      seeds.push(parseInteger(part.trim(), '--seeds', 0));
    }
  }
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds '${text}': a seed is repeated`);
  return seeds;
}

/** The grid `spec` names: a paper table (`table3`...) or a JSON file, with the command's overrides. */
export function resolveGrid(spec: string, o: Pick<SweepOptions, 'scale' | 'seeds' | 'data'>): SweepGrid {
  const seeds = o.seeds !== undefined ? parseSeeds(o.seeds) : undefined;
  const data = o.data !== undefined ? (parseDataSpec(o.data), o.data) : undefined;
  let grid: SweepGrid;
  if ((PAPER_GRIDS as readonly string[]).includes(spec)) {
    grid = paperGrid(spec as PaperGridName, { scale: (o.scale as Scale | undefined) ?? 'cpu', ...(seeds ? { seeds } : {}), ...(data ? { settings: { data } } : {}) });
  } else if (spec.endsWith('.json') || existsSync(spec)) {
    grid = readGridFile(spec);
    grid = { ...grid, ...(o.scale ? { scale: o.scale as Scale } : {}), ...(seeds ? { seeds } : {}), ...(data ? { settings: { ...grid.settings, data } } : {}) };
  } else {
    throw new UsageError(`grid '${spec}': expected one of ${PAPER_GRIDS.join(', ')} or a JSON grid file`);
  }
  expandGrid(grid); // checks it
  return grid;
}

async function executor(o: SweepOptions, onLine: (line: string) => void): Promise<SweepExecutor> {
  const store = directoryStore(o.results);
  if (o.redis === undefined) {
    return embeddedExecutor(store, {
      onRun: (run, e) => {
        const name = `${run.id} (${run.row} ${run.column} seed ${run.config.seed})`;
        if (e.kind === 'start') onLine(`run ${name}`);
        else if (e.kind === 'epoch') onLine(`  epoch ${e.epoch + 1}/${run.config.epochs}: loss ${e.loss.toFixed(4)}`);
        else if (e.kind === 'failed') onLine(`  failed: ${e.error}`);
      },
    });
  }
  const { redisExecutor } = await import('../node/sweep/redis.js');
  return redisExecutor({ redis: o.redis, store, queue: o.queue, ...(o.attempts ? { attempts: parseInteger(o.attempts, '--attempts', 1) } : {}) });
}

/** `rmc-robust sweep submit <grid>`. */
export async function sweepSubmitCommand(spec: string, o: SweepOptions): Promise<void> {
  const grid = resolveGrid(spec, o);
  const ex = await executor(o, (line) => console.log(line));
  try {
    const s = await ex.submit(grid, { retryFailed: o.retryFailed === true });
    const embedded = o.redis === undefined;
    const retried = s.retried ? `, ${s.retried} failed runs queued again` : '';
    const failed = !s.failed.length ? '' : embedded ? `, ${s.failed.length} failed` : `, ${s.failed.length} failed before (--retry-failed queues them again)`;
    console.log(`${grid.name}: ${s.total} runs, ${embedded ? 'ran' : 'queued'} ${s.added}, ${s.skipped} already ${embedded ? 'done' : 'done or queued'}${retried}${failed}; results in ${directoryStore(o.results).location}`);
    if (s.failed.length) process.exitCode = 1;
  } finally {
    await ex.close();
  }
}

/** `rmc-robust sweep status <grid>`. */
export async function sweepStatusCommand(spec: string, o: SweepOptions & { json?: boolean }): Promise<void> {
  const grid = resolveGrid(spec, o);
  const ex = await executor(o, () => {});
  try {
    const status = await ex.status(grid);
    if (o.json) {
      console.log(JSON.stringify(status, null, 1));
      return;
    }
    const c = status.counts;
    const eta = status.etaSeconds === null ? 'unknown' : duration(status.etaSeconds);
    console.log(`${grid.name}: ${c.done} done, ${c.running} running, ${c.failed} failed, ${c.waiting} waiting, ${c['not submitted']} not submitted; ETA ${eta}`);
    for (const r of status.runs) {
      const name = `${r.id} (${r.row} ${r.column} seed ${r.seed})`;
      if (r.state === 'failed') console.log(`failed ${name}: ${r.error}`);
      if (r.state === 'running') console.log(`running ${name}: ${r.checkpointedEpochs ?? 0}/${r.epochs} epochs checkpointed`);
      if (r.state === 'waiting' && r.checkpointedEpochs) console.log(`waiting ${name}: resumes after epoch ${r.checkpointedEpochs}/${r.epochs}`);
    }
  } finally {
    await ex.close();
  }
}

/** Seconds as `42 s`, `12 min 5 s` or `3 h 20 min`. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** `rmc-robust sweep collect <grid>`. */
export async function sweepCollectCommand(spec: string, o: SweepOptions & { out?: string }): Promise<void> {
  const grid = resolveGrid(spec, o);
  const out = o.out ?? `${o.results}/tables`;
  // A grid file named like the table in the output directory would be overwritten by it.
  const { markdown: md, json, plotSvg, plotJson } = collectedFiles(grid.name, out);
  if (existsSync(spec) && [md, json, plotSvg, plotJson].some((f) => resolve(f) === resolve(spec))) {
    throw new UsageError(`--out ${out}: collect writes ${grid.name}.md, ${grid.name}.json and ${grid.name}-plot.svg/.json there, which would overwrite the grid file ${spec}; give another --out`);
  }
  const { markdown, files } = await collectSweep(grid, directoryStore(o.results), out);
  console.log(markdown);
  console.log(`wrote ${files.join(', ')}`);
}

/**
 * `rmc-robust worker`: takes sweep jobs until interrupted. SIGINT/SIGTERM: the running runs stop at
 * their next batch and go back to the queue (to resume from their last checkpoint); a second one exits
 * at once (the runs then stall and return to the queue after --stalled-after seconds).
 */
export async function workerCommand(o: { redis: string; queue: string; concurrency: string; results?: string; stalledAfter: string }): Promise<void> {
  const { startWorker } = await import('../node/sweep/redis.js');
  const worker = await startWorker({
    redis: o.redis,
    queue: o.queue,
    concurrency: parseInteger(o.concurrency, '--concurrency', 1),
    stalledSeconds: parseInteger(o.stalledAfter, '--stalled-after', 1),
    ...(o.results ? { results: o.results } : {}),
    log: (line) => console.log(line),
  });
  console.log(`worker on queue ${o.queue} at ${o.redis}, concurrency ${o.concurrency}; Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) {
        console.log('stopping now: the running runs return to the queue when their locks expire');
        process.exit(130);
      }
      stopping = true;
      console.log('stopping: the running runs go back to the queue at their next batch (again to exit now)');
      void worker.stop().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('worker stopped');
}
