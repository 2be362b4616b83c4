/**
 * `npm run bench -- --setups` (or --only-setups): PyTorch's candidate setups side by side on each cell, the
 * evidence for the setup table 1 gives it, and ours warm and fresh. The cells go round every setup in turn
 * (warm setups keep a process each), so a change in the host's load touches every row of a column alike.
 */
import type { BenchOptions } from './options.js';
import { ALL_COLUMNS, cellLabel, fmt, freshCell, oursSide, row, TORCH_HEAP_REUSE, TORCH_SPIN_COUNT, torchSide, WarmProcess, type Cell, type Side } from './processes.js';

interface Candidate {
  name: string;
  side: Side;
  env: NodeJS.ProcessEnv;
  warm: boolean;
  torch: boolean;
  /** Only these kinds of cells (e.g. forward for a forward-only setting). */
  only?: string;
}

export async function setupsTable(opts: BenchOptions, python: string | null): Promise<void> {
  const { batch, repeats, warmup } = opts;
  const columns = opts.quick ? ALL_COLUMNS.slice(0, 2) : ALL_COLUMNS;
  const plain = { ...process.env };
  for (const key of ['GLIBC_TUNABLES', 'GOMP_SPINCOUNT', 'OMP_WAIT_POLICY']) delete plain[key];
  const spin = { ...plain, GOMP_SPINCOUNT: TORCH_SPIN_COUNT };
  const reuse = { ...spin, GLIBC_TUNABLES: TORCH_HEAP_REUSE };
  const defaultMalloc = spin;
  const defaultSpin = { ...plain, GLIBC_TUNABLES: TORCH_HEAP_REUSE };
  const torch = (extra: string[] = []) => torchSide(python!, batch, repeats, warmup, extra);
  const candidates: Candidate[] = [
    ...(python
      ? [
          { name: 'PyTorch, the bench\'s setup: warm process, channels_last, all cores, inference_mode, heap reuse, short spin', side: torch(), env: reuse, warm: true, torch: true },
          { name: 'PyTorch, a fresh process per cell (else the same)', side: torch(), env: reuse, warm: false, torch: true },
          { name: 'PyTorch, contiguous NCHW', side: torch(['--format', 'contiguous']), env: reuse, warm: true, torch: true },
          { name: 'PyTorch, forward under torch.no_grad()', side: torch(['--forward', 'no_grad']), env: reuse, warm: true, torch: true, only: 'forward' },
          { name: 'PyTorch, PyTorch\'s own thread count', side: torch(['--threads', '0']), env: reuse, warm: true, torch: true },
          { name: 'PyTorch, glibc malloc\'s defaults', side: torch(), env: defaultMalloc, warm: true, torch: true },
          { name: 'PyTorch, libgomp\'s default spin', side: torch(), env: defaultSpin, warm: true, torch: true },
          { name: 'PyTorch, the earlier bench: fresh processes, glibc\'s and libgomp\'s defaults, no_grad', side: torch(['--forward', 'no_grad']), env: plain, warm: false, torch: true },
        ]
      : []),
    { name: 'rmc-robust, warm process', side: oursSide(batch, repeats, warmup), env: process.env, warm: true, torch: false },
    { name: 'rmc-robust, a fresh process per cell', side: oursSide(batch, repeats, warmup), env: process.env, warm: false, torch: false },
  ];
  console.log(`\nPyTorch's candidate setups (and ours), ResNet18 batch ${batch}, images/s (median of ${repeats} after ${warmup} warm-up steps); * the fastest PyTorch setup of a column:\n`);
  const warm = candidates.map((c) => (c.warm ? new WarmProcess(c.side, c.env) : null));
  const results: Array<Array<Cell | null>> = candidates.map(() => []);
  try {
    for (const cell of columns) {
      for (const [i, c] of candidates.entries()) {
        if (c.only && !cell.startsWith(`${c.only}@`)) results[i]!.push(null);
        else results[i]!.push(await (warm[i]?.measure(cell) ?? Promise.resolve(freshCell(c.side, cell, c.env))));
      }
    }
  } finally {
    warm.forEach((w) => w?.close());
  }
  const best = columns.map((_, j) => Math.max(...candidates.map((c, i) => (c.torch ? (results[i]![j]?.imagesPerSecond ?? 0) : 0))));
  row('', columns.map(cellLabel));
  console.log(`|---|${columns.map(() => '---').join('|')}|`);
  candidates.forEach((c, i) =>
    row(
      c.name,
      results[i]!.map((r, j) => (r ? `${fmt(r.imagesPerSecond)}${c.torch && r.imagesPerSecond === best[j] ? ' *' : ''}` : '-')),
    ),
  );
}
