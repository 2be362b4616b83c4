/**
 * `npm run paper -- <experiment|all> [--scale full|cpu|smoke] [--data <spec>] [--out <dir>] [--seed <n>]`:
 * one experiment of the paper (Tables II-VI, Figs. 2, 5, 6, 7) into a run directory with its table
 * (Markdown + JSON) and plots (SVG + JSON). See docs/experiments.md.
 *
 * `full` is the paper's setting (real CIFAR, full widths, the presets' epochs; meant for a GPU with
 * tfjs-node-gpu), `cpu` a reduced run of a few minutes on 2 cores, `smoke` a few images (tests).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../src/cli/common.js';
import { EXPERIMENTS } from './index.js';
import { Experiment, parseArgs, USAGE } from './common.js';

const help = `usage: npm run paper -- <${EXPERIMENTS.map((e) => e.id).join('|')}|all> [options]\n${USAGE}\n\n${EXPERIMENTS.map((e) => `  ${e.id.padEnd(7)} ${e.title}`).join('\n')}`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(help);
    return;
  }
  const chosen = name === 'all' ? EXPERIMENTS : EXPERIMENTS.filter((e) => e.id === name);
  if (chosen.length === 0) throw new UsageError(`experiment '${name}': accepted values are ${EXPERIMENTS.map((e) => e.id).join(', ')}, all`);
  const args = parseArgs(rest);
  // RMC_BACKEND=node-gpu (or node) runs on @tensorflow/tfjs-node-gpu (tfjs-node), installed by the user.
  const backend = process.env['RMC_BACKEND'];
  if (backend === 'node-gpu' || backend === 'node') {
    const pkg = backend === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    await import(pkg);
    await tf.setBackend('tensorflow');
  } else if (backend === undefined || backend === 'cpu') {
    await tf.setBackend('cpu');
  } else {
    throw new UsageError(`RMC_BACKEND '${backend}': accepted values are cpu (default), node, node-gpu`);
  }
  for (const definition of chosen) {
    const out = args.out && chosen.length > 1 ? `${args.out}/${definition.id}` : args.out;
    await Experiment.execute(definition, { ...args, out });
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  console.error(`paper: ${(e as Error).message}`);
  process.exit(e instanceof UsageError || e instanceof RangeError ? 2 : 1);
}
