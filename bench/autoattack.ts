/**
 * The AutoAttack table of bench/run.ts, this library's side (bench/torch_autoattack.py is PyTorch's):
 *   tsx bench/autoattack.ts prepare <spec.json>      each network's weights, APGD's start points, the labels
 *   tsx bench/autoattack.ts serve <spec.json> <net>  answers requests on stdin about that network
 * `prepare` builds `resnet18({ strides, width, seed })` and writes its weights with exportSafetensors (the
 * PyTorch names and layout both sides load), and in `<net>-data.safetensors` the labels (the network's clean
 * predictions: every point is attacked) and one start point per image for APGD (`x + eps t / ||t||_2`,
 * `t ~ N(0, 1)`, clipped to [0, 1]; the same for both sides, so their APGD runs can agree).
 * `serve` loads those files, then answers each line of stdin with one JSON line: `logits` with the clean
 * logits (the sanity check of the weights' exchange), `warmup` after one untimed run of each of the
 * network's attacks at the smallest budget, and `<i>` after timing attack i of the spec: { net, kind, ms,
 * robust }. (bench/run.ts alternates the attacks between the two sides' processes.)
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  apgd,
  apgdTargeted,
  exportSafetensors,
  fabTargeted,
  loadCifar10Sample,
  loadSafetensors,
  readSafetensors,
  resnet18,
  square,
  writeSafetensors,
} from '../src/index.node.js';
import { aaWarmup, type AaAttack, type AaNet, type AaResult, type AaSpec } from './autoattack-spec.js';

const [command, specPath, netName] = process.argv.slice(2);
if ((command !== 'prepare' && command !== 'serve') || !specPath) throw new Error('usage: tsx bench/autoattack.ts prepare <spec.json> | serve <spec.json> <net>');
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as AaSpec;
await tf.setBackend('cpu');
const test = await loadCifar10Sample('test');

/** The first `n` test images of the embedded sample, NHWC in [0, 1]. */
function images(n: number): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(test.images.subarray(0, n * 32 * 32 * 3), [n, 32, 32, 3], 'int32'), 255));
}

function prepare(net: AaNet): void {
  const model = resnet18({ strides: net.strides, width: net.width, seed: net.seed });
  writeFileSync(join(spec.dir, `${net.name}.safetensors`), exportSafetensors(model));
  const x = images(net.images);
  const [init, labels] = tf.tidy(() => {
    const t = tf.randomNormal(x.shape, 0, 1, 'float32', net.seed + 1);
    const length = tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
    return [tf.clipByValue(tf.add(x, tf.mul(tf.div(t, length), net.eps)), 0, 1), tf.cast(tf.argMax(model.predict(x) as tf.Tensor, 1), 'float32')];
  });
  const data = writeSafetensors({
    init: { shape: init.shape, data: init.dataSync() as Float32Array },
    labels: { shape: labels.shape, data: labels.dataSync() as Float32Array },
  });
  writeFileSync(join(spec.dir, `${net.name}-data.safetensors`), data);
  tf.dispose([x, init, labels]);
  model.dispose();
}

function serve(net: AaNet): (request: string) => object {
  const model = resnet18({ strides: net.strides, width: net.width, seed: net.seed + 1000 });
  loadSafetensors(model, readFileSync(join(spec.dir, `${net.name}.safetensors`)));
  const data = readSafetensors(readFileSync(join(spec.dir, `${net.name}-data.safetensors`))).tensors;
  const x = images(net.images);
  const init = tf.tensor4d(data['init']!.data, x.shape);
  const labels = tf.tensor1d(Array.from(data['labels']!.data), 'int32');
  const { eps } = net;
  const { norm } = spec;
  const onWarning = (message: string) => console.error(`${net.name}: ${message}`);
  const attack = (a: AaAttack): tf.Tensor4D => {
    switch (a.kind) {
      case 'apgd-ce':
        return apgd(model, x, labels, { eps, norm, steps: a.steps, loss: 'ce', init, onWarning });
      case 'apgd-t':
        return apgdTargeted(model, x, labels, { eps, norm, steps: a.steps, targetClasses: a.targets, init, onWarning });
      case 'fab-t':
        return fabTargeted(model, x, labels, { eps, norm, steps: a.steps, targetClasses: a.targets });
      case 'square':
        // As AutoAttack runs it: margin loss, p_init 0.8, no rescaled schedule.
        return square(model, x, labels, { eps, norm, queries: a.queries, seed: spec.seed, loss: 'margin', pInit: 0.8, rescaleSchedule: false });
    }
  };
  const answer = (request: string): object => {
    if (request === 'logits') {
      const logits = model.predict(x) as tf.Tensor;
      const values = Array.from(logits.dataSync());
      logits.dispose();
      return { net: net.name, logits: values };
    }
    if (request === 'warmup') {
      for (const a of spec.attacks.filter((a) => a.net === net.name)) attack(aaWarmup(a)).dispose();
      return {};
    }
    const a = spec.attacks[Number(request)];
    if (!a || a.net !== net.name) throw new Error(`no attack ${request} on ${net.name}`);
    const start = performance.now();
    const adv = attack(a);
    const ms = performance.now() - start;
    const robust = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(adv) as tf.Tensor, 1), labels), 'float32')).dataSync()[0]!);
    adv.dispose();
    const result: AaResult = { net: net.name, kind: a.kind, ms, robust };
    return result;
  };
  return answer;
}

if (command === 'prepare') {
  spec.nets.forEach(prepare);
} else {
  const net = spec.nets.find((n) => n.name === netName);
  if (!net) throw new Error(`no network '${netName}' in ${specPath}`);
  const answer = serve(net);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim()) console.log(JSON.stringify(answer(line.trim())));
  }
}
