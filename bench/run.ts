/**
 * `npm run bench`: ResNet18 throughput (CIFAR 32x32, batch 32, images/s, medians) of this library on
 * tfjs-backend-cpu with its kernel pack, next to PyTorch on the same machine when it is importable
 * (Debian's python3-torch installs for /usr/bin/python3), with ratios and each cell's peak RSS. Every
 * cell runs in a fresh process. Also the library's own overhead: pgd() with 20 steps against 20 bare
 * gradient steps.
 *
 * Then the PGD step of 1-2-2-2 on each way the kernels can run: the prebuilt and the source-built native
 * kernels, the JS route (RMC_NATIVE=0: macOS, Windows, the browser's cpu backend; its convolutions on
 * WebAssembly SIMD, quiet and beside a busy process), tfjs-backend-cpu's own convolutions
 * (RMC_WASM_SIMD=0), and the native
 * kernels with a second CPU-bound process beside them (a shared machine): with the package's short
 * spin (GOMP_SPINCOUNT=3000), libgomp's own (300000), a passive wait and one thread, each as a ratio to
 * the quiet native run.
 *
 * Options: --repeats N (default 5), --warmup N (untimed steps first, default 3), --batch N (default 32),
 * --quick (forward and PGD of 1-2-2-2 only), --no-routes (skip the second table), --only-routes (the second
 * table alone). Each column runs ours
 * and then PyTorch's cell, so a change in the machine's load during the run touches both sides of a
 * ratio alike.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const repeats = option('--repeats', 5);
const batch = option('--batch', 32);
const warmup = option('--warmup', 3);
const quick = args.includes('--quick');
const routes = !args.includes('--no-routes');
const onlyRoutes = args.includes('--only-routes');

interface Cell {
  imagesPerSecond?: number;
  medianMs?: number;
  maxRssMiB: number;
  kernels?: Record<string, string>;
  torch?: string;
  bareMs?: number;
  libraryMs?: number;
  overhead?: number;
}

function ours(what: string, strides: string, repeatsHere = repeats, env: Record<string, string> = {}, warmupHere = warmup): Cell {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/measure.ts', what, strides, String(batch), String(repeatsHere), String(warmupHere)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Cell;
}

/** `cell()` with a second CPU-bound process running beside it the whole time (a shared machine). */
function besideBusyProcess<T>(cell: () => T): T {
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    return cell();
  } finally {
    busy.kill('SIGKILL');
  }
}

function findTorchPython(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return null;
}

