#!/usr/bin/env node
// Rebuilds the prebuilt native kernel pack from scratch: prebuilds/linux-x64/ holds the addon built for
// any x86-64-v2 CPU (binding.gyp's portable=1) and the oneDNN runtime it needs, with the libraries
// oneDNN itself needs, loaded beside it through DT_RPATH $ORIGIN; manifest.json records each file's
// sha256 and size, where it came from, and the newest glibc / libstdc++ symbol versions the files
// need (the minimum system they load on).
//
//   node scripts/build-prebuilds.mjs
//
// Needs (Debian 12): g++, Node's headers, and apt-get install libdnnl-dev ocl-icd-libopencl1 (the
// oneDNN 2.6 headers and runtime, Debian's build; libgomp1 comes with g++).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = `${process.platform}-${process.arch}`;
if (target !== 'linux-x64') throw new Error(`prebuilds are made on linux-x64 (glibc); this is ${target}`);
const out = join(root, 'prebuilds', target);
/** The shared libraries shipped beside the addon, by soname: oneDNN and what it needs that a minimal system may lack. */
const BUNDLED = ['libdnnl.so.2', 'libgomp.so.1', 'libOpenCL.so.1'];
/** Debian packages the bundled files come from (their versions go into the manifest). */
const PACKAGES = { 'libdnnl.so.2': 'libdnnl2', 'libgomp.so.1': 'libgomp1', 'libOpenCL.so.1': 'ocl-icd-libopencl1' };

const sh = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...options }).trim();

// 1. Build the addon in a scratch copy of native/ (never touching the source build in native/build).
const work = mkdtempSync(join(tmpdir(), 'rmc-prebuild-'));
try {
  for (const file of ['binding.gyp', 'rmc_native.cc']) copyFileSync(join(root, 'native', file), join(work, file));
  const require = createRequire(import.meta.url);
  const npmNodeGyp = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const nodeGyp = process.env.npm_config_node_gyp ?? (existsSync(npmNodeGyp) ? npmNodeGyp : require.resolve('node-gyp/bin/node-gyp.js'));
  const args = [nodeGyp, 'rebuild', '--directory', work];
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  args.push('--', '-Dportable=1', '-Dmarch=x86-64-v2');
  const build = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`node-gyp failed (exit ${build.status})`);
  const addon = join(work, 'build', 'Release', 'rmc_native.node');

  // 2. The shared libraries the addon resolves on this machine, by soname (ldd).
  const resolved = Object.fromEntries(
    sh('ldd', [addon]).split('\n').map((line) => /^\s*(\S+) => (\S+)/.exec(line)).filter(Boolean).map((m) => [m[1], m[2]]),
  );
  const missing = BUNDLED.filter((name) => !resolved[name]);
  if (missing.length) throw new Error(`ldd does not resolve ${missing.join(', ')} for the addon (apt-get install libdnnl-dev ocl-icd-libopencl1)`);
  const rpath = sh('readelf', ['-d', addon]);
  if (!/\(RPATH\).*\[\$ORIGIN\]/.test(rpath)) throw new Error(`the addon has no DT_RPATH $ORIGIN:\n${rpath}`);

  // 3. prebuilds/linux-x64/: the addon (stripped) and the libraries under their sonames.
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(addon, join(out, 'rmc_native.node'));
  sh('strip', ['--strip-unneeded', join(out, 'rmc_native.node')]);
  for (const name of BUNDLED) copyFileSync(realpathSync(resolved[name]), join(out, name));
  // Their licences (Apache-2.0 for oneDNN, GPL-3 with the GCC Runtime Library Exception for libgomp,
  // BSD-2-Clause for ocl-icd), as Debian ships them.
  mkdirSync(join(out, 'licenses'));
  for (const pkg of Object.values(PACKAGES)) copyFileSync(realpathSync(`/usr/share/doc/${pkg}/copyright`), join(out, 'licenses', `${pkg}.copyright`));

  // 4. Check: loaded from there, in a fresh process, every bundled library comes from prebuilds/.
  const probe = `const a = require(${JSON.stringify(join(out, 'rmc_native.node'))}); const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
    console.log(JSON.stringify({ info: a.info(), libs: ${JSON.stringify(BUNDLED)}.map((n) => maps.split('\\n').find((l) => l.includes('/' + n))?.split(' ').pop() ?? null) }));`;
  const loaded = JSON.parse(sh(process.execPath, ['-e', probe], { env: { ...process.env, LD_LIBRARY_PATH: '' } }));
  const strays = BUNDLED.filter((name, i) => loaded.libs[i] !== join(out, name));
  if (strays.length) throw new Error(`loaded from elsewhere: ${strays.map((n, i) => `${n} <- ${loaded.libs[BUNDLED.indexOf(n)]}`).join(', ')}`);

  // 5. The manifest: sha256, sizes, origins and the newest symbol versions needed.
  const newest = (file, prefix) => {
    const versions = [...sh('objdump', ['-T', file]).matchAll(new RegExp(`\\b${prefix}_([0-9.]+)`, 'g'))].map((m) => m[1]);
    return versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop() ?? null;
  };
  const debianVersion = (pkg) => sh('dpkg-query', ['-W', '-f=${Version}', pkg]);
  const files = {};
  for (const name of readdirSync(out).filter((n) => n !== 'licenses').sort()) {
    const path = join(out, name);
    const data = readFileSync(path);
    files[name] = {
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: statSync(path).size,
      from: PACKAGES[name] ? `Debian ${PACKAGES[name]} ${debianVersion(PACKAGES[name])} (${basename(realpathSync(resolved[name]))})` : 'native/rmc_native.cc, binding.gyp portable=1 march=x86-64-v2',
      needs: { GLIBC: newest(path, 'GLIBC'), GLIBCXX: newest(path, 'GLIBCXX') },
    };
  }
  const maxVersion = (key) => Object.values(files).map((f) => f.needs[key]).filter(Boolean).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
  const manifest = {
    target,
    libc: 'glibc',
    cpu: 'x86-64-v2 (the addon); oneDNN dispatches to the CPU at run time',
    oneDNN: loaded.info.oneDNN,
    napi: 8,
    compiler: sh('g++', ['--version']).split('\n')[0],
    needs: { GLIBC: maxVersion('GLIBC'), GLIBCXX: maxVersion('GLIBCXX') },
    files,
  };
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`prebuilds/${target}: ${Object.entries(files).map(([n, f]) => `${n} ${(f.bytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}; needs glibc ${manifest.needs.GLIBC}, libstdc++ GLIBCXX ${manifest.needs.GLIBCXX}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
