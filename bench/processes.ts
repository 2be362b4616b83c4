/**
 * How bench/run.ts runs each side: a cell in a fresh process, or a warm process that measures the cells it
 * is sent one after another (bench/measure.ts for this library, bench/torch_bench.py for PyTorch).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One measured cell, as bench/measure.ts and bench/torch_bench.py print it. */
export interface Cell {
  cell: string;
  imagesPerSecond?: number;
  medianMs?: number;
  /** CPU time per timed step, all threads. */
  cpuMs?: number;
  /** The process's peak RSS so far. */
  maxRssMiB: number;
  kernels?: Record<string, string>;
  torch?: string;
  threads?: number;
  format?: string;
  bareMs?: number;
  libraryMs?: number;
  overhead?: number;
}

export const TSX = ['--import', 'tsx'];

/** The JSON lines of a child's output (other lines, e.g. tfjs's greeting, are skipped). */
export function jsonLines<T>(out: string): T[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

/** stdout of a child process; when it fails, an error with the end of its stderr (not its whole output). */
export function output(command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const child = spawnSync(command, argv, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  if (child.status !== 0) {
    const tail = (child.stderr ?? '').trim().split('\n').slice(-6).join('\n');
    throw new Error(`${command} ${argv.join(' ')} failed (${child.error?.message ?? `exit ${child.status ?? child.signal}`}):\n${tail}`);
  }
  return child.stdout;
}

/** The Python that imports torch (Debian's python3-torch installs for /usr/bin/python3), or null. */
export function findTorchPython(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return null;
}

/**
 * What this package's addon does to glibc's malloc when it loads (native/rmc_native.cc: M_MMAP_MAX 0,
 * M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 64 MiB), as GLIBC_TUNABLES for PyTorch's processes: freed memory
 * stays with the process for the next step instead of being unmapped and paged in again. With glibc's
 * defaults PyTorch took 20,000-110,000 page faults on every PGD step of ResNet18 1-1-2-2 at batch 32
 * (and, on one thread, 1.1 to 2.9 times the CPU time per step); with these, none from the third step on.
 */
export const TORCH_HEAP_REUSE = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864';

/**
 * The spin of idle OpenMP threads the package sets for its own (src/node/addon.ts: GOMP_SPINCOUNT=3000
 * unless GOMP_SPINCOUNT or OMP_WAIT_POLICY is set), for PyTorch's libgomp too: on a busy host, with
 * libgomp's default (300,000), PyTorch's two threads took 5-9 times the wall time of one thread on gradient
 * steps of the width-1/8 ResNet18 (200 images), with 3,000 about twice; quiet, it makes no measurable
 * difference for ours (docs/performance.md).
 */
export const TORCH_SPIN_COUNT = '3000';

/** A side's process setup: extra arguments and environment. */
export interface Setup {
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** The measuring command of a side: [command, arguments before the cells, arguments after]. */
export type Side = (cells: string) => { command: string; argv: string[] };

export function oursSide(batch: number, repeats: number, warmup: number): Side {
  return (cells) => ({ command: process.execPath, argv: [...TSX, 'bench/measure.ts', cells, String(batch), String(repeats), String(warmup)] });
}

export function torchSide(python: string, batch: number, repeats: number, warmup: number, extra: string[] = []): Side {
  return (cells) => ({
    command: python,
    argv: ['bench/torch_bench.py', '--cells', cells, '--batch', String(batch), '--repeats', String(repeats), '--warmup', String(warmup), ...extra],
  });
}

/** One cell in a fresh process. */
export function freshCell(side: Side, cell: string, env: NodeJS.ProcessEnv = process.env): Cell {
  const { command, argv } = side(cell);
  const cells = jsonLines<Cell>(output(command, argv, env));
  if (!cells.length) throw new Error(`${command} ${argv.join(' ')} printed no result`);
  return cells[cells.length - 1]!;
}

/** A warm process that answers each line it is sent with one JSON line (a cell's measurement, by default). */
export class WarmProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ resolve: (answer: unknown) => void; reject: (e: Error) => void }> = [];
  private stderr = '';
  private exited: Error | null = null;

  constructor(side: Side, env: NodeJS.ProcessEnv = process.env) {
    const { command, argv } = side('-');
    this.child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) this.waiting.shift()?.resolve(JSON.parse(line));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`${command} ${argv.join(' ')} exited (${code ?? signal}):\n${this.stderr.trim().split('\n').slice(-6).join('\n')}`);
      this.waiting.splice(0).forEach((w) => w.reject(this.exited!));
    });
  }

  /** Sends one line; resolves with the process's JSON answer. */
  ask<T>(line: string): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (answer: unknown) => void, reject });
      this.child.stdin.write(`${line}\n`);
    });
  }

  measure(cell: string): Promise<Cell> {
    return this.ask<Cell>(cell);
  }

  /** Ends the process (its stdin closes; it exits after what it is doing). */
  close(): void {
    this.child.stdin.end();
  }
}

/** `cell()` with a second CPU-bound process running beside it the whole time (a shared machine). */
export function besideBusyProcess<T>(cell: () => T): T {
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    return cell();
  } finally {
    busy.kill('SIGKILL');
  }
}

/** Table helpers. */
export const fmt = (v: number | undefined) => (v === undefined ? '-' : v >= 10 ? v.toFixed(1) : v.toFixed(2));
export const row = (name: string, values: string[]) => console.log(`| ${name} | ${values.join(' | ')} |`);
export const cellLabel = (cell: string) => {
  const [what, strides] = cell.split('@');
  return `${what === 'pgd' ? 'PGD step' : what === 'train' ? 'train step' : 'forward'} ${strides}`;
};
export const ALL_COLUMNS = ['forward@1-2-2-2', 'pgd@1-2-2-2', 'train@1-2-2-2', 'forward@1-1-2-2', 'pgd@1-1-2-2', 'train@1-1-2-2'];

/**
 * PyTorch's environment in the bench: the heap reuse and the short OpenMP spin this package gives itself,
 * each unless the caller's environment sets it (GLIBC_TUNABLES; GOMP_SPINCOUNT or OMP_WAIT_POLICY) or
 * `defaults` (PyTorch with glibc's and libgomp's defaults); and what it is, in words.
 */
export function torchEnvironment(defaults: boolean): { env: NodeJS.ProcessEnv; note: string } {
  if (defaults) return { env: process.env, note: 'glibc malloc\'s and libgomp\'s defaults (--torch-defaults)' };
  const env = { ...process.env };
  const notes: string[] = [];
  if (env['GLIBC_TUNABLES'] === undefined) {
    env['GLIBC_TUNABLES'] = TORCH_HEAP_REUSE;
    notes.push('glibc malloc keeping freed memory (GLIBC_TUNABLES mmap_max=0, trim_threshold=1 GiB, top_pad=64 MiB)');
  } else {
    notes.push(`GLIBC_TUNABLES=${env['GLIBC_TUNABLES']} as set`);
  }
  if (env['GOMP_SPINCOUNT'] === undefined && env['OMP_WAIT_POLICY'] === undefined) {
    env['GOMP_SPINCOUNT'] = TORCH_SPIN_COUNT;
    notes.push(`GOMP_SPINCOUNT=${TORCH_SPIN_COUNT}`);
  } else {
    notes.push(`the OpenMP wait policy as set (${['GOMP_SPINCOUNT', 'OMP_WAIT_POLICY'].filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`).join(', ')})`);
  }
  return { env, note: `${notes.join(' and ')}: what our addon sets for itself` };
}
