/**
 * Loads the optional native kernel pack (native/build/Release/rmc_native.node, built by node-gyp
 * against oneDNN at install time) once per process.
 */
import { createRequire } from 'node:module';
import type { AddonStatus, NativeAddon } from '../backend/addon.js';
import { packageFile } from './package-path.js';

const ADDON = 'native/build/Release/rmc_native.node';

let status: AddonStatus | undefined;

/**
 * Finds and loads the addon once; `RMC_NATIVE=0` in the environment disables it. Loading it also
 * makes glibc's malloc keep freed memory for reuse, unless `RMC_HEAP_REUSE=0`.
 */
export function loadAddon(): AddonStatus {
  if (status) return status;
  if (process.env['RMC_NATIVE'] === '0') return (status = { addon: null, reason: 'disabled by RMC_NATIVE=0' });
  const candidate = packageFile(ADDON);
  if (!candidate) return (status = { addon: null, reason: 'not built (needs libdnnl-dev; run npm run build:native)' });
  try {
    const addon = createRequire(import.meta.url)(candidate) as NativeAddon;
    // Recycle freed tensor memory instead of paging it in afresh for every tensor (RMC_HEAP_REUSE=0 keeps malloc's defaults).
    const heapReuse = process.env['RMC_HEAP_REUSE'] === '0' ? false : addon.keepFreedMemory();
    return (status = { addon, path: candidate, heapReuse });
  } catch (e) {
    return (status = { addon: null, reason: `${candidate} failed to load: ${(e as Error).message}` });
  }
}
