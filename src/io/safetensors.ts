/**
 * The safetensors format (what most ML tools read without pickle): an unsigned 64-bit little-endian
 * header length N, N bytes of JSON header `{ name: { dtype, shape, data_offsets: [begin, end] }, ...,
 * "__metadata__": { string: string } }`, then the tensors' raw little-endian row-major bytes, offsets
 * relative to the end of the header. Bytes in, bytes out: Node and browsers alike.
 */
import type { TorchStateDict } from '../models/torch-weights.js';
import { setOwn } from './own-key.js';
import { DTYPE_BYTES, contiguousStrides, shapeSize, viewToFloat32, type TensorDtype } from './tensor-data.js';

const FROM_SAFETENSORS: Readonly<Record<string, TensorDtype>> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** The reference implementation refuses headers above 100 MB; so does this reader. */
const MAX_HEADER = 100_000_000;

/** A safetensors file's contents as float32 tensors. */
export interface SafetensorsContents {
  /** The tensors as float32 in file (row-major) layout, in the header's order. */
  tensors: TorchStateDict;
  /** The element type each tensor had in the file. */
  dtypes: Record<string, TensorDtype>;
  /** The header's `__metadata__` (string to string), or `{}`. */
  metadata: Record<string, string>;
}

/**
 * Reads a safetensors file: every tensor converted to float32 (F64, F32, F16, BF16, I64, I32, I16, I8,
 * U8, BOOL). Throws an Error saying what is wrong on a truncated file, a malformed header, an unknown
 * dtype, or offsets that do not match the shapes or lie outside the data.
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readSafetensors: bytes must be a Uint8Array (the file contents)');
  const fail = (message: string): never => {
    throw new Error(`readSafetensors: ${message}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes: too short for a safetensors file (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(`the header length ${headerLength} exceeds the file (${bytes.length} bytes) or 100 MB: not a safetensors file, or truncated`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message}): not a safetensors file, or corrupt`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  const data = bytes.subarray(dataStart);
  const tensors: TorchStateDict = {};
  const dtypes: Record<string, TensorDtype> = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Object.values(info).some((v) => typeof v !== 'string')) fail('__metadata__ must map strings to strings');
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    const { dtype: code, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof code === 'string' ? FROM_SAFETENSORS[code] : undefined;
    if (!dtype) fail(`tensor '${name}': dtype ${JSON.stringify(code)} is not supported (accepted: ${Object.keys(FROM_SAFETENSORS).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    const [begin, end] = offsets as [number, number];
    const numel = shapeSize(shape as number[]);
    if (end - begin !== numel * DTYPE_BYTES[dtype!]) fail(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${shape}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype!]}`);
    if (end > data.length) fail(`tensor '${name}': data_offsets [${begin}, ${end}] reach past the end of the data (${data.length} bytes): truncated file`);
    const storage = data.subarray(begin, end);
    setOwn(tensors, name, {
      shape: [...(shape as number[])],
      data: viewToFloat32({ bytes: storage, dtype: dtype!, numel, offset: 0, shape: shape as number[], stride: contiguousStrides(shape as number[]) }),
    });
    setOwn(dtypes, name, dtype);
  }
  return { tensors, dtypes, metadata };
}

/**
 * Writes float32 tensors as a safetensors file: tensors in name order, contiguous offsets, the header
 * padded with spaces to a multiple of 8 bytes (as the reference writer does), dtype `F32`. The output is
 * the same for the same input.
 *
 * @param tensors Name to `{ shape, data }` (row-major float32).
 * @param metadata Strings stored in the header's `__metadata__` (e.g. `{ format: 'pt' }`).
 */
export function writeSafetensors(tensors: TorchStateDict, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name]!;
    if (data.length !== shapeSize(shape)) throw new RangeError(`writeSafetensors: tensor '${name}' has ${data.length} values, shape [${shape}] needs ${shapeSize(shape)}`);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * data.length] };
    offset += 4 * data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - json.length));
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    for (const v of tensors[name]!.data) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}