function torchCell(python: string, what: string, strides: string): Cell {
  const out = execFileSync(python, ['bench/torch_bench.py', what, strides, String(batch), String(repeats), String(warmup)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Cell;
}

const columns: Array<[string, string]> = quick
  ? [['forward', '1-2-2-2'], ['pgd', '1-2-2-2']]
  : [['forward', '1-2-2-2'], ['pgd', '1-2-2-2'], ['train', '1-2-2-2'], ['forward', '1-1-2-2'], ['pgd', '1-1-2-2'], ['train', '1-1-2-2']];
const label = (what: string, strides: string) => `${what === 'pgd' ? 'PGD step' : what === 'train' ? 'train step' : 'forward'} ${strides}`;
const fmt = (v: number | undefined) => (v === undefined ? '-' : v >= 10 ? v.toFixed(1) : v.toFixed(2));

const cpu = cpus();
console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`);
console.log(`ResNet18 (CIFAR, 32x32), batch ${batch}, images/s (median of ${repeats} after ${warmup} warm-up steps); peak RSS of each cell's process in MiB`);
console.log('PGD step = forward + gradient w.r.t. the input; train step = forward + weight gradients + SGD (momentum) update\n');

if (!onlyRoutes) {
  const python = findTorchPython();
  const mine: Cell[] = [];
  const theirs: Cell[] | null = python ? [] : null;
  for (const [what, strides] of columns) {
    mine.push(ours(what, strides));
    if (python) theirs!.push(torchCell(python, what, strides));
  }

  console.log(`| | ${columns.map(([w, s]) => label(w, s)).join(' | ')} |`);
  console.log(`|---|${columns.map(() => '---').join('|')}|`);
  console.log(`| rmc-robust (tfjs-backend-cpu + kernel pack) | ${mine.map((c) => fmt(c.imagesPerSecond)).join(' | ')} |`);
  console.log(`| peak RSS, MiB | ${mine.map((c) => c.maxRssMiB.toFixed(0)).join(' | ')} |`);
  if (theirs) {
    console.log(`| PyTorch ${theirs[0]!.torch} CPU (2 threads, channels_last) | ${theirs.map((c) => fmt(c.imagesPerSecond)).join(' | ')} |`);
    console.log(`| peak RSS, MiB | ${theirs.map((c) => c.maxRssMiB.toFixed(0)).join(' | ')} |`);
    console.log(`| ratio rmc-robust / PyTorch | ${mine.map((c, i) => (c.imagesPerSecond! / theirs[i]!.imagesPerSecond!).toFixed(2)).join(' | ')} |`);
  } else {
    console.log('\nPyTorch is not importable here (apt-get install python3-torch installs it for /usr/bin/python3): our numbers alone.');
  }
  console.log(`\nkernels: ${JSON.stringify(mine[0]!.kernels)}`);

  const overhead = ours('pgd20-overhead', '1-2-2-2', Math.max(3, Math.min(repeats, 5)));
  console.log(
    `\npgd() with 20 steps vs 20 bare gradient steps (ResNet18 width 1/4, batch ${batch}): ${overhead.libraryMs!.toFixed(0)} ms vs ${overhead.bareMs!.toFixed(0)} ms, overhead ${(overhead.overhead! * 100).toFixed(1)}% (peak RSS ${overhead.maxRssMiB.toFixed(0)} MiB)`,
  );
}

if (routes) {
  // The PGD step on every way the kernels can run, against the quiet native run (the package's defaults).
  const cells: Array<[string, () => Cell]> = [
    ['native, default route, quiet', () => ours('pgd', '1-2-2-2')],
    ['prebuilt (x86-64-v2 addon, shipped oneDNN)', () => ours('pgd', '1-2-2-2', repeats, { RMC_NATIVE: 'prebuilt' })],
    ['source build (-march=native, system oneDNN)', () => ours('pgd', '1-2-2-2', repeats, { RMC_NATIVE: 'source' })],
    ['JS route: WebAssembly SIMD convolutions (RMC_NATIVE=0)', () => ours('pgd', '1-2-2-2', repeats, { RMC_NATIVE: '0' }, 1)],
    ['JS route, a busy process beside it', () => besideBusyProcess(() => ours('pgd', '1-2-2-2', repeats, { RMC_NATIVE: '0' }, 1))],
    ['stock tfjs-backend-cpu convolutions (RMC_NATIVE=0 RMC_WASM_SIMD=0)', () => ours('pgd', '1-2-2-2', Math.min(repeats, 2), { RMC_NATIVE: '0', RMC_WASM_SIMD: '0' }, 1)],
    ['native, a busy process beside it', () => besideBusyProcess(() => ours('pgd', '1-2-2-2'))],
    ['native, busy process, libgomp\'s own spin (GOMP_SPINCOUNT=300000)', () => besideBusyProcess(() => ours('pgd', '1-2-2-2', repeats, { GOMP_SPINCOUNT: '300000' }))],
    ['native, busy process, OMP_WAIT_POLICY=passive', () => besideBusyProcess(() => ours('pgd', '1-2-2-2', repeats, { OMP_WAIT_POLICY: 'passive' }))],
    ['native, busy process, RMC_THREADS=1', () => besideBusyProcess(() => ours('pgd', '1-2-2-2', repeats, { RMC_THREADS: '1' }))],
  ];
  console.log(`\nPGD step 1-2-2-2, batch ${batch}, images/s by kernel route and neighbour:\n`);
  console.log('| kernels | images/s | ratio to the quiet native run | peak RSS, MiB |');
  console.log('|---|---|---|---|');
  let quiet = 0;
  for (const [name, cell] of cells) {
    let result: Cell;
    try {
      result = cell();
    } catch (e) {
      console.log(`| ${name} | failed: ${(e as Error).message.split('\n')[0]} | | |`);
      continue;
    }
    if (!quiet) quiet = result.imagesPerSecond!;
    const ratio = result.imagesPerSecond! / quiet;
    console.log(`| ${name} | ${fmt(result.imagesPerSecond)} | ${ratio >= 0.1 ? ratio.toFixed(2) : `1/${(1 / ratio).toFixed(0)}`} | ${result.maxRssMiB.toFixed(0)} |`);
  }
}
