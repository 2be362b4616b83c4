/**
 * Reading the files `torch.save` writes (PyTorch >= 1.6): a zip archive with one top folder holding
 * `data.pkl`, the pickled object, and `data/<key>`, one raw little-endian buffer per tensor storage.
 * The pickle is read with an allow-list of what state dicts are made of (as PyTorch's own
 * `weights_only=True` does), so nothing a file names is ever called except these rebuild functions.
 * Bytes in, plain data out: works in Node and in browsers.
 */
import type { TorchStateDict } from '../models/torch-weights.js';
import { setOwn } from './own-key.js';
import { PickleGlobalRef, unpickle, type PickleDict, type PickleGlobal, type PickleObject, type PickleValue } from './pickle.js';
import { checkView, DTYPE_BYTES, viewToFloat32, type StridedView, type TensorDtype } from './tensor-data.js';
import { readZip } from './zip.js';

/** A state dict read from a checkpoint file, with where it was found. */
export interface TorchCheckpoint {
  /** The tensors as float32 in PyTorch's layout, keys without wrapper or `module.` prefix, in file order. */
  stateDict: TorchStateDict;
  /** The element type each tensor had in the file (float16, bfloat16 and float64 are converted to float32). */
  dtypes: Record<string, TensorDtype>;
  /** The key of the wrapper dict the state dict was under (`state_dict`, `model`, `model_state_dict`), or '' for the top level. */
  wrapper: string;
  /** The prefix removed from every key (`module.`, added by DataParallel), or ''. */
  removedPrefix: string;
}

/** The dict keys under which checkpoints commonly keep the state dict, in the order they are tried. */
export const STATE_DICT_WRAPPERS: readonly string[] = Object.freeze(['state_dict', 'model_state_dict', 'model']);

const STORAGE_DTYPES: Readonly<Record<string, TensorDtype>> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

/** A tensor of the checkpoint: a view of one of its storages. */
class TensorRef implements PickleObject {
  readonly pickleObject = true;
  constructor(readonly view: StridedView) {}
}

interface Storage {
  bytes: Uint8Array;
  dtype: TensorDtype;
  numel: number;
}

const isInt = (v: PickleValue): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const intTuple = (v: PickleValue, what: string): number[] => {
  if (!Array.isArray(v) || !v.every(isInt)) throw new Error(`${what} is not a tuple of integers`);
  return v as number[];
};

/** The dict-like globals: OrderedDict(items) and Counter(dict); their BUILD state (`_metadata`) is dropped. */
function dictGlobal(name: string): PickleGlobal {
  return {
    call(args) {
      const dict: PickleDict = new Map();
      const [items] = args;
      if (items instanceof Map) for (const [k, v] of items) dict.set(k, v);
      else if (Array.isArray(items)) {
        for (const pair of items) {
          if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`${name}: an item that is not a (key, value) pair`);
          dict.set(pair[0]!, pair[1]!);
        }
      } else if (args.length) throw new Error(`${name}: unexpected arguments`);
      return dict;
    },
    build(_object, state) {
      if (state !== null && !(state instanceof Map)) throw new Error(`${name}: a state that is not a dict`);
    },
  };
}

function rebuildTensor(name: string, storages: (key: PickleValue) => Storage): PickleGlobal {
  return {
    call(args) {
      if (args.length < 4) throw new Error(`${name} with ${args.length} arguments, expected at least 4`);
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef)) throw new Error(`${name}: its first argument is not a storage`);
      if (!isInt(offset!)) throw new Error(`${name}: the storage offset is not an integer`);
      const s = storages(storage.key);
      const view: StridedView = { ...s, offset, shape: intTuple(size!, `${name}: the size`), stride: intTuple(stride!, `${name}: the stride`) };
      const problem = checkView(view);
      if (problem) throw new Error(`${name}: ${problem}`);
      return new TensorRef(view);
    },
  };
}

function rebuildParameter(name: string): PickleGlobal {
  return {
    call(args) {
      if (!(args[0] instanceof TensorRef)) throw new Error(`${name}: its first argument is not a tensor`);
      return args[0];
    },
  };
}

