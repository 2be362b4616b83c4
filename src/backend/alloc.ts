/**
 * Output buffers for the kernels that write every element, recycled on the cpu backend.
 *
 * tfjs allocates a new typed array for every tensor and leaves its memory to the garbage collector. In
 * Node every such array is external memory: a ResNet18 step at batch 32 allocates a few GiB, which makes
 * V8 run about 25 collections per step ("external memory pressure", 50-60 ms of a 400 ms PGD step) and
 * makes malloc hand out cold memory. `new Float32Array(n)` also zero-fills what the kernel overwrites.
 *
 * {@link uninitializedFloat32} instead hands out uninitialised memory (`Buffer.allocUnsafeSlow`) and,
 * once hooked into the cpu backend's data storage ({@link adoptBuffers}), takes back the buffer of a
 * disposed tensor for the next allocation of the same size, but only when nothing outside can still
 * see it:
 * - a buffer whose values were ever read out (`dataSync`, `data`, `readSync`: tfjs-backend-cpu returns
 *   its internal array) is never reused;
 * - a buffer that another tensor shares (a kernel that returns a view of its input, such as a
 *   contiguous `Slice`, or the same array stored twice) is never reused;
 * - a reused buffer gets a new Float32Array object, so nothing keyed on the old array object (the
 *   addon's reordered-weights cache) sees the new contents.
 * At most {@link bufferPoolInfo}().capacityBytes wait in the pool (default 1 GiB, `RMC_BUFFER_POOL_MB`
 * sets it; `RMC_BUFFER_POOL_MB=0` turns recycling off); the oldest are dropped to the collector.
 */
import * as tf from '@tensorflow/tfjs-core';

type BufferLike = { allocUnsafeSlow(size: number): { buffer: ArrayBuffer; byteOffset: number; byteLength: number } };

const nodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;
/** Below this many elements the zero-fill and the collector cost nothing worth avoiding. */
const MIN_UNINITIALIZED = 4096;

/** The part of tfjs-core's DataStorage (the cpu backend's `data`) the pool hooks into. */
interface DataStorageLike {
  get(dataId: object): { values?: unknown };
  set(dataId: object, value: { values?: unknown }): void;
  delete(dataId: object): boolean;
}
/** The part of the cpu backend the pool hooks into. */
export interface PooledBackendLike {
  data: DataStorageLike;
  readSync(dataId: object): unknown;
  read(dataId: object): Promise<unknown>;
}

/** The cpu backend as the kernels of this package use it. */
export type CpuBackend = tf.KernelBackend &
  PooledBackendLike & { makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };

/**
 * A tensor's values when they are a float32 buffer the kernels can read in place, else null. The array
 * is the backend's own: read it at once, never keep it or hand it out.
 */
export function floatValues(backend: PooledBackendLike, t: tf.TensorInfo): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

/** Per buffer handed out: the one view we made of it, and whether a tensor holds it now. */
interface Owned {
  view: Float32Array;
  attached: boolean;
}

const owned = new WeakMap<ArrayBuffer, Owned>();
/** Buffers something outside may still see: never reused. */
const exposed = new WeakSet<ArrayBuffer>();
/** Free buffers by byte length, and all of them oldest first (for eviction). */
const freeBySize = new Map<number, ArrayBuffer[]>();
const freeInOrder = new Set<ArrayBuffer>();
let pooledBytes = 0;
const stats = { reused: 0, allocated: 0 };
const hooked = new WeakSet<object>();

/** 1 GiB, or `RMC_BUFFER_POOL_MB` (MiB, 0 turns recycling off); a value that is not a number >= 0 is reported and ignored. */
function capacityFromEnv(): number {
  const fallback = 2 ** 30;
  const text = typeof process !== 'undefined' ? process.env?.['RMC_BUFFER_POOL_MB'] : undefined;
  if (text === undefined || text.trim() === '') return fallback;
  const mib = Number(text);
  if (!(Number.isFinite(mib) && mib >= 0)) {
    console.warn(`rmc-robust: RMC_BUFFER_POOL_MB = '${text}' is not a number of MiB >= 0; using the default 1024`);
    return fallback;
  }
  return Math.floor(mib * 2 ** 20);
}
let capacityBytes = capacityFromEnv();

function markExposed(values: unknown): void {
  if (ArrayBuffer.isView(values) && owned.has(values.buffer as ArrayBuffer)) exposed.add(values.buffer as ArrayBuffer);
}

function takeFree(bytes: number): ArrayBuffer | undefined {
  const list = freeBySize.get(bytes);
  const buffer = list?.pop();
  if (!buffer) return undefined;
  if (list!.length === 0) freeBySize.delete(bytes);
  freeInOrder.delete(buffer);
  pooledBytes -= bytes;
  return buffer;
}

/** Drops the oldest free buffer to the garbage collector. */
function evictOldest(): void {
  const oldest = freeInOrder.values().next().value as ArrayBuffer;
  freeInOrder.delete(oldest);
  const list = freeBySize.get(oldest.byteLength)!;
  list.splice(list.indexOf(oldest), 1);
  if (list.length === 0) freeBySize.delete(oldest.byteLength);
  pooledBytes -= oldest.byteLength;
}

