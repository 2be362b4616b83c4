import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { alexnet, preActResNet18, resnet18, vgg16, wideResNet, type NormalizeStats, type TorchKeyLayout, type WideResNetOptions } from '../../src/index.js';
import type { Encoded } from './fixture.js';

/** One checkpoint of test/fixtures/torch-checkpoints/ with PyTorch's logits on the manifest's input. */
export interface CheckpointCase {
  file: string;
  arch: 'resnet18' | 'preActResNet18' | 'vgg16' | 'alexnet' | 'wideResNet';
  options: WideResNetOptions;
  layout: TorchKeyLayout;
  logits: Encoded;
  wrapper?: string;
  prefix?: string;
  dtype?: string;
}

/** test/fixtures/torch-checkpoints/manifest.json, written by scripts/make-torch-checkpoints.sh (PyTorch 1.13). */
export interface CheckpointManifest {
  provenance: Record<string, string>;
  input: Encoded;
  cases: CheckpointCase[];
  safetensors: CheckpointCase;
  fromTfjs: { file: string; source: string; sha256: string; checked: string };
  refused: { legacy: string; malicious: string[]; marker: string; torchscript: string };
}

const dir = fileURLToPath(new URL('../fixtures/torch-checkpoints/', import.meta.url));

export const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as CheckpointManifest;

/** The bytes of a fixture file. */
export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(`${dir}${file}`));
}

export const CHECKPOINT_BUILDERS = { resnet18, preActResNet18, vgg16, alexnet, wideResNet };

/** The case's model (the manifest's options; `normalize` as given, e.g. from the checkpoint's mu/sigma). */
export function buildCase(c: CheckpointCase, normalize?: NormalizeStats | false) {
  const { normalize: _listed, ...options } = c.options as WideResNetOptions & { normalize?: unknown };
  const opts = normalize === undefined ? c.options : { ...options, normalize };
  return c.arch === 'wideResNet' ? wideResNet(opts) : CHECKPOINT_BUILDERS[c.arch](opts);
}
