/**
 * Loads the native kernel pack once per process, by the first route that works:
 * 1. `source`: the addon built at install time from the system's oneDNN headers
 *    (`native/build/Release/rmc_native.node`, tuned for the building machine), when there is one;
 * 2. `prebuilt`: the binary shipped in the package for this platform
 *    (`prebuilds/linux-x64/rmc_native.node`, glibc), with the oneDNN runtime and the libraries it needs
 *    beside it, found through the addon's DT_RPATH `$ORIGIN` (see scripts/build-prebuilds.mjs).
 * `RMC_NATIVE=0` turns the pack off; `RMC_NATIVE=prebuilt` or `RMC_NATIVE=source` allows one route only;
 * `RMC_THREADS=n` sets the number of threads the native kernels use; their idle threads spin briefly
 * (`GOMP_SPINCOUNT=3000` unless `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` is set), so a shared machine
 * slows them down gracefully.
 * The routes not taken are reported with the reason, for `backendInfo()` and `rmc-robust info`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddonAttempt, AddonRoute, AddonStatus, NativeAddon } from '../backend/addon.js';
import { packageFile } from './package-path.js';

const PREBUILT_DIR = `prebuilds/${process.platform}-${process.arch}`;
const FILES: Record<AddonRoute, string> = {
  source: 'native/build/Release/rmc_native.node',
  prebuilt: `${PREBUILT_DIR}/rmc_native.node`,
};

let status: AddonStatus | undefined;

/** How often an idle OpenMP thread of the native kernels checks for work before it sleeps (libgomp's default: 300,000). */
const SPIN_COUNT = 3000;

/**
 * `RMC_THREADS=n` sets the native kernels' thread count (OpenMP's `OMP_NUM_THREADS`, read once when
 * the addon loads; default: one per core). A value that is not an integer >= 1 is reported and ignored.
 */
function applyThreadSettings(): void {
  // libgomp's threads spin 300,000 times at every barrier before they sleep. On a shared machine (a
  // second busy process) a spinning thread takes the core its descheduled sibling needs, and a ResNet18
  // PGD step fell to 0.35 of its quiet throughput; spinning 3,000 times keeps the quiet speed (within
  // the noise) and 0.55 under load (docs/performance.md). The user's own settings win.
  if (process.env['GOMP_SPINCOUNT'] === undefined && process.env['OMP_WAIT_POLICY'] === undefined) process.env['GOMP_SPINCOUNT'] = String(SPIN_COUNT);
  const threads = process.env['RMC_THREADS'];
  if (threads === undefined || threads.trim() === '') return;
  if (!/^\d+$/.test(threads.trim()) || Number(threads) < 1) {
    console.warn(`rmc-robust: RMC_THREADS = '${threads}' is not an integer >= 1; using OpenMP's default thread count`);
    return;
  }
  process.env['OMP_NUM_THREADS'] = String(Number(threads));
}

/** Compares dotted versions numerically: negative when `a` is older than `b`. */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** Why the prebuilt binary cannot load on this system, or null when it may. */
function prebuiltMismatch(): string | null {
  const manifestPath = packageFile(`${PREBUILT_DIR}/manifest.json`);
  if (!manifestPath) return `no prebuilt binary for ${process.platform}-${process.arch} (there is one for linux-x64 with glibc)`;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { needs: { GLIBC: string } };
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibc = header?.glibcVersionRuntime;
  if (!glibc) return 'the prebuilt binary needs glibc (this system has another C library, e.g. musl)';
  if (compareVersions(glibc, manifest.needs.GLIBC) < 0) return `the prebuilt binary needs glibc ${manifest.needs.GLIBC} or later (this system has ${glibc})`;
  return null;
}

function tryLoad(route: AddonRoute): { addon: NativeAddon; path: string } | { reason: string } {
  if (route === 'prebuilt') {
    const mismatch = prebuiltMismatch();
    if (mismatch) return { reason: mismatch };
  }
  const path = packageFile(FILES[route]);
  if (!path) return { reason: route === 'source' ? 'not built from source (npm run build:native; needs oneDNN headers: libdnnl-dev)' : `${FILES[route]} is missing from the package` };
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon, path };
  } catch (e) {
    return { reason: `${path} failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
}

/**
 * Finds and loads the addon once (see above). Loading it also makes glibc's malloc keep freed memory
 * for reuse, unless `RMC_HEAP_REUSE=0`.
 */
export function loadAddon(): AddonStatus {
  if (status) return status;
  applyThreadSettings();
  const setting = process.env['RMC_NATIVE'];
  if (setting === '0') return (status = { addon: null, reason: 'disabled by RMC_NATIVE=0', others: [] });
  const routes: AddonRoute[] = setting === 'prebuilt' ? ['prebuilt'] : setting === 'source' ? ['source'] : ['source', 'prebuilt'];
  const others: AddonAttempt[] = [];
  for (const route of routes) {
    const result = tryLoad(route);
    if ('reason' in result) {
      others.push({ route, reason: result.reason });
      continue;
    }
    for (const rest of routes.slice(routes.indexOf(route) + 1)) others.push({ route: rest, reason: `not needed: the ${route} kernels loaded first` });
    if (setting === 'prebuilt' || setting === 'source') others.push({ route: route === 'source' ? 'prebuilt' : 'source', reason: `not tried (RMC_NATIVE=${setting})` });
    // Recycle freed tensor memory instead of paging it in afresh for every tensor (RMC_HEAP_REUSE=0 keeps malloc's defaults).
    const heapReuse = process.env['RMC_HEAP_REUSE'] === '0' ? false : result.addon.keepFreedMemory();
    return (status = { addon: result.addon, path: result.path, route, heapReuse, others });
  }
  const reason = others.map((o) => `${o.route}: ${o.reason}`).join('; ');
  return (status = { addon: null, reason, others });
}
