// The browser test page (issue #14): bundled by test/browser/run.mjs from a temporary project where the
// packed package is installed, so 'rmc-robust' below is the published package, not src/. It imports
// only the package and tfjs, runs on the backend named in the URL (?backend=cpu|wasm|webgl) and reports
// to the harness through `window.__result`. No DOM types: the repo's tsconfig has no "dom" lib.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  adversarialTrain, avgPoolingBound, backendInfo, disableFastKernels, enableFastKernels, exportSafetensors, fgsm, ioCheckpoints, loadCifar10Sample, loadSafetensors,
  loadTorchCheckpoint, maxPoolingBound, mulberry32, pgd, readTorchCheckpoint, resnet18, tradesAdversary, tradesLoss, TorchSGD,
} from 'rmc-robust';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

interface PageResult {
  ok: boolean;
  backend: string;
  checks: Check[];
  error?: string;
  ms: number;
}

const page = globalThis as unknown as { location: { search: string }; __result?: PageResult };
const checks: Check[] = [];
const check = (name: string, ok: boolean, detail: string) => {
  checks.push({ name, ok, detail });
};

/** Largest |a - b| over two equally long arrays, in float64. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The eps-ball and [0, 1] checks of one attack's output. */
function checkAdversarial(name: string, adv: tf.Tensor4D, x: Float32Array, eps: number): number {
  const a = adv.dataSync();
  let outside = 0;
  let outOfRange = 0;
  let moved = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - x[i]!);
    if (!(d <= eps + 1e-6)) outside++;
    if (!(a[i]! >= 0 && a[i]! <= 1)) outOfRange++;
    moved = Math.max(moved, d);
  }
  check(`${name}: every pixel within the eps ball`, outside === 0, `${outside} of ${a.length} pixels with |adv - x| > eps + 1e-6 (max |adv - x| = ${moved}, eps = ${eps})`);
  check(`${name}: every pixel within [0, 1]`, outOfRange === 0, `${outOfRange} of ${a.length} pixels outside [0, 1]`);
  return moved;
}

/**
 * On the cpu backend the package's WebAssembly SIMD convolutions run (a browser has no native addon):
 * they report so, and a convolution with both gradients agrees with tfjs-backend-cpu's own kernels.
 */
function checkWasmSimdConvolutions(): void {
  const info = backendInfo();
  const convs = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'].map((k) => info.kernels[k]);
  check('cpu convolutions on WebAssembly SIMD', convs.every((k) => k === 'wasm-simd') && info.wasmSimd?.available === true, `kernels ${convs.join(', ')}; wasmSimd ${JSON.stringify(info.wasmSimd)}`);
  const rand = mulberry32(1);
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 9 * 9 * 12 }, () => rand() - 0.5), [2, 9, 9, 12]);
  const w = tf.tensor4d(Float32Array.from({ length: 3 * 3 * 12 * 10 }, () => rand() - 0.5), [3, 3, 12, 10]);
  const grads = () => tf.tidy(() => {
    const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same')));
    return [tf.conv2d(x, w, 2, 'same'), ...tf.grads(f)([x, w])].map((t) => t.dataSync());
  });
  const ours = grads();
  disableFastKernels();
  const stock = grads();
  enableFastKernels();
  const diffs = ours.map((a, i) => maxAbsDiff(a, stock[i]!));
  check('WebAssembly SIMD convolutions = stock kernels', diffs.every((d) => d < 1e-4), `max |ours - stock| (forward, dx, dw): ${diffs.join(', ')}`);
  tf.dispose([x, w]);
}

