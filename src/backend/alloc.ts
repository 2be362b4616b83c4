/**
 * Output buffers for kernels that write every element. `new Float32Array(n)` zero-fills (calloc): about
 * 1.5 ms per 8 MB, paid for every tensor of a step and then overwritten. In Node an uninitialised
 * buffer (`Buffer.allocUnsafeSlow`, plain malloc) skips that; elsewhere this is `new Float32Array(n)`.
 */
type BufferLike = { allocUnsafeSlow(size: number): { buffer: ArrayBuffer; byteOffset: number } };

const nodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;
/** Below this many elements the zero-fill costs nothing worth avoiding. */
const MIN_UNINITIALIZED = 4096;

/** A Float32Array of `length` elements with unspecified contents: the caller must write every element. */
export function uninitializedFloat32(length: number): Float32Array {
  if (nodeBuffer && length >= MIN_UNINITIALIZED) {
    const bytes = nodeBuffer.allocUnsafeSlow(length * 4);
    return new Float32Array(bytes.buffer, bytes.byteOffset, length);
  }
  return new Float32Array(length);
}
