#!/usr/bin/env node
/**
 * The `rmc-robust` command line. tfjs-backend-cpu is loaded first, so the package's kernel pack
 * registers over its kernels (not the other way round); when it is missing, `--help` still works and
 * the commands say how to install it. Exits with runCli's code (src/cli/usage.ts); whatever fails
 * before it can run is one line on stderr and exit code 1, never a stack trace.
 */
import { dropTfjsNodeBanner } from '../node/quiet-tfjs.js';

try {
  dropTfjsNodeBanner();
  let cpuBackendMissing = false;
  try {
    await import('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    cpuBackendMissing = true;
  }
  const { runCli } = await import('./program.js');
  const code = await runCli(process.argv, { cpuBackendMissing });
  // On success the process ends by itself once its output is written; errors end it now.
  if (code !== 0) process.exit(code);
} catch (e) {
  process.stderr.write(`rmc-robust: ${String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}
