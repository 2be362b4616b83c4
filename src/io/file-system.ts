/**
 * Saving and loading tfjs models to the local file system (Node). The implementation is in
 * `src/node/file-system.ts`; these are the entry points the universal build exports.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { nodePlatform } from './platform.js';

/**
 * An IOHandler that saves a model into `directory` (created if missing) as `model.json` and
 * `weights.bin`, tfjs-node's on-disk format, and loads it back, with any tfjs backend (Node only). Each
 * file is written under a temporary name and renamed into place, weights first, so a crash never leaves
 * a half-written file; `model.json` is the commit point. The Node build also routes `file://` URLs here
 * whenever no other handler (tfjs-node's) answers for them.
 *
 * @example await model.save(fileSystem('./checkpoints/resnet18')); // same as 'file://./checkpoints/resnet18'
 * @example const model = await tfl.loadLayersModel(fileSystem('./checkpoints/resnet18/model.json'));
 *
 * @param path For saving, a directory; for loading, the directory or its `model.json`.
 */
export function fileSystem(path: string): tf.io.IOHandler {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('fileSystem: path must be a non-empty string');
  return nodePlatform('fileSystem', "In a browser save to 'indexeddb://name' or 'downloads://name'").fileSystem(path);
}

/** Writes `data` to `file` through a temporary file in the same directory and a rename (Node only). */
export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return nodePlatform('writeAtomic').writeAtomic(file, data);
}
