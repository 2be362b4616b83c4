/**
 * Table 1 of `npm run bench`: ResNet18 throughput of both sides in their fair setup (a warm process per
 * side, the cells alternating between them), then each cell in a fresh process per side for its peak RSS.
 */
import { cpus } from 'node:os';
import type { BenchOptions } from './options.js';
import { ALL_COLUMNS, cellLabel, fmt, freshCell, oursSide, row, torchSide, WarmProcess, type Cell } from './processes.js';

export async function throughputTable(opts: BenchOptions, python: string | null, torch: { env: NodeJS.ProcessEnv; note: string }): Promise<void> {
  const { batch, repeats, warmup, fresh } = opts;
  const columns = opts.quick ? ALL_COLUMNS.slice(0, 2) : ALL_COLUMNS;
  const ours = oursSide(batch, repeats, warmup);
  const theirs = python ? torchSide(python, batch, repeats, warmup) : null;
  console.log(`\nResNet18 (CIFAR, 32x32), batch ${batch}, images/s: median of ${repeats} timed steps after ${warmup} untimed warm-up steps, each cell on its own model`);
  console.log('PGD step = forward + gradient w.r.t. the input; train step = forward + weight gradients + SGD (momentum) update');
  console.log(
    `Setup, both sides alike: one warm process per side runs every cell in turn, the cells alternating between the two processes; all ${cpus().length} cores ` +
      `(ours: one OpenMP thread per core; PyTorch: torch.set_num_threads(os.cpu_count())); PyTorch in channels_last, oneDNN on, forward under torch.inference_mode(), ${torch.note}`,
  );
  console.log(
    fresh
      ? 'Peak RSS: each cell again in a fresh process per side (the same steps), that process\'s peak; the fresh processes\' throughput is shown too\n'
      : 'Peak RSS (--no-fresh): the warm process\'s peak so far after each cell (it includes the earlier cells\' peaks)\n',
  );
  const mine: Cell[] = [];
  const their: Cell[] = [];
  const oursWarm = new WarmProcess(ours);
  const torchWarm = theirs ? new WarmProcess(theirs, torch.env) : null;
  let overhead: Cell;
  try {
    for (const cell of columns) {
      mine.push(await oursWarm.measure(cell));
      if (torchWarm) their.push(await torchWarm.measure(cell));
    }
    overhead = await oursWarm.measure('pgd20-overhead@1-2-2-2');
  } finally {
    oursWarm.close();
    torchWarm?.close();
  }
  const mineFresh: Cell[] = [];
  const theirFresh: Cell[] = [];
  if (fresh) {
    for (const cell of columns) {
      mineFresh.push(freshCell(ours, cell));
      if (theirs) theirFresh.push(freshCell(theirs, cell, torch.env));
    }
  }
  const ratios = (a: Cell[], b: Cell[]) => a.map((c, i) => (c.imagesPerSecond! / b[i]!.imagesPerSecond!).toFixed(2));
  const rss = (cells: Cell[]) => cells.map((c) => c.maxRssMiB.toFixed(0));
  row('', columns.map(cellLabel));
  console.log(`|---|${columns.map(() => '---').join('|')}|`);
  row('rmc-robust (tfjs-backend-cpu + kernel pack), warm process', mine.map((c) => fmt(c.imagesPerSecond)));
  if (theirs) {
    row(`PyTorch ${their[0]!.torch} (${their[0]!.threads} threads, channels_last), warm process`, their.map((c) => fmt(c.imagesPerSecond)));
    row('**ratio rmc-robust / PyTorch**', ratios(mine, their).map((r) => `**${r}**`));
  }
  if (fresh) {
    row('rmc-robust, a fresh process per cell', mineFresh.map((c) => fmt(c.imagesPerSecond)));
    if (theirs) {
      row('PyTorch, a fresh process per cell', theirFresh.map((c) => fmt(c.imagesPerSecond)));
      row('ratio, fresh processes', ratios(mineFresh, theirFresh));
    }
  }
  const [mineRss, theirRss, where] = fresh ? [mineFresh, theirFresh, 'fresh process'] : [mine, their, 'warm process so far'];
  row(`peak RSS rmc-robust, MiB (${where})`, rss(mineRss));
  if (theirs) {
    row(`peak RSS PyTorch, MiB (${where})`, rss(theirRss));
    row('peak RSS ratio rmc-robust / PyTorch', mineRss.map((c, i) => (c.maxRssMiB / theirRss[i]!.maxRssMiB).toFixed(2)));
  }
  console.log(`\nkernels: ${JSON.stringify(mine[0]!.kernels)}`);
  console.log(
    `\npgd() with 20 steps vs 20 bare gradient steps (ResNet18 width 1/4, batch ${batch}, warm process): ` +
      `${overhead.libraryMs!.toFixed(0)} ms vs ${overhead.bareMs!.toFixed(0)} ms, overhead ${(overhead.overhead! * 100).toFixed(1)}%`,
  );
}
