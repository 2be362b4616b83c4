/**
 * The seam between the universal library and Node.js. The package's main entry runs in any JS runtime
 * and never imports a Node built-in, so a browser bundle of it resolves; what needs Node (files,
 * downloads, the native kernels) is implemented in `src/node/` and plugged in here by the Node build
 * (`dist/esm/index.node.js`, picked by the `node` export condition) when it loads. Like tfjs-core's own
 * `env().platform`, one object per process.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AddonStatus } from '../backend/addon.js';
import type { PrepareCifar100Options, PrepareCifar100Source, PrepareOptions, PrepareSource } from '../data/prepare.js';
import type { CheckpointStateCheck, CheckpointStore, TrainingCheckpoint, TrainingState } from '../train/checkpoint.js';
import type { SgdState } from '../train/sgd.js';

/** What the Node build provides. @internal */
export interface NodePlatform {
  readFile(path: string): Promise<Uint8Array>;
  exists(path: string): boolean;
  join(...parts: string[]): string;
  /** The absolute path of a file shipped in the package (e.g. `data/cifar10-sample/test.bin`), or null. */
  packageFile(relative: string): string | null;
  fileSystem(path: string): tf.io.IOHandler;
  writeAtomic(file: string, data: string | Uint8Array): Promise<void>;
  prepareCifar10(dir: string, options: PrepareOptions): Promise<PrepareSource>;
  prepareCifar100(dir: string, options: PrepareCifar100Options): Promise<PrepareCifar100Source>;
  directoryCheckpoints(dir: string): CheckpointStore;
  saveCheckpoint(dir: string, name: string, model: tfl.LayersModel, optimizer: SgdState, state: TrainingState, pointer: string): Promise<void>;
  loadCheckpoint(dir: string, model: tfl.LayersModel, pointer: string, check?: CheckpointStateCheck): Promise<TrainingCheckpoint | null>;
  loadAddon(): AddonStatus;
}

let platform: NodePlatform | null = null;

/** Plugs in the Node services (called by the Node build on load). @internal */
export function setNodePlatform(node: NodePlatform): void {
  platform = node;
}

/** The Node services, or null in a browser (or a bundle made without the `node` condition). @internal */
export function nodePlatformOrNull(): NodePlatform | null {
  return platform;
}

/**
 * The Node services for `feature`, or an error saying why they are missing and what to do instead.
 * @internal
 */
export function nodePlatform(feature: string, instead?: string): NodePlatform {
  if (platform) return platform;
  const inNode = typeof process !== 'undefined' && process.versions?.node != null;
  const why = inNode
    ? 'this copy of rmc-robust is its browser build (the bundler or loader did not apply the "node" export condition); ' +
      "in Node, import 'rmc-robust' without bundling, or bundle with platform 'node'"
    : 'it reads or writes files and needs Node.js';
  throw new Error(`${feature}: ${why}${instead ? `. ${instead}` : ''}`);
}
