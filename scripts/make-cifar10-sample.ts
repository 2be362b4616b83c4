/**
 * Dev script: the embedded CIFAR-10 sample (data/cifar10-sample/), drawn reproducibly from the real
 * data: a seeded permutation (seed 2026) of each split, keeping the first 200 training and 100 test
 * images of each class, in permutation order. Written in the official binary record format.
 *
 *   npx tsx scripts/make-cifar10-sample.ts <dir with the official CIFAR-10 binary files>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import '../src/node/register.js';
import { loadCifar10, md5 } from '../src/data/cifar.js';
import { permutation } from '../src/data/random.js';

const source = process.argv[2] ?? '/tmp/cifar10-data';
const out = 'data/cifar10-sample';
mkdirSync(out, { recursive: true });
const manifest: Record<string, unknown> = { seed: 2026, source: 'CIFAR-10 (official binary files, md5-verified)', files: {} };
for (const [split, perClass] of [['train', 200], ['test', 100]] as const) {
  const data = await loadCifar10(source, { split });
  const order = permutation(data.count, split === 'train' ? 2026 : 2027);
  const taken = new Array(10).fill(0);
  const chosen: number[] = [];
  for (const i of order) {
    const label = data.labels[i]!;
    if (taken[label] < perClass) {
      taken[label]++;
      chosen.push(i);
    }
  }
  const records = new Uint8Array(chosen.length * 3073);
  chosen.forEach((i, k) => {
    const r = k * 3073;
    records[r] = data.labels[i]!;
    const img = data.images.subarray(i * 3072, (i + 1) * 3072);
    for (let p = 0; p < 1024; p++) {
      records[r + 1 + p] = img[3 * p]!;
      records[r + 1 + 1024 + p] = img[3 * p + 1]!;
      records[r + 1 + 2048 + p] = img[3 * p + 2]!;
    }
  });
  writeFileSync(`${out}/${split}.bin`, records);
  (manifest['files'] as Record<string, unknown>)[`${split}.bin`] = { count: chosen.length, perClass, md5: await md5(records), indices: chosen };
  console.log(split, chosen.length, await md5(records));
}
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest));
