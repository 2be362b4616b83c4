/**
 * Saving and loading tfjs models to the local file system in Node, with any backend.
 *
 * `@tensorflow/tfjs-node` brings a `file://` handler, but it is an optional peer that cannot be
 * installed everywhere; with only tfjs-core and a JS/wasm backend `model.save('file://...')` would
 * have no handler. This module provides one in tfjs-node's on-disk format (`model.json` plus
 * `weights.bin`), so either can read what the other wrote, and registers it for `file://` URLs
 * whenever no other handler (tfjs-node's) answers for them.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `error` (from a file operation on `path`) as an Error whose message names the path and the
 * operation, keeping its `code` (ENOSPC, EACCES, ...). @internal
 */
export function fileError(error: unknown, action: string, path: string): Error {
  const e = error as NodeJS.ErrnoException;
  if (e?.message?.includes(path)) return e;
  const named = new Error(`cannot ${action} ${path}: ${e?.message ?? String(error)}`) as NodeJS.ErrnoException;
  if (e?.code) named.code = e.code;
  return named;
}

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const FILE_SCHEME = 'file://';

/**
 * An IOHandler that saves a model into `directory` (created if missing) as `model.json` and
 * `weights.bin`, and loads it back. Each file is written under a temporary name and renamed into place,
 * weights first, so a crash never leaves a half-written file; `model.json` is the commit point.
 *
 * @example await model.save(fileSystem('./checkpoints/resnet18')); // same as 'file://./checkpoints/resnet18'
 * @example const model = await tfl.loadLayersModel(fileSystem('./checkpoints/resnet18/model.json'));
 *
 * @param path For saving, a directory; for loading, the directory or its `model.json`.
 */
export function fileSystem(path: string): tf.io.IOHandler {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('fileSystem: path must be a non-empty string');
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new TypeError('fileSystem: saving binary (GraphDef) topologies is not supported; save a LayersModel');
      }
      const dir = resolve(path);
      await mkdir(dir, { recursive: true }).catch((e: unknown) => {
        throw fileError(e, 'create the directory', dir);
      });
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature) modelJson.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer) modelJson.modelInitializer = artifacts.modelInitializer;
      await writeAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      const json = JSON.stringify(modelJson);
      await writeAtomic(join(dir, MODEL_JSON), json);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(JSON.stringify(artifacts.modelTopology)),
          weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
          weightDataBytes: weights.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const file = resolve(path.endsWith('.json') ? path : join(path, MODEL_JSON));
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(file, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new Error(`fileSystem: cannot read model from ${file}: ${(e as Error).message}`);
      }
      if (!modelJson || typeof modelJson !== 'object' || !modelJson.modelTopology) {
        throw new Error(`fileSystem: ${file} is not a tfjs model.json (no modelTopology)`);
      }
      const base = resolve(file, '..');
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const bytes = await readFile(join(base, p));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const expected = specs.reduce((sum, s) => sum + weightBytes(s), 0);
        if (data.byteLength !== expected) {
          throw new Error(`fileSystem: weights of ${file} hold ${data.byteLength} bytes, the manifest needs ${expected} (truncated or corrupt file)`);
        }
        return [specs, data];
      });
    },
  };
}

/**
 * Writes `data` to `file` through a temporary file in the same directory (`<file>.tmp-<pid>-<random>`)
 * and a rename. On failure (ENOSPC, ...) the temporary file is removed and the error names `file`.
 */
export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryName(file, 'tmp');
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fileError(e, 'write', file);
  }
}

/** `<path>.<kind>-<pid>-<random>`: the names of files and directories being written (`tmp`) or replaced (`old`). @internal */
export function temporaryName(path: string, kind: 'tmp' | 'old'): string {
  return `${path}.${kind}-${process.pid}-${Math.random().toString(36).slice(2, 10) || '0'}`;
}

function weightBytes(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    const bytes = { uint8: 1, uint16: 2, float16: 2 }[spec.quantization.dtype];
    return size * (bytes ?? 4);
  }
  if (spec.dtype === 'string') return NaN;
  return size * (spec.dtype === 'bool' ? 1 : 4);
}

let asking = false;

/**
 * The `file://` router: answers only when no other router (tfjs-node's) does, so importing both never
 * yields two handlers for one URL.
 */
function fileRouter(kind: 'save' | 'load') {
  return (url: string | string[]): tf.io.IOHandler => {
    if (asking || typeof url !== 'string' || !url.startsWith(FILE_SCHEME)) return null as unknown as tf.io.IOHandler;
    asking = true;
    let others: tf.io.IOHandler[];
    try {
      others = kind === 'save' ? tf.io.getSaveHandlers(url) : tf.io.getLoadHandlers(url);
    } finally {
      asking = false;
    }
    if (others.length > 0) return null as unknown as tf.io.IOHandler;
    return fileSystem(url.slice(FILE_SCHEME.length));
  };
}

/** Makes `file://` URLs save and load through {@link fileSystem} whenever no other handler (tfjs-node's) answers for them. */
export function registerFileRouters(): void {
  tf.io.registerSaveRouter(fileRouter('save'));
  tf.io.registerLoadRouter(fileRouter('load'));
}
