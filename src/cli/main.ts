#!/usr/bin/env node
/**
 * The `rmc-robust` command line. tfjs-backend-cpu is loaded first, so the package's kernel pack
 * registers over its kernels (not the other way round); when it is missing, `--help` still works and
 * the commands say how to install it.
 */
export {};

let cpuBackendMissing = false;
try {
  await import('@tensorflow/tfjs-backend-cpu');
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
  cpuBackendMissing = true;
}
const { runCli } = await import('./program.js');
await runCli(process.argv, cpuBackendMissing);