/** A storage named by a persistent id; its bytes are looked up when a tensor uses it. */
class StorageRef implements PickleObject {
  readonly pickleObject = true;
  constructor(readonly key: string) {}
}

const TORCHSCRIPT_HINT =
  "the file is a TorchScript archive (torch.jit.save), which holds code; in Python, save its weights with torch.save(torch.jit.load(path).state_dict(), 'weights.pt')";
const RESAVE_HINT =
  'a state dict holds only tensors, OrderedDict and plain data, and loading this file in Python would call it (do not torch.load it with weights_only=False unless you trust it); ' +
  "if you trust it, re-save only the weights in Python: torch.save(model.state_dict(), 'weights.pt')";

/**
 * Reads a PyTorch checkpoint written by `torch.save` (PyTorch >= 1.6, the zip format) and returns the
 * state dict in it: at the top level, or under `state_dict`, `model_state_dict` or `model` (the paper's
 * resumable checkpoints keep it under `model`, next to the optimizer's state), with DataParallel's
 * `module.` prefix removed. Tensors of any dtype a state dict uses (float32, float16, bfloat16, float64,
 * int64 counters, ...) come back as float32 in PyTorch's row-major layout; views into shared storages
 * are resolved.
 *
 * Only an allow-list of pickle globals is honoured (`collections.OrderedDict`, `collections.Counter`,
 * `torch._utils._rebuild_tensor_v2` and `_rebuild_parameter`, the storage types); any other global, such
 * as the `os.system` of a malicious file, stops the read with an error naming it, and nothing is run.
 * The legacy format (PyTorch < 1.6) and TorchScript archives are refused with what to do instead;
 * truncated or corrupt files (every zip entry's CRC-32 is checked) give an error saying so.
 *
 * @param bytes The file's contents (in a browser, e.g. `new Uint8Array(await response.arrayBuffer())`).
 */
export function readTorchCheckpoint(bytes: Uint8Array): TorchCheckpoint {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readTorchCheckpoint: bytes must be a Uint8Array (the file contents)');
  const fail = (message: string): never => {
    throw new Error(`readTorchCheckpoint: ${message}`);
  };
  if (isLegacyTorchFile(bytes)) {
    fail(
      "this is PyTorch's legacy format (written by PyTorch < 1.6 or with _use_new_zipfile_serialization=False), which is not supported; " +
        "re-save it in Python with PyTorch >= 1.6: torch.save(torch.load(path, map_location='cpu'), 'new.pt')",
    );
  }
  if (!(bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`not a PyTorch checkpoint: torch.save writes a zip archive (starting with 50 4b 03 04), this starts with ${head || 'nothing (empty)'}; for a .safetensors file use readSafetensors`);
  }
  let entries: Map<string, Uint8Array>;
  try {
    entries = readZip(bytes, (name) => /^[^/]+\/(data\.pkl|data\/[^/]+|byteorder)$/.test(name));
  } catch (e) {
    return fail((e as Error).message);
  }
  const pickles = [...entries.keys()].filter((n) => n.endsWith('/data.pkl'));
  if (pickles.length !== 1) fail(`a zip archive with ${pickles.length ? 'several' : 'no'} '<name>/data.pkl' entries: not written by torch.save`);
  const root = pickles[0]!.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${root}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') fail('the tensors were saved big-endian (byteorder file), which is not supported');

  const storages = new Map<string, Storage>();
  const storage = (key: PickleValue): Storage => {
    const s = storages.get(String(key));
    if (!s) throw new Error(`a tensor refers to storage '${String(key)}', which no persistent id declared`);
    return s;
  };
  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) throw new Error("a persistent id that is not ('storage', type, key, location, numel)");
    const [, type, key, , numel] = pid;
    const dtype = type instanceof PickleGlobalRef ? STORAGE_DTYPES[type.qualifiedName.replace(/^torch\./, '')] : undefined;
    if (!dtype) throw new Error(`a storage of type '${type instanceof PickleGlobalRef ? type.qualifiedName : String(type)}', which is not supported`);
    if (typeof key !== 'string' || !isInt(numel!) || numel < 0) throw new Error('a persistent id with a malformed key or element count');
    const data = entries.get(`${root}data/${key}`);
    if (!data) throw new Error(`storage '${key}' is missing from the archive (${root}data/${key})`);
    if (data.length !== numel * DTYPE_BYTES[dtype]) throw new Error(`storage '${key}' holds ${data.length} bytes, ${numel} ${dtype} elements need ${numel * DTYPE_BYTES[dtype]}`);
    const existing = storages.get(key);
    if (existing && (existing.dtype !== dtype || existing.numel !== numel)) throw new Error(`storage '${key}' is declared twice with different types`);
    storages.set(key, { bytes: data, dtype, numel });
    return new StorageRef(key);
  };
  const allowed: Record<string, PickleGlobal> = {
    'collections.OrderedDict': dictGlobal('collections.OrderedDict'),
    'collections.Counter': dictGlobal('collections.Counter'),
    'torch._utils._rebuild_tensor_v2': rebuildTensor('torch._utils._rebuild_tensor_v2', storage),
    'torch._utils._rebuild_tensor': rebuildTensor('torch._utils._rebuild_tensor', storage),
    'torch._utils._rebuild_parameter': rebuildParameter('torch._utils._rebuild_parameter'),
    'torch._utils._rebuild_parameter_with_state': rebuildParameter('torch._utils._rebuild_parameter_with_state'),
  };
  const notCallable: PickleGlobal = {
    call() {
      throw new Error('a storage type is called; it may only name the type of a storage');
    },
  };
  let root_object: PickleValue;
  try {
    root_object = unpickle(entries.get(pickles[0]!)!, {
      resolveGlobal: (module, name) =>
        allowed[`${module}.${name}`] ?? (module === 'torch' && name in STORAGE_DTYPES ? notCallable : undefined),
      persistentLoad,
      refusalHint: (module) => (module.startsWith('__torch__') ? TORCHSCRIPT_HINT : RESAVE_HINT),
    });
  } catch (e) {
    return fail(`${pickles[0]}: ${(e as Error).message}`);
  }
  return stateDictOf(root_object, fail);
}

