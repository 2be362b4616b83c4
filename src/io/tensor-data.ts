/**
 * Raw tensor bytes as PyTorch and safetensors store them (little-endian, one element after another) to
 * float32: the element types of state dicts, and strided views (PyTorch's `storage_offset` + `stride`).
 */

/** Element types a checkpoint's tensors may have. */
export type TensorDtype = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Bytes per element of each {@link TensorDtype}. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = Object.freeze({
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
});

/** IEEE 754 half precision (binary16) bits to a number: subnormals, infinities and NaN included. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** One element reader per dtype: element `i` of the little-endian buffer behind `view`. */
function elementReader(view: DataView, dtype: TensorDtype): (i: number) => number {
  switch (dtype) {
    case 'float64':
      return (i) => view.getFloat64(8 * i, true);
    case 'float32':
      return (i) => view.getFloat32(4 * i, true);
    case 'float16':
      return (i) => halfToFloat(view.getUint16(2 * i, true));
    case 'bfloat16': {
      // bfloat16 is the upper half of a float32.
      const scratch = new DataView(new ArrayBuffer(4));
      return (i) => (scratch.setUint32(0, view.getUint16(2 * i, true) << 16, false), scratch.getFloat32(0, false));
    }
    case 'int64':
      return (i) => Number(view.getBigInt64(8 * i, true));
    case 'int32':
      return (i) => view.getInt32(4 * i, true);
    case 'int16':
      return (i) => view.getInt16(2 * i, true);
    case 'int8':
      return (i) => view.getInt8(i);
    case 'uint8':
      return (i) => view.getUint8(i);
    case 'bool':
      return (i) => (view.getUint8(i) ? 1 : 0);
  }
}

/** A strided view of a storage: element `[i0, i1, ...]` is storage element `offset + sum(i_k * stride_k)`. */
export interface StridedView {
  /** The storage: `numel * DTYPE_BYTES[dtype]` little-endian bytes. */
  bytes: Uint8Array;
  dtype: TensorDtype;
  /** Number of elements in the storage. */
  numel: number;
  /** First element of the view, in elements. */
  offset: number;
  shape: readonly number[];
  /** Step of each axis, in elements (non-negative). */
  stride: readonly number[];
}

/** Product of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that a strided view lies inside its storage; returns a message saying what is wrong, or null.
 */
export function checkView(v: StridedView): string | null {
  const { shape, stride, offset, numel } = v;
  if (shape.length !== stride.length) return `shape [${shape}] and stride [${stride}] differ in length`;
  if (![...shape, ...stride, offset].every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return `shape [${shape}], stride [${stride}] and offset ${offset} must be non-negative integers`;
  }
  if (v.bytes.length < numel * DTYPE_BYTES[v.dtype]) return `the storage holds ${v.bytes.length} bytes, ${numel} ${v.dtype} elements need ${numel * DTYPE_BYTES[v.dtype]}`;
  if (shapeSize(shape) === 0) return null;
  const last = offset + shape.reduce((s, d, k) => s + (d - 1) * stride[k]!, 0);
  if (last >= numel) return `the view (offset ${offset}, shape [${shape}], stride [${stride}]) reaches element ${last} of a storage of ${numel}`;
  return null;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    stride[k] = step;
    step *= shape[k]!;
  }
  return stride;
}

/**
 * The view's elements in row-major order as float32 (int64 beyond 2^24 and float64 lose precision, as
 * PyTorch's `.float()` does). The view must have passed {@link checkView}.
 */
export function viewToFloat32(v: StridedView): Float32Array {
  const { shape, stride, offset, dtype } = v;
  const size = shapeSize(shape);
  const out = new Float32Array(size);
  if (size === 0) return out;
  const contiguous = contiguousStrides(shape).every((s, k) => s === stride[k] || shape[k] === 1);
  const byteStart = v.bytes.byteOffset + offset * DTYPE_BYTES[dtype];
  // Fast path: contiguous float32 on a little-endian host is a copy.
  if (contiguous && dtype === 'float32' && new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    new Uint8Array(out.buffer).set(new Uint8Array(v.bytes.buffer, byteStart, size * 4));
    return out;
  }
  const read = elementReader(new DataView(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength), dtype);
  if (contiguous) {
    for (let i = 0; i < size; i++) out[i] = read(offset + i);
    return out;
  }
  // General strides: an odometer over the index.
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let source = offset;
  for (let i = 0; i < size; i++) {
    out[i] = read(source);
    for (let k = rank - 1; k >= 0; k--) {
      index[k]!++;
      source += stride[k]!;
      if (index[k]! < shape[k]!) break;
      source -= stride[k]! * shape[k]!;
      index[k] = 0;
    }
  }
  return out;
}
