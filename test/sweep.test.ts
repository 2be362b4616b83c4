// Sweeps (src/node/sweep, `rmc-robust sweep` and `worker`, dist/esm/cli/main.js built by `npm test`'s
// pretest) against a real redis-server started here on 127.0.0.1 (a free port, a temporary directory,
// no persistence): two worker processes, one killed with SIGKILL mid-run whose job the other resumes
// from the checkpoint, a failing run, re-submission, and the collected table checked against the
// results' own numbers, against a run made directly with the trainer, and against the embedded executor.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath as cli, runCli, type CliRun } from './helpers/run-cli.js';
import { robustAccuracy } from '../src/attacks/robust-accuracy.js';
import { pgdAttack } from '../src/attacks/pgd.js';
import { loadCifar10Sample } from '../src/data/sample.js';
import { resnet18 } from '../src/models/resnet18.js';
import { aggregate, cellStats } from '../src/node/sweep/aggregate.js';
import { expandGrid, runId, type SweepGrid } from '../src/node/sweep/grid.js';
import { paperGrid } from '../src/node/sweep/paper-grids.js';
import { directoryStore, type RunResult } from '../src/node/sweep/store.js';
import { executeRun, RunConfigError } from '../src/node/sweep/run.js';
import type { SweepStatus } from '../src/node/sweep/executor.js';
import { adversarialTrain } from '../src/train/adversarial-train.js';
import { presets } from '../src/train/presets.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-sweep-'));
let redis: ChildProcess;
let url = '';
const workers: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