async function run(backend: string): Promise<void> {
  if (backend === 'wasm') setWasmPaths('/wasm/');
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
  await tf.ready();
  check('backend', tf.getBackend() === backend, `active backend ${tf.getBackend()}`);
  if (backend === 'cpu') checkWasmSimdConvolutions();

  const model = resnet18({ width: 0.125, seed: 0 });
  const n = 2;
  const rand = mulberry32(0); // the package's seeded generator: the same test images on every backend
  const pixels = Float32Array.from({ length: n * 32 * 32 * 3 }, rand);
  const x = tf.tensor4d(pixels, [n, 32, 32, 3]);
  const y = tf.tensor1d([3, 7], 'int32');
  const eps = 8 / 255;

  const clean = model.predict(x) as tf.Tensor2D;
  const cleanLogits = clean.dataSync();
  check('resnet18 logits', tf.util.arraysEqual(clean.shape, [n, 10]) && cleanLogits.every(Number.isFinite), `shape [${clean.shape}], all finite: ${cleanLogits.every(Number.isFinite)}`);
  clean.dispose();

  // Attacks; the tensor count must come back to where it was after each call.
  const before = tf.memory().numTensors;
  const advPgd = pgd(model, x, y, { eps, steps: 3, seed: 0 });
  const movedPgd = checkAdversarial('pgd', advPgd, pixels, eps);
  advPgd.dispose();
  const afterPgd = tf.memory().numTensors;
  const advFgsm = fgsm(model, x, y, { eps });
  const movedFgsm = checkAdversarial('fgsm', advFgsm, pixels, eps);
  advFgsm.dispose();
  const afterFgsm = tf.memory().numTensors;
  check('attacks moved the images', movedPgd > 0 && Math.abs(movedFgsm - eps) <= 1e-6, `max |adv - x|: pgd ${movedPgd}, fgsm ${movedFgsm} (should be eps = ${eps})`);
  check('no tensor leak across pgd and fgsm', afterPgd === before && afterFgsm === before, `numTensors ${before} -> ${afterPgd} after pgd -> ${afterFgsm} after fgsm`);

  // Proposition 1, by hand: average pooling 2 exp(-2 HW gamma^2 / (b - a)^2) with HW = 16, b - a = 2,
  // gamma = 1/2 is 2 exp(-2); max pooling (b - a) sqrt(log sqrt(2 HW)) / gamma with HW = 8, b - a = 1,
  // gamma = 2 is sqrt(log 4) / 2.
  const avg = avgPoolingBound({ height: 4, width: 4, a: -1, b: 1, gamma: 0.5 });
  const max = maxPoolingBound({ height: 2, width: 4, a: -0.5, b: 0.5, gamma: 2 });
  check('avgPoolingBound = 2 exp(-2)', Math.abs(avg.value - 2 * Math.exp(-2)) < 1e-12 && !avg.vacuous, `got ${avg.value}, expected ${2 * Math.exp(-2)}`);
  check('maxPoolingBound = sqrt(log 4) / 2', Math.abs(max.value - Math.sqrt(Math.log(4)) / 2) < 1e-12, `got ${max.value}, expected ${Math.sqrt(Math.log(4)) / 2}`);

  // Two TRADES steps with PyTorch's SGD, as adversarialTrain does them.
  const trainable = model.trainableWeights;
  const start = trainable.map((w) => w.read().dataSync().slice());
  const optimizer = new TorchSGD(trainable, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) {
    const xAdv = tradesAdversary(model, x, { eps, steps: 2, stepSize: 2 / 255, seed: step });
    const lossFn = (): tf.Scalar =>
      tradesLoss(model.apply(x, { training: true }) as tf.Tensor2D, model.apply(xAdv, { training: true }) as tf.Tensor2D, y, { beta: 6 });
    const { value, grads } = tf.variableGrads(lossFn, trainable.map((w) => w.read() as tf.Variable));
    optimizer.step(trainable.map((w) => grads[(w.read() as tf.Variable).name] ?? null));
    losses.push(value.dataSync()[0]!);
    tf.dispose([xAdv, value, ...Object.values(grads)]);
  }
  const unchanged = trainable.filter((w, i) => maxAbsDiff(w.read().dataSync(), start[i]!) === 0).map((w) => w.name);
  check('TRADES loss finite', losses.every(Number.isFinite), `losses ${losses.join(', ')}`);
  check('TRADES steps changed every trainable weight', unchanged.length === 0, `${trainable.length - unchanged.length} of ${trainable.length} changed${unchanged.length ? `; unchanged: ${unchanged.join(', ')}` : ''}`);

  // IndexedDB round trip: the reloaded model gives the very same logits.
  await model.save('indexeddb://rmc-test');
  const loaded = await tfl.loadLayersModel('indexeddb://rmc-test');
  const a = model.predict(x) as tf.Tensor;
  const b = loaded.predict(x) as tf.Tensor;
  const diff = maxAbsDiff(a.dataSync(), b.dataSync());
  check('indexeddb save/load: identical logits', diff === 0 && a.dataSync().every(Number.isFinite), `max |logits - reloaded| = ${diff}`);
  tf.dispose([a, b, x, y]);
  loaded.dispose();
  model.dispose();

  // Data by URL: the package's embedded sample, fetched and md5-checked (JS md5) in the page.
  const sample = await loadCifar10Sample('test', { url: '/data/test.bin' });
  const perClass = Array.from({ length: 10 }, (_, c) => sample.labels.filter((l) => l === c).length);
  check('loadCifar10Sample by URL', sample.count === 1000 && perClass.every((k) => k === 100), `${sample.count} images, per class ${perClass.join(' ')}`);

  // A PyTorch checkpoint fetched from the server (a float16 ResNet-18 1-1-2-2 saved by torch.save), read
  // in the page: PyTorch 1.13's logits on the fixture's input; a malicious pickle is refused.
  await checkTorchImport(backend);

  // The trainer with IndexedDB checkpoints: one TRADES epoch, then a resumed run continues after it.
  const run = `indexeddb://rmc-run-${backend}`;
  const data = { x: tf.tensor4d(pixels, [n, 32, 32, 3]), y: tf.tensor1d([3, 7], 'int32') };
  const settings = { defense: 'trades' as const, batchSize: n, attackSteps: 1, augment: false, seed: 0, checkpoints: run };
  const first = resnet18({ width: 0.125, seed: 0 });
  await adversarialTrain(first, data, { ...settings, epochs: 1 });
  const probe = resnet18({ width: 0.125, seed: 5 });
  const saved = await ioCheckpoints(run).load('latest', probe);
  probe.dispose();
  const resumed = resnet18({ width: 0.125, seed: 5 });
  const result = await adversarialTrain(resumed, data, { ...settings, epochs: 2, resume: true });
  // result.epochs is the whole run's history: the checkpoint's epoch 0, then the resumed epoch 1.
  check('adversarialTrain checkpoints to indexeddb:// and resumes', saved?.state.epoch === 1 && result.startEpoch === 1 && result.epochs.map((e) => e.epoch).join() === '0,1' && Number.isFinite(result.epochs[1]!.loss),
    `checkpoint epoch ${saved?.state.epoch}, resumed at ${result.startEpoch}, epochs ${result.epochs.map((e) => e.epoch).join()}, loss ${result.epochs[1]?.loss}`);
  tf.dispose([data.x, data.y]);
  first.dispose();
  resumed.dispose();
}

