/**
 * `rmc-robust demo` / `npm run demo`: the paper's claim on real CIFAR-10 images, on a laptop CPU.
 *
 * Trains two narrow ResNet18s under TRADES on the embedded sample of 2,000 real CIFAR-10 training
 * images, with strides 1-2-2-2 (4x4 features before average pooling) and 1-1-2-2 (8x8), evaluates
 * clean, FGSM and PGD-20 accuracy (eps 8/255) and the anti-perturbation ratio on embedded test images,
 * prints the side-by-side table and writes it with training curves into `out`.
 */
// The Node services (files, the embedded sample, the native kernels) before anything else.
import '../node/register.js';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  adversarialTrain,
  antiPerturbationRatio,
  backendInfo,
  featureMapShape,
  fgsmAttack,
  imagesToTensor,
  loadCifar10Sample,
  pgdAttack,
  presets,
  resnet18,
  robustAccuracy,
  saveChart,
  writeAtomic,
  type Series,
} from '../index.js';


/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Epochs per model (default 4). */
  epochs?: number;
  /** Channel width of the ResNet18s (default 1/8). */
  width?: number;
  /** Embedded test images to evaluate on (default 500). */
  testSize?: number;
  /** Output directory (default demo-out). */
  out?: string;
}

export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const epochs = options.epochs ?? 4;
  const width = options.width ?? 0.125;
  const testSize = options.testSize ?? 500;
  const out = options.out ?? 'demo-out';
  const eps = 8 / 255;
  mkdirSync(out, { recursive: true });
  const info = backendInfo();
  console.log(`backend: ${info.backend}; native kernels: ${info.native.available ? `oneDNN ${info.native.oneDNN}` : `no (${info.native.reason})`}`);

  const trainSet = await loadCifar10Sample('train');
  const testSet = await loadCifar10Sample('test');
  const xTest = imagesToTensor(testSet, 0, testSize);
  const yTest = Array.from(testSet.labels.subarray(0, testSize));
  console.log(`data: ${trainSet.count} real CIFAR-10 training images, ${testSize} test images (embedded sample)`);
  console.log(`training: TRADES (beta 6, KL-PGD-10, eps 8/255), ${epochs} epochs, batch 64, SGD 0.1 momentum 0.9, ResNet18 width ${width}\n`);

  interface Row {
    strides: string;
    featureMap: string;
    clean: number;
    fgsm: number;
    pgd20: number;
    antiPerturbation: number;
    seconds: number;
  }
  const rows: Row[] = [];
  const curves: Series[] = [];
  for (const strides of ['1-2-2-2', '1-1-2-2']) {
    const model = resnet18({ strides, width, seed: 0 });
    const f = featureMapShape(model);
    const start = Date.now();
    const result = await adversarialTrain(model, trainSet, {
      ...presets.trades,
      epochs,
      batchSize: 64,
      seed: 0,
      onEpochEnd: (e) => console.log(`  ${strides} epoch ${e.epoch + 1}/${epochs}: loss ${e.loss.toFixed(4)} (${((Date.now() - start) / 1000).toFixed(0)} s)`),
    });
    curves.push({ name: strides, points: result.epochs.map((e) => [e.epoch + 1, e.loss] as [number, number]) });
    const acc = robustAccuracy(model, { x: xTest, y: yTest }, [fgsmAttack(), pgdAttack({ name: 'PGD-20', steps: 20, relStepSize: 0.25, seed: 1 })], { eps, batchSize: 100 });
    const [ratio] = antiPerturbationRatio(model, xTest, [eps], { seed: 2, batchSize: 100 });
    rows.push({
      strides,
      featureMap: `${f.height}x${f.width}`,
      clean: acc.clean,
      fgsm: acc.perAttack['FGSM']!,
      pgd20: acc.perAttack['PGD-20']!,
      antiPerturbation: ratio!.ratio,
      seconds: (Date.now() - start) / 1000,
    });
    model.dispose();
  }

  const pct = (v: number) => (100 * v).toFixed(1);
  const table = [
    '| strides | feature map before avg pool | clean % | FGSM % | PGD-20 % | anti-perturbation % (PGD-20, eps 8/255) | time |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.strides} | ${r.featureMap} | ${pct(r.clean)} | ${pct(r.fgsm)} | ${pct(r.pgd20)} | ${pct(r.antiPerturbation)} | ${r.seconds.toFixed(0)} s |`),
  ].join('\n');
  console.log(`\n${table}\n`);
  await writeAtomic(join(out, 'results.md'), `${table}\n`);
  await writeAtomic(join(out, 'results.json'), JSON.stringify({ epochs, width, testSize, eps, rows, backend: info }, null, 1));
  await saveChart(join(out, 'training-loss'), { title: 'TRADES training loss on the embedded CIFAR-10 sample', xLabel: 'epoch', yLabel: 'loss', series: curves });
  console.log(`results and plots in ${out}/ (results.md, results.json, training-loss.svg)`);
  tf.dispose(xTest);
}