beforeAll(async () => {
  const port = await freePort();
  const dir = join(work, 'redis');
  rmSync(dir, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(dir));
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redis.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) resolve();
    });
    redis.on('error', (e) => reject(new Error(`redis-server: ${e.message} (apt-get install redis-server)`)));
    redis.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  url = `redis://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) process.kill(-w.pid!, 'SIGKILL');
  redis?.kill('SIGTERM');
  if (redis) await exited(redis);
  rmSync(work, { recursive: true, force: true });
});

/** Resolves with a process's exit code (null when a signal ended it) once it has exited. */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function run(...args: string[]): Promise<CliRun> {
  return runCli(work, args);
}

/** A worker process in its own process group (so SIGKILL takes its sandboxed run with it, as a machine dying would). */
function startWorker(results: string, extra: readonly string[] = []): {
  child: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>;
  waitUntil: <T>(found: (output: string) => T | undefined) => Promise<T>;
} {
  const child = spawn(process.execPath, [cli, 'worker', '--redis', url, '--stalled-after', '2', '--results', results, ...extra], {
    cwd: work, detached: true, env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  workers.push(child);
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d) => {
    out += d;
    waiters.forEach((w) => w());
  });
  child.stderr!.on('data', (d) => (out += d));
  return {
    child,
    output: () => out,
    waitFor: (pattern) => waitUntil((text) => pattern.exec(text) ?? undefined),
    waitUntil,
  };

  /** Resolves with the first non-undefined `found(output)`, checked whenever the worker prints. */
  function waitUntil<T>(found: (output: string) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = found(out);
        if (value !== undefined) resolve(value);
      };
      waiters.push(check);
      child.once('exit', () => reject(new Error(`worker exited before printing what the test waits for: ${out}`)));
      check();
    });
  }
}

// Tiny runs on the embedded CIFAR-10 sample: ResNet18 at width 1/16, 3 epochs of 4 batches of TRADES
// with a 1-step attack and the learning rate dropped for the last epoch; two strides x two seeds, and strides that ResNet18 refuses (the failing runs).
const grid: SweepGrid = {
  name: 'tiny',
  title: 'tiny sweep',
  scale: 'smoke',
  settings: { width: 1 / 16, epochs: 3, lrMilestones: [2], batchSize: 4, trainSize: 16, testSize: 32, evalBatchSize: 32 },
  seeds: [0, 1],
  models: [{ arch: 'resnet18', strides: '1-2-2-2' }, { arch: 'resnet18', strides: '1-1-2-2' }, { arch: 'resnet18', strides: '1-2-2' }],
  defenses: ['trades'],
  metrics: ['Natural', 'PGD-20'],
};
const gridFile = join(work, 'grid.json');
writeFileSync(gridFile, JSON.stringify(grid));
const runs = expandGrid(grid);
const good = runs.filter((r) => r.config.strides !== '1-2-2');
const bad = runs.filter((r) => r.config.strides === '1-2-2');

function readResult(results: string, id: string): RunResult {
  return JSON.parse(readFileSync(join(results, 'runs', id, 'result.json'), 'utf8')) as RunResult;
}

describe('grids and run ids', () => {
  it('a run id is a hash of the resolved config: equal configs, equal ids; any change, another id', () => {
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    expect(expandGrid(structuredClone(grid)).map((r) => r.id)).toEqual(runs.map((r) => r.id));
    const config = runs[0]!.config;
    expect(runId({ ...config })).toBe(runs[0]!.id);
    // Key order does not matter; values do (including the package version).
    expect(runId(Object.fromEntries(Object.entries(config).reverse()) as typeof config)).toBe(runs[0]!.id);
    for (const change of [{ seed: 7 }, { width: 0.5 }, { epochs: 4 }, { pooling: 'max' as const }, { version: '0.0.0' }, { data: 'cifar10:/x' }]) {
      expect(runId({ ...config, ...change })).not.toBe(runs[0]!.id);
    }
  });

  it('the paper grids expand: Table III is 2 strides x 2 poolings x seeds, TRADES', () => {
    const t3 = expandGrid(paperGrid('table3', { scale: 'full', seeds: [0, 1, 2] }));
    expect(t3).toHaveLength(12);
    expect(new Set(t3.map((r) => `${r.config.strides} ${r.config.pooling}`))).toEqual(new Set(['1-2-2-2 avg', '1-1-2-2 avg', '1-2-2-2 max', '1-1-2-2 max']));
    expect(t3.every((r) => r.config.defense === 'trades' && r.config.epochs === presets.trades.epochs && r.config.width === 1)).toBe(true);
    const t5 = expandGrid(paperGrid('table5', { scale: 'cpu' }));
    expect(t5).toHaveLength(14);
    expect(t5.filter((r) => r.config.validate).map((r) => r.config.defense).sort()).toEqual(['fat', 'fat', 'mart', 'mart']);
  });

  it('bad grids are refused naming the field', () => {
    expect(() => expandGrid({ ...grid, seeds: [] })).toThrow(/grid seeds: expected a non-empty array/);
    expect(() => expandGrid({ ...grid, defenses: ['tradez' as never] })).toThrow(/grid defenses: "tradez" is not accepted/);
    expect(() => expandGrid({ ...grid, seeds: [0, 0] })).toThrow(/grid seeds: a seed is repeated/);
    expect(() => expandGrid({ ...grid, settings: { epochz: 1 } as never })).toThrow(/grid settings.epochz: unknown setting/);
    expect(() => expandGrid({ ...grid, settings: { lrMilestones: [] } })).toThrow(/grid settings.lrMilestones: expected a non-empty array/);
    expect(() => expandGrid({ ...grid, settings: { lrMilestones: [3, 2] } })).toThrow(/grid settings.lrMilestones: must be strictly increasing/);
    expect(() => expandGrid({ ...grid, settings: { lrMilestones: [0] } })).toThrow(/grid settings.lrMilestones\[0\]: 0 is not an integer >= 1/);
    expect(() => expandGrid({ ...grid, defenses: ['fat'], settings: { lrMilestones: [5] } })).toThrow(/grid settings.lrMilestones: fat's schedule has 3 rate changes .* give 3 milestones, got 1/);
  });

  it('lrMilestones replaces the preset\'s milestones and is part of the run id; without it the id is as before', () => {
    const plain = expandGrid({ ...grid, settings: { ...grid.settings, lrMilestones: undefined } });
    expect(runs.map((r) => r.config.lrMilestones)).toEqual(runs.map(() => [2]));
    expect(plain.every((r) => !('lrMilestones' in r.config))).toBe(true);
    expect(plain.map((r) => r.id).filter((id) => runs.some((x) => x.id === id))).toEqual([]);
  });

  it('a run submitted with another rmc-robust version is refused (its id names that version), nothing written', async () => {
    const [other] = expandGrid(grid, '0.0.0');
    const store = directoryStore(join(work, 'other-version'));
    const refused = executeRun(other!, store);
    await expect(refused).rejects.toThrow(RunConfigError);
    await expect(refused).rejects.toThrow(new RegExp(`^run ${other!.id} was submitted with rmc-robust 0\\.0\\.0, this worker has ${runs[0]!.config.version.replace(/\./g, '\\.')}: run one version on every machine`));
    expect(await store.readResult(other!.id)).toBeNull();
  });

  it('aggregation: mean, sample std and n per cell over the seeds present; absent cells are missing, not zero', () => {
    const fake = (id: string, natural: number): RunResult => ({ id, metrics: { Natural: natural, 'PGD-20': natural / 2 } } as RunResult);
    const [a0, a1, b0] = [good[0]!, good[1]!, good[2]!];
    const table = aggregate(grid, runs, new Map([[a0.id, fake(a0.id, 10)], [a1.id, fake(a1.id, 20)], [b0.id, fake(b0.id, 30)]]));
    const row = table.rows[0]!;
    expect(row.cells['1-2-2-2']!.Natural).toEqual({ mean: 15, std: Math.sqrt(50), n: 2, seeds: [0, 1] });
    expect(row.cells['1-1-2-2']!['PGD-20']).toEqual({ mean: 15, std: null, n: 1, seeds: [0] });
    expect(row.cells['1-2-2']!.Natural).toBeNull();
    expect(table.runs).toEqual({ total: 6, finished: 3 });
  });
});

describe('a sweep on BullMQ and Redis', () => {
  const results = join(work, 'results');
  const embedded = join(work, 'embedded');

  it('two workers run every good run exactly once; a killed worker\'s run is retried by the other and resumes; bad runs fail with their error', async () => {
    const a = startWorker(results);
    const b = startWorker(results);
    await Promise.all([a.waitFor(/^worker on queue/m), b.waitFor(/^worker on queue/m)]);
    const submitted = await run('sweep', 'submit', gridFile, '--redis', url, '--results', results);
    expect(submitted.stderr).toBe('');
    expect(submitted.stdout).toMatch(/tiny: 6 runs, queued 6, 0 already done or queued/);
    const again = await run('sweep', 'submit', gridFile, '--redis', url, '--results', results);
    // Nothing is queued twice; the two bad runs may have failed already (they fail at once).
    const repeat = /tiny: 6 runs, queued 0, (\d) already done or queued(?:, (\d) failed before)?/.exec(again.stdout);
    expect(repeat, again.stdout).not.toBeNull();
    const failedBefore = Number(repeat![2] ?? 0);
    expect(failedBefore).toBeLessThanOrEqual(bad.length);
    expect(Number(repeat![1]) + failedBefore).toBe(6);

    // Worker A checkpoints an epoch of a run it has not finished: kill it (and its run) at once; B takes
    // the run over and resumes from that checkpoint. Any checkpointed epoch will do, so a test process
    // slow to read A's output (a loaded machine) still finds one rather than waiting for a first-epoch
    // line that arrived together with the run's later ones.
    const inProgress = (text: string) => {
      for (const [, id] of text.matchAll(/^run ([0-9a-f]{24}) \([^)]*\): epoch [123]\/3 checkpointed$/gm)) {
        if (!new RegExp(`^completed run ${id} `, 'm').test(text)) return id!;
      }
      return undefined;
    };
    const killedId = await a.waitUntil(inProgress);
    process.kill(-a.child.pid!, 'SIGKILL');
    await exited(a.child);
    expect(a.output(), 'worker A finished the run before the kill landed').not.toMatch(new RegExp(`^completed run ${killedId} `, 'm'));

    for (;;) {
      const status = await run('sweep', 'status', gridFile, '--redis', url, '--results', results, '--json');
      const s = JSON.parse(status.stdout) as { counts: Record<string, number>; runs: Array<{ id: string; state: string; error?: string }> };
      if (s.counts['waiting'] === 0 && s.counts['running'] === 0) {
        expect(s.counts).toEqual({ done: 4, running: 0, failed: 2, waiting: 0, 'not submitted': 0 });
        for (const r of s.runs.filter((r) => bad.some((x) => x.id === r.id))) {
          expect(r.state).toBe('failed');
          expect(r.error).toMatch(/strides: got 3 strides/);
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const text = await run('sweep', 'status', gridFile, '--redis', url, '--results', results);
    expect(text.stdout).toMatch(/^tiny: 4 done, 0 running, 2 failed, 0 waiting, 0 not submitted; ETA 0 s$/m);
    const logs = [a.output(), b.output()].join('\n');
    expect(logs, 'workers and their run processes print no tfjs-node banner').not.toMatch(/looks like you are running TensorFlow\.js in Node\.js/);
    // Each run completed once; the killed run was started twice (A, then B), the others once; bad runs not retried.
    for (const r of good) expect(logs.match(new RegExp(`^completed run ${r.id} `, 'gm')), logs).toHaveLength(1);
    for (const r of good) expect(logs.match(new RegExp(`^started run ${r.id} `, 'gm')), logs).toHaveLength(r.id === killedId ? 2 : 1);
    for (const r of bad) expect(logs.match(new RegExp(`^started run ${r.id} `, 'gm')), logs).toHaveLength(1);
    expect(b.output()).toMatch(new RegExp(`^completed run ${killedId}`, 'm'));
    const killed = readResult(results, killedId!);
    expect(killed.startEpoch).toBeGreaterThanOrEqual(1);
    // A stall is no failed attempt; B says where the run resumed.
    expect(b.output()).toMatch(new RegExp(`^started run ${killedId} \\([^)]*\\), attempt 1 of 3$`, 'm'));
    expect(b.output()).toMatch(new RegExp(`^run ${killedId} \\([^)]*\\): resumed after epoch ${killed.startEpoch}/3$`, 'm'));
    expect(killed.losses).toHaveLength(3); // the whole run's history, the epochs before the kill included
    for (const r of good.filter((r) => r.id !== killedId)) expect(readResult(results, r.id).startEpoch).toBe(0);

    // Failed runs stay failed when the grid is submitted again, unless --retry-failed queues them again.
    const resubmitted = await run('sweep', 'submit', gridFile, '--redis', url, '--results', results);
    expect(resubmitted.stdout).toMatch(/tiny: 6 runs, queued 0, 4 already done or queued, 2 failed before \(--retry-failed queues them again\)/);
    expect(resubmitted.code).toBe(1);
    const mark = b.output().length; // before submitting: B may fail the retried runs before the CLI returns
    const retried = await run('sweep', 'submit', gridFile, '--redis', url, '--results', results, '--retry-failed');
    expect(retried.stdout).toMatch(/tiny: 6 runs, queued 0, 4 already done or queued, 2 failed runs queued again;/);
    expect(retried.code).toBe(0);
    await b.waitUntil((text) => (bad.every((r) => new RegExp(`^failed run ${r.id} `, 'm').test(text.slice(mark))) ? true : undefined));
    const after = JSON.parse((await run('sweep', 'status', gridFile, '--redis', url, '--results', results, '--json')).stdout) as { counts: Record<string, number> };
    expect(after.counts).toEqual({ done: 4, running: 0, failed: 2, waiting: 0, 'not submitted': 0 });
    const all = [a.output(), b.output()].join('\n');
    for (const r of bad) {
      expect(all.match(new RegExp(`^started run ${r.id} `, 'gm')), all).toHaveLength(2);
      expect(b.output().slice(mark), 'the retry counts its attempts from zero').toMatch(new RegExp(`^started run ${r.id} .*, attempt 1 of 3$`, 'm'));
    }
  });

  it('a stopped worker (Ctrl-C) returns its run to the queue at once, not failed; the next worker resumes it', async () => {
    // One run of 12 short epochs on a queue of its own; Ctrl-C (SIGINT to the worker's process group,
    // its run's process included) after the run's second epoch.
    const stopGrid: SweepGrid = { ...grid, name: 'stop', models: [{ arch: 'resnet18', strides: '1-2-2-2' }], seeds: [0], settings: { ...grid.settings, epochs: 12, lrMilestones: [11], batchSize: 8, testSize: 8, evalBatchSize: 8 } };
    const [stopRun] = expandGrid(stopGrid);
    const stopFile = join(work, 'stop.json');
    writeFileSync(stopFile, JSON.stringify(stopGrid));
    const stopResults = join(work, 'stop-results');
    const queue = ['--queue', 'stop-test'];
    const c = startWorker(stopResults, queue);
    await c.waitFor(/^worker on queue/m);
    expect((await run('sweep', 'submit', stopFile, '--redis', url, '--results', stopResults, ...queue)).code).toBe(0);
    await c.waitFor(/^run [0-9a-f]{24} \([^)]*\): epoch 2\/12 checkpointed$/m);
    process.kill(-c.child.pid!, 'SIGINT');
    const code = await exited(c.child);
    expect(code, c.output()).toBe(0);
    expect(c.output()).toMatch(/^stopping: the running runs go back to the queue at their next batch/m);
    expect(c.output()).toMatch(/^worker stopped$/m);
    expect(c.output(), 'the stopped worker finished the run instead').not.toMatch(/^completed run /m);
    expect(c.output()).not.toMatch(/^failed run /m);
    const status = JSON.parse((await run('sweep', 'status', stopFile, '--redis', url, '--results', stopResults, '--json', ...queue)).stdout) as SweepStatus;
    expect(status.counts).toEqual({ done: 0, running: 0, failed: 0, waiting: 1, 'not submitted': 0 });
    const stopped = status.runs[0]!;
    expect(stopped.epochs).toBe(12);
    expect(stopped.checkpointedEpochs).toBeGreaterThanOrEqual(2);
    const text = (await run('sweep', 'status', stopFile, '--redis', url, '--results', stopResults, ...queue)).stdout;
    expect(text).toMatch(new RegExp(`^waiting ${stopRun!.id} \\(resnet18 1-2-2-2 seed 0\\): resumes after epoch ${stopped.checkpointedEpochs}/12$`, 'm'));

    const d = startWorker(stopResults, queue);
    await d.waitFor(new RegExp(`^completed run ${stopRun!.id} `, 'm'));
    const result = readResult(stopResults, stopRun!.id);
    expect(result.startEpoch).toBe(stopped.checkpointedEpochs);
    // The stop was no failed attempt.
    expect(d.output()).toMatch(new RegExp(`^started run ${stopRun!.id} \\([^)]*\\), attempt 1 of 3$`, 'm'));
    expect(d.output()).toMatch(new RegExp(`^run ${stopRun!.id} \\([^)]*\\): resumed after epoch ${result.startEpoch}/12$`, 'm'));
    expect(result.losses).toHaveLength(12);
    expect(d.output()).toMatch(new RegExp(`^run ${stopRun!.id} \\([^)]*\\): epoch ${result.startEpoch + 1}/12 checkpointed$`, 'm'));
    expect(d.output()).not.toMatch(new RegExp(`^run ${stopRun!.id} \\([^)]*\\): epoch ${result.startEpoch}/12 checkpointed$`, 'm'));
    process.kill(d.child.pid!, 'SIGTERM');
    expect(await exited(d.child)).toBe(0);
  });

  it('the embedded executor gives the same results and table; collect matches the results cell by cell', async () => {
    const local = await run('sweep', 'submit', gridFile, '--results', embedded);
    expect(local.code).toBe(1); // the failing runs
    expect(local.stdout).toMatch(/tiny: 6 runs, ran 6, 0 already done, 2 failed/);
    for (const r of good) {
      const [viaRedis, here] = [readResult(results, r.id), readResult(embedded, r.id)];
      expect(viaRedis.metrics).toEqual(here.metrics);
      // The resumed run has the same history of losses as the uninterrupted one.
      expect(viaRedis.losses).toEqual(here.losses);
      // Same final weights.
      expect(readFileSync(join(results, 'runs', r.id, 'model', 'weights.bin'))).toEqual(readFileSync(join(embedded, 'runs', r.id, 'model', 'weights.bin')));
    }
    const tables: Record<string, unknown>[] = [];
    for (const store of [results, embedded]) {
      const out = join(work, `tables-${tables.length}`);
      const collected = await run('sweep', 'collect', gridFile, '--results', store, '--out', out);
      expect(collected.code).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['tiny-plot.json', 'tiny-plot.svg', 'tiny.json', 'tiny.md']);
      tables.push(JSON.parse(readFileSync(join(out, 'tiny.json'), 'utf8')) as Record<string, unknown>);
      const md = readFileSync(join(out, 'tiny.md'), 'utf8');
      expect(md).toMatch(/\| resnet18 \| .* \| missing \| .* \| missing \|/);
    }
    const strip = ({ results: _r, ...rest }: Record<string, unknown>) => rest;
    expect(strip(tables[0]!)).toEqual(strip(tables[1]!));
    // Cell by cell against the results' own numbers.
    const table = tables[0] as unknown as ReturnType<typeof aggregate>;
    for (const strides of ['1-2-2-2', '1-1-2-2']) {
      for (const metric of ['Natural', 'PGD-20'] as const) {
        const values = [0, 1].map((seed) => readResult(results, good.find((r) => r.config.strides === strides && r.config.seed === seed)!.id).metrics[metric]!);
        expect(table.rows[0]!.cells[strides]![metric]).toEqual(cellStats(values, [0, 1]));
      }
      expect(table.rows[0]!.cells['1-2-2']!.Natural).toBeNull();
    }
  });

  it('a run made directly with the trainer and robustAccuracy gives the sweep\'s numbers', async () => {
    const r = good.find((x) => x.config.strides === '1-1-2-2' && x.config.seed === 1)!;
    const c = r.config;
    const full = await loadCifar10Sample('train');
    const test = await loadCifar10Sample('test');
    const train = { images: full.images.subarray(0, 16 * 3072), labels: full.labels.subarray(0, 16), count: 16 };
    const testSplit = { images: test.images.subarray(0, 32 * 3072), labels: test.labels.subarray(0, 32), count: 32 };
    const model = resnet18({ strides: '1-1-2-2', pooling: 'avg', width: 1 / 16, numClasses: 10, seed: 1 });
    try {
      const trained = await adversarialTrain(model, train, { ...presets.trades, lr: { ...presets.trades.lr, milestones: [2] }, epochs: 3, batchSize: 4, attackSteps: 1, seed: 1 });
      const pgd20 = pgdAttack({ name: 'PGD-20', steps: c.evalSteps['PGD-20'], relStepSize: 0.25, seed: 1 + 1000 });
      const acc = robustAccuracy(model, testSplit, [pgd20], { eps: 8 / 255, batchSize: 32 });
      const result = readResult(results, r.id);
      expect(result.metrics).toEqual({ Natural: Math.round(acc.clean * 10000) / 100, 'PGD-20': Math.round(acc.perAttack['PGD-20']! * 10000) / 100 });
      expect(result.losses).toEqual(trained.epochs.map((e) => e.loss));
    } finally {
      model.dispose();
    }
  });

  it('usage errors exit 2 with one line', async () => {
    // A grid file where collect would write its table of the same name.
    const named = join(work, 'named');
    mkdirSync(named, { recursive: true });
    const namedGrid = join(named, `${grid.name}.json`);
    writeFileSync(namedGrid, JSON.stringify(grid));
    for (const [args, message] of [
      [['sweep', 'submit', 'table9'], /grid 'table9': expected one of table3, table4, table5, table6 or a JSON grid file/],
      [['sweep', 'submit', 'table3', '--redis', 'http://x'], /--redis 'http:\/\/x': expected a URL such as redis:\/\/127.0.0.1:6379/],
      [['sweep', 'status', 'table3', '--seeds', '3-1'], /--seeds '3-1': a range must go up/],
      [['sweep', 'collect', 'table3', '--scale', 'huge'], /--scale 'huge': accepted values are full, cpu, smoke/],
      [['sweep', 'collect', namedGrid, '--results', join(work, 'no-results'), '--out', named], /--out .*named: collect writes tiny.md, tiny.json and tiny-plot.svg\/.json there, which would overwrite the grid file .*tiny.json; give another --out/],
      [['worker'], /required option '--redis <url>' not specified/],
      [['worker', '--redis', url, '--concurrency', '0'], /--concurrency 0: must be an integer >= 1/],
    ] as const) {
      const r = await run(...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(JSON.parse(readFileSync(namedGrid, 'utf8'))).toEqual(grid);
  });
});