/** Float32 values of a fixture's base64 little-endian tensor. */
function base64Floats(text: string): Float32Array {
  const raw = atob(text);
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

async function checkTorchImport(backend: string): Promise<void> {
  interface Encoded { shape: number[]; data: string }
  const manifest = (await (await fetch('/torch/manifest.json')).json()) as {
    input: Encoded;
    cases: Array<{ file: string; options: { width: number; strides: string }; logits: Encoded }>;
  };
  const c = manifest.cases.find((k) => k.file === 'resnet18-1122-float16.pt')!;
  const bytes = new Uint8Array(await (await fetch(`/torch/${c.file}`)).arrayBuffer());
  const model = resnet18(c.options);
  const report = loadTorchCheckpoint(model, bytes);
  const x = tf.tensor4d(base64Floats(manifest.input.data), manifest.input.shape as [number, number, number, number]);
  const y = model.predict(x) as tf.Tensor;
  const diff = maxAbsDiff(y.dataSync(), base64Floats(c.logits.data));
  // webgl computes in float32 too, but sums in another order (and may use reduced precision): a looser bound there.
  const bound = backend === 'webgl' ? 1e-3 : 1e-4;
  check('torch.save checkpoint fetched and imported: PyTorch logits', diff < bound && report.loaded.length === model.weights.length,
    `max |logits - PyTorch| = ${diff} (bound ${bound}), ${report.loaded.length}/${model.weights.length} weights loaded, ${report.skipped.length} skipped`);
  const again = resnet18({ ...c.options, seed: 9 });
  loadSafetensors(again, exportSafetensors(model));
  const z = again.predict(x) as tf.Tensor;
  check('exportSafetensors -> loadSafetensors: identical logits', maxAbsDiff(y.dataSync(), z.dataSync()) === 0, `max diff ${maxAbsDiff(y.dataSync(), z.dataSync())}`);
  tf.dispose([x, y, z]);
  model.dispose();
  again.dispose();
  const evil = new Uint8Array(await (await fetch('/torch/malicious-os-system.pt')).arrayBuffer());
  let refusal = '';
  try {
    readTorchCheckpoint(evil);
  } catch (e) {
    refusal = (e as Error).message;
  }
  check('a pickled os.system call is refused', /refused the global 'posix\.system'/.test(refusal), refusal || 'no error');
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const backend = new URLSearchParams(page.location.search).get('backend') ?? 'cpu';
  try {
    await run(backend);
    page.__result = { ok: checks.length > 0 && checks.every((c) => c.ok), backend, checks, ms: performance.now() - t0 };
  } catch (e) {
    const error = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    page.__result = { ok: false, backend, checks, error, ms: performance.now() - t0 };
  }
}

void main();