function release(buffer: ArrayBuffer): void {
  const bytes = buffer.byteLength;
  if (bytes > capacityBytes) return;
  while (pooledBytes + bytes > capacityBytes) evictOldest();
  const list = freeBySize.get(bytes);
  if (list) list.push(buffer);
  else freeBySize.set(bytes, [buffer]);
  freeInOrder.add(buffer);
  pooledBytes += bytes;
}

/**
 * Hooks the pool into a cpu backend (idempotent): values it stores are tracked, values read out are
 * marked as exposed, and the buffers of deleted tensors return to the pool. Called by the kernels that
 * allocate with {@link uninitializedFloat32} on the cpu backend.
 */
export function adoptBuffers(backend: PooledBackendLike): void {
  const data = backend.data;
  if (hooked.has(data) || capacityBytes === 0) return;
  hooked.add(data);
  const set = data.set.bind(data);
  const remove = data.delete.bind(data);
  const get = data.get.bind(data);
  data.set = (dataId, value) => {
    const values = value?.values;
    if (ArrayBuffer.isView(values)) {
      const buffer = values.buffer as ArrayBuffer;
      const mine = owned.get(buffer);
      if (mine) {
        // A second holder of the same memory (a view, or the same array stored twice): never reuse it.
        if (mine.view !== values || mine.attached) exposed.add(buffer);
        mine.attached = true;
      }
    }
    set(dataId, value);
  };
  data.delete = (dataId) => {
    const values = get(dataId)?.values;
    const removed = remove(dataId);
    if (removed && values instanceof Float32Array) {
      const buffer = values.buffer as ArrayBuffer;
      const mine = owned.get(buffer);
      if (mine && mine.view === values && !exposed.has(buffer)) {
        owned.delete(buffer);
        release(buffer);
      }
    }
    return removed;
  };
  // tfjs-backend-cpu hands out its internal array (read() goes through readSync()).
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    const values = readSync(dataId);
    markExposed(values);
    return values;
  };
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    const values = await read(dataId);
    markExposed(values);
    return values;
  };
}

/**
 * A Float32Array of `length` elements with unspecified contents: the caller must write every element.
 * In Node, arrays of 4096 elements or more are uninitialised memory, recycled from disposed tensors when
 * `backend` (the cpu backend the result will be stored in) is given; elsewhere this is
 * `new Float32Array(length)`.
 */
export function uninitializedFloat32(length: number, backend?: PooledBackendLike): Float32Array {
  if (!nodeBuffer || length < MIN_UNINITIALIZED) return new Float32Array(length);
  const recycle = backend !== undefined && capacityBytes > 0;
  if (recycle) adoptBuffers(backend);
  let buffer = recycle ? takeFree(length * 4) : undefined;
  if (buffer) stats.reused++;
  else {
    const bytes = nodeBuffer.allocUnsafeSlow(length * 4);
    // allocUnsafeSlow gives each allocation a buffer of its own (no shared slab), so it can be recycled whole.
    if (!recycle || bytes.byteOffset !== 0 || bytes.buffer.byteLength !== length * 4) return new Float32Array(bytes.buffer, bytes.byteOffset, length);
    buffer = bytes.buffer;
    stats.allocated++;
  }
  const view = new Float32Array(buffer, 0, length);
  owned.set(buffer, { view, attached: false });
  return view;
}

/** What the buffer pool holds and has done (for logs and benchmarks). */
export interface BufferPoolInfo {
  /** Bytes the pool may hold (0: recycling off). */
  capacityBytes: number;
  /** Bytes of free buffers waiting for reuse. */
  pooledBytes: number;
  /** Pooled allocations (Node, recycling on, 4096 elements or more) served from the pool since the process started. */
  reused: number;
  /** Pooled allocations that found no free buffer of their size and took fresh memory, since the process started. */
  allocated: number;
}

/** The buffer pool's capacity, contents and counts. */
export function bufferPoolInfo(): BufferPoolInfo {
  return { capacityBytes, pooledBytes, reused: stats.reused, allocated: stats.allocated };
}

/**
 * Sets the pool's capacity in bytes (0 turns recycling off and empties the pool); returns the previous
 * capacity.
 */
export function setBufferPoolCapacity(bytes: number): number {
  if (!(bytes >= 0)) throw new RangeError(`setBufferPoolCapacity: bytes = ${bytes}: must be >= 0`);
  const previous = capacityBytes;
  capacityBytes = bytes;
  while (pooledBytes > capacityBytes) evictOldest();
  return previous;
}

/**
 * The active cpu backend as the pool sees it, or undefined when the active backend is another one.
 * @internal
 */
export function activeCpuBackend(): CpuBackend | undefined {
  const backend = tf.backend() as Partial<CpuBackend>;
  return tf.getBackend() === 'cpu' && backend.data ? (backend as CpuBackend) : undefined;
}

/**
 * A tensor's float32 values, read in place on the cpu backend without marking them as exposed (so its
 * buffer can still be recycled): only for code that does not keep the array once the tensor may be
 * disposed. Elsewhere (other backends, other dtypes) this is `dataSync()`, copied to float32 if need be.
 * @internal
 */
export function peekFloat32(t: tf.Tensor): Float32Array {
  const backend = activeCpuBackend();
  const values = backend && floatValues(backend, t);
  if (values) return values;
  const data = t.dataSync();
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

