/**
 * What the Node build adds on load: the Node services behind the universal API (files, downloads,
 * directory checkpoints, the native kernel pack) and the `file://` IO routers. Imported first by
 * src/index.node.ts (the `node` export condition) and by the command line.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { upgradeToNativeKernels } from '../backend/native.js';
import { oncePerProcess } from '../io/once.js';
import { setNodePlatform } from '../io/platform.js';
import { loadAddon } from './addon.js';
import { directoryCheckpoints, loadCheckpoint, saveCheckpoint } from './checkpoints.js';
import { fileSystem, registerFileRouters, writeAtomic } from './file-system.js';
import { packageFile } from './package-path.js';
import { prepareCifar10, prepareCifar100 } from './prepare.js';

setNodePlatform({
  readFile,
  exists: existsSync,
  join,
  packageFile: (relative) => packageFile(relative),
  fileSystem,
  writeAtomic,
  prepareCifar10,
  prepareCifar100,
  directoryCheckpoints,
  saveCheckpoint,
  loadCheckpoint,
  loadAddon,
});

oncePerProcess('file-routers', registerFileRouters);

// The kernel pack may have been enabled before the addon loader was plugged in: the native kernels
// take over now.
upgradeToNativeKernels();