/** True when `bytes` start like PyTorch's legacy format (a pickle of its magic number 0x1950a86a20f9469cfc6c). */
function isLegacyTorchFile(bytes: Uint8Array): boolean {
  const magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

const isStateDict = (v: PickleValue): v is PickleDict =>
  v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);

function stateDictOf(object: PickleValue, fail: (message: string) => never): TorchCheckpoint {
  let wrapper = '';
  let dict: PickleDict | undefined;
  if (isStateDict(object)) dict = object;
  else if (object instanceof Map) {
    wrapper = STATE_DICT_WRAPPERS.find((k) => isStateDict(object.get(k) ?? null)) ?? '';
    if (wrapper) dict = object.get(wrapper) as PickleDict;
  }
  if (!dict) {
    const what =
      object instanceof Map
        ? `a dict with keys ${[...object.keys()].slice(0, 12).map((k) => `'${String(k)}'`).join(', ')}`
        : object instanceof TensorRef
          ? 'a single tensor'
          : `a ${Array.isArray(object) ? 'list or tuple' : typeof object}`;
    fail(`no state dict found: the file holds ${what}; expected a dict of tensors at the top level or under ${STATE_DICT_WRAPPERS.map((k) => `'${k}'`).join(', ')}`);
  }
  const keys = [...dict!.keys()] as string[];
  const removedPrefix = keys.every((k) => k.startsWith('module.')) ? 'module.' : '';
  const stateDict: TorchStateDict = {};
  const dtypes: Record<string, TensorDtype> = {};
  for (const [k, t] of dict!) {
    const key = (k as string).slice(removedPrefix.length);
    const { view } = t as TensorRef;
    if (Object.hasOwn(stateDict, key)) fail(`the key '${key}' appears twice`);
    setOwn(stateDict, key, { shape: [...view.shape], data: viewToFloat32(view) });
    setOwn(dtypes, key, view.dtype);
  }
  return { stateDict, dtypes, wrapper, removedPrefix };
}
