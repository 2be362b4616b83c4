/**
 * Table 3 of `npm run bench`: the PGD step of ResNet18 1-2-2-2 on every way the kernels can run, and beside
 * a busy process, each as a ratio to the quiet native run (the package's defaults). A fresh process per cell.
 */
import type { BenchOptions } from './options.js';
import { besideBusyProcess, fmt, freshCell, oursSide, type Cell } from './processes.js';

export function routesTable(opts: BenchOptions): void {
  const { batch, repeats, warmup } = opts;
  const pgd = 'pgd@1-2-2-2';
  const ours = (env: Record<string, string> = {}, repeatsHere = repeats, warmupHere = warmup) => freshCell(oursSide(batch, repeatsHere, warmupHere), pgd, { ...process.env, ...env });
  const cells: Array<[string, () => Cell]> = [
    ['native, default route, quiet', () => ours()],
    ['prebuilt (x86-64-v2 addon, shipped oneDNN)', () => ours({ RMC_NATIVE: 'prebuilt' })],
    ['source build (-march=native, system oneDNN)', () => ours({ RMC_NATIVE: 'source' })],
    ['JS route: WebAssembly SIMD convolutions (RMC_NATIVE=0)', () => ours({ RMC_NATIVE: '0' }, repeats, 1)],
    ['JS route, a busy process beside it', () => besideBusyProcess(() => ours({ RMC_NATIVE: '0' }, repeats, 1))],
    ['stock tfjs-backend-cpu convolutions (RMC_NATIVE=0 RMC_WASM_SIMD=0)', () => ours({ RMC_NATIVE: '0', RMC_WASM_SIMD: '0' }, Math.min(repeats, 2), 1)],
    ['native, a busy process beside it', () => besideBusyProcess(() => ours())],
    ['native, busy process, libgomp\'s own spin (GOMP_SPINCOUNT=300000)', () => besideBusyProcess(() => ours({ GOMP_SPINCOUNT: '300000' }))],
    ['native, busy process, OMP_WAIT_POLICY=passive', () => besideBusyProcess(() => ours({ OMP_WAIT_POLICY: 'passive' }))],
    ['native, busy process, RMC_THREADS=1', () => besideBusyProcess(() => ours({ RMC_THREADS: '1' }))],
  ];
  console.log(`\nPGD step 1-2-2-2, batch ${batch}, images/s by kernel route and neighbour (a fresh process per cell):\n`);
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
