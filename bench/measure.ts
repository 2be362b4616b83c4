/**
 * Benchmark cells of this library, one after another in this process:
 *   tsx bench/measure.ts <cells> <batch> <repeats> [warmup]
 * `cells` is a comma-separated list of `what@strides` (what: forward, pgd, train, pgd20-overhead), or `-`
 * to read one cell per line from stdin and answer each with its line (how bench/run.ts keeps a warm
 * process beside PyTorch's). Prints one JSON line per cell: { cell, imagesPerSecond, medianMs,
 * cpuMs (the process's CPU time per step, all threads), maxRssMiB (the process's peak so far), kernels, ... }.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createInterface } from 'node:readline';
import { backendInfo, pgd, resnet18, TorchSGD } from '../src/index.node.js';

const [cellsArg = 'forward@1-2-2-2', batchArg = '32', repeatsArg = '5', warmupArg = '3'] = process.argv.slice(2);
const batch = Number(batchArg);
const repeats = Number(repeatsArg);
// Untimed steps first: the first few steps grow the heap (page faults) and compile the kernels' shapes.
const warmupSteps = Number(warmupArg);
await tf.setBackend('cpu');

// Steps read their result inside tf.tidy and return nothing: tidy would otherwise walk every element of a
// returned typed array looking for tensors (about 0.15 µs each), which is not part of the step.
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** Wall times of `repeats` steps after `warmup` untimed ones; `cpu` receives each step's CPU time (all threads). */
function time(fn: () => void, warmup = warmupSteps, cpu: number[] = []): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const startCpu = process.cpuUsage();
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
    const used = process.cpuUsage(startCpu);
    cpu.push((used.user + used.system) / 1000);
  }
  return times;
}

const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const labels = tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D;
const onehot = tf.oneHot(labels, 10);

function measure(cell: string): Record<string, unknown> {
  const [what, strides = '1-2-2-2'] = cell.split('@');
  let result: Record<string, unknown>;
  if (what === 'pgd20-overhead') {
    // The library's own overhead: pgd() with 20 steps against 20 bare signed-gradient steps.
    const model = resnet18({ strides, width: 0.25, seed: 0 });
    const eps = 8 / 255;
    const step = eps / 4;
    const bare = () =>
      tf.tidy(() => {
        let xa: tf.Tensor = x;
        const grad = tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.apply(input, { training: false }) as tf.Tensor, undefined, 0, tf.Reduction.SUM));
        for (let i = 0; i < 20; i++) {
          xa = tf.clipByValue(tf.add(x, tf.clipByValue(tf.sub(tf.add(xa, tf.mul(tf.sign(grad(xa)), step)), x), -eps, eps)), 0, 1);
        }
        xa.dataSync();
      });
    const library = () => tf.tidy(() => { pgd(model, x, labels, { eps, steps: 20, relStepSize: 0.25, randomStart: false }).dataSync(); });
    const bareMs = median(time(bare));
    const libraryMs = median(time(library));
    model.dispose();
    result = { bareMs, libraryMs, overhead: libraryMs / bareMs - 1 };
  } else {
    const model = resnet18({ strides, seed: 0 });
    // The library's optimiser, as the trainer uses it: torch.optim.SGD(lr=0.1, momentum=0.9), like the PyTorch side.
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const optimizer = new TorchSGD(trainable, { lr: 0.1, momentum: 0.9 });
    const loss = (input: tf.Tensor, training: boolean) =>
      tf.losses.softmaxCrossEntropy(onehot, model.apply(input, { training }) as tf.Tensor) as tf.Scalar;
    const steps: Record<string, () => void> = {
      forward: () => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); }),
      pgd: () => tf.tidy(() => { tf.grad((input: tf.Tensor) => loss(input, false))(x).dataSync(); }),
      train: () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => loss(x, true), trainable);
          optimizer.step(trainable.map((v) => grads[v.name] ?? null));
          value.dataSync();
        }),
    };
    const fn = steps[what!];
    if (!fn) throw new Error(`unknown measurement ${what}`);
    const cpu: number[] = [];
    const ms = median(time(fn, warmupSteps, cpu));
    optimizer.dispose();
    model.dispose();
    result = { imagesPerSecond: (batch * 1000) / ms, medianMs: ms, cpuMs: median(cpu) };
  }
  return { cell, ...result, maxRssMiB: process.resourceUsage().maxRSS / 1024, kernels: backendInfo().kernels };
}

if (cellsArg === '-') {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim()) console.log(JSON.stringify(measure(line.trim())));
  }
} else {
  for (const cell of cellsArg.split(',')) console.log(JSON.stringify(measure(cell)));
}
