/**
 * Dev script, step 2 of scripts/make-torch-checkpoints.sh: imports a PyTorch checkpoint fixture with the
 * package and writes the model's weights back with exportSafetensors, to
 * test/fixtures/torch-checkpoints/from-tfjs.safetensors; step 3 (scripts/torch_checkpoints.py verify)
 * checks in PyTorch that the file holds the very same tensors.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { exportSafetensors, loadTorchCheckpoint, resnet18 } from '../src/index.node.js';

await tf.setBackend('cpu');
const dir = 'test/fixtures/torch-checkpoints';
const source = 'resnet18-1122-float16.pt';
const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as { cases: Array<{ file: string; options: { width: number; strides: string } }> };
const { options } = manifest.cases.find((c) => c.file === source)!;
const model = resnet18(options);
loadTorchCheckpoint(model, new Uint8Array(readFileSync(`${dir}/${source}`)));
writeFileSync(`${dir}/from-tfjs.safetensors`, exportSafetensors(model));
console.error(`wrote ${dir}/from-tfjs.safetensors from ${source}`);
