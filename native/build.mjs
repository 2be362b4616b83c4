#!/usr/bin/env node
// The native kernel pack (oneDNN convolutions for tfjs-backend-cpu) at install time.
//
//   node native/build.mjs             build from source with node-gyp; fail loudly if it cannot be built
//   node native/build.mjs --optional  (npm install) use the prebuilt binary shipped for this platform
//                                     when it loads here; else build from source if oneDNN's headers
//                                     are installed; else explain and exit 0 (the JS kernels run)
//
// Building from source needs a C++17 compiler and oneDNN's headers and library (Debian/Ubuntu:
// apt-get install libdnnl-dev). backendInfo() and `rmc-robust info` tell which route is in use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const here = dirname(fileURLToPath(import.meta.url));

function done(message, code) {
  console.log(`rmc-robust native kernels: ${message}`);
  process.exit(optional ? 0 : code);
}

if (process.env.RMC_NATIVE === '0') done('skipped (RMC_NATIVE=0)', 0);

// The prebuilt binary (prebuilds/<platform>-<arch>/, with the oneDNN runtime beside it): loaded in a
// child process, so a binary that cannot load here (another libc, an older glibc) fails there alone.
if (optional && process.env.RMC_NATIVE !== 'source') {
  const prebuilt = join(here, '..', 'prebuilds', `${process.platform}-${process.arch}`, 'rmc_native.node');
  if (existsSync(prebuilt)) {
    const probe = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(prebuilt)}).info().oneDNN)`], { encoding: 'utf8' });
    if (probe.status === 0) done(`using the prebuilt kernels (oneDNN ${probe.stdout.trim()}, ${prebuilt})`, 0);
    console.log(`rmc-robust native kernels: the prebuilt binary does not load here (${(probe.stderr || '').trim().split('\n')[0]}); trying a build from source`);
  }
}
const headers = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'];
if (!headers.some((h) => existsSync(h)) && !process.env.DNNL_ROOT) {
  done('not built: oneDNN headers not found (apt-get install libdnnl-dev); using the JS kernels', 1);
}

// node-gyp: the one npm runs scripts with, else npm's bundled copy, else a local install.
function findNodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = dirname(dirname(process.execPath));
  for (const candidate of [
    join(npmDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(npmDir, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) done('not built: node-gyp not found', 1);
const args = [nodeGyp, 'rebuild', '--directory', here];
// Build against the installed Node headers when present (no download needed).
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
if (nodedir) args.push(`--nodedir=${nodedir}`);
const result = spawnSync(process.execPath, args, { stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (result.status !== 0) {
  if (optional) console.log((result.stdout ?? '') + (result.stderr ?? ''));
  done(`node-gyp failed (exit ${result.status}); using the JS kernels`, result.status ?? 1);
}
done(`built ${join(here, 'build', 'Release', 'rmc_native.node')}`, 0);
