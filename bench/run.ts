/**
 * `npm run bench`: this library on tfjs-backend-cpu with its kernel pack next to PyTorch on the same machine
 * (Debian's python3-torch for /usr/bin/python3, when importable):
 *
 * 1. ResNet18 throughput (bench/throughput.ts): forward, PGD step and training step for strides 1-2-2-2
 *    and 1-1-2-2, batch 32, images/s, with PyTorch in its fair setup and ours in the same: one warm process
 *    per side running every cell in turn, the cells alternating between them; then each cell in a fresh
 *    process per side, for its peak RSS. Also pgd()'s own overhead against bare gradient steps.
 * 2. AutoAttack's components against the PyTorch ports in scripts/ (bench/autoattack-table.ts): APGD-CE,
 *    APGD-T, FAB-T and Square on the width-1/8 ResNet18, APGD-CE on the full one; time ratios and both
 *    sides' robust accuracies.
 * 3. The PGD step on each kernel route, quiet and beside a busy process (bench/routes.ts).
 * Optional (--setups): PyTorch's candidate setups side by side, the evidence for table 1's (bench/setups.ts).
 *
 * Options: --repeats N (timed steps, default 5), --warmup N (untimed steps first, default 3), --batch N
 * (default 32), --quick (tables 1 and setups: forward and PGD of 1-2-2-2 only), --no-fresh (table 1 without
 * the fresh processes: its peak RSS is then the warm processes' running peak), --torch-defaults (PyTorch
 * with glibc's malloc and libgomp's spin as they come, not as our addon sets them), --no-throughput, --no-autoattack, --no-routes, --setups,
 * --only-throughput, --only-autoattack, --only-routes, --only-setups. AutoAttack: --aa-steps N (APGD and
 * FAB iterations, default 20), --aa-targets N (APGD-T and FAB-T target classes, default 3), --aa-queries N
 * (Square, default 200), --aa-images N (width 1/8, default 200), --aa-full-images N (full width, default
 * 32), --aa-eps E (width 1/8, L2, default 1), --aa-full-eps E (full width, default 0.03), --aa-standard
 * (AutoAttack's budgets: 100 iterations, 9 targets, 5000 queries).
 */
import { cpus, totalmem } from 'node:os';
import { autoAttackTable } from './autoattack-table.js';
import { parseBenchOptions, type BenchOptions } from './options.js';
import { findTorchPython, torchEnvironment } from './processes.js';
import { routesTable } from './routes.js';
import { setupsTable } from './setups.js';
import { throughputTable } from './throughput.js';

let opts: BenchOptions;
try {
  opts = parseBenchOptions(process.argv.slice(2));
} catch (e) {
  console.error(`npm run bench: ${(e as Error).message}`);
  process.exit(1);
}
const started = performance.now();
const cpu = cpus();
console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`);
const { throughput, setups, autoattack, routes } = opts.tables;
const python = throughput || setups || autoattack ? findTorchPython() : null;
if (!python && (throughput || setups || autoattack)) {
  console.log('PyTorch is not importable here (apt-get install python3-torch installs it for /usr/bin/python3): our numbers alone.');
}
const torch = torchEnvironment(opts.torchDefaults);
if (setups) await setupsTable(opts, python);
if (throughput) await throughputTable(opts, python, torch);
if (autoattack) await autoAttackTable(opts, python, torch);
if (routes) routesTable(opts);
console.log(`\nbench run time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
