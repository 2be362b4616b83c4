import { packageFile } from '../io/package-path.js';
import { md5, parseCifarRecords, type CifarSplit } from './cifar.js';

/** md5 of the embedded sample files (scripts/make-cifar10-sample.ts). */
export const CIFAR10_SAMPLE_MD5: Readonly<Record<'train' | 'test', string>> = {
  train: '156a5ebb8444e7b4924a92d6456cc63f',
  test: '86e952e70fdd52c86866d92514f30b33',
};

/**
 * The real CIFAR-10 images shipped with the package: 2,000 training images (200 per class) and 1,000
 * test images (100 per class), drawn reproducibly from the official data (seeded permutations, see
 * data/cifar10-sample/manifest.json), for demos and tests that need no download. md5-checked on load.
 */
export async function loadCifar10Sample(split: 'train' | 'test' = 'train'): Promise<CifarSplit> {
  const path = packageFile(`data/cifar10-sample/${split}.bin`);
  if (!path) throw new Error(`the embedded CIFAR-10 sample (data/cifar10-sample/${split}.bin) is missing from the package`);
  const { readFile } = await import('node:fs/promises');
  const data = await readFile(path);
  const sum = await md5(data);
  if (sum !== CIFAR10_SAMPLE_MD5[split]) throw new Error(`${path}: md5 ${sum} differs from ${CIFAR10_SAMPLE_MD5[split]} (corrupt sample)`);
  return parseCifarRecords(data, 1, path);
}
