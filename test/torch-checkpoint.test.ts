// Reading torch.save files (issue #17): formats, the pickle allow-list, truncated and corrupt files.
// Fixtures: test/fixtures/torch-checkpoints/, made with PyTorch 1.13 by scripts/make-torch-checkpoints.sh.
import { existsSync, rmSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { halfToFloat, readTorchCheckpoint } from '../src/index.js';
import { unpickle, type PickleDict } from '../src/io/pickle.js';
import { crc32 } from '../src/io/zip.js';
import { mulberry32 } from '../src/index.js';
import { fixtureBytes, manifest } from './helpers/torch-checkpoints.js';

/** The data.pkl of a fixture, straight from its zip. */
function dataPkl(file: string): Uint8Array {
  const entries = unzipSync(fixtureBytes(file));
  return Object.entries(entries).find(([name]) => name.endsWith('/data.pkl'))![1];
}

describe('readTorchCheckpoint reads what torch.save wrote', () => {
  it.each(manifest.cases.map((c) => [c.file, c] as const))('%s: wrapper, prefix and dtypes as saved', (_file, c) => {
    const checkpoint = readTorchCheckpoint(fixtureBytes(c.file));
    expect(checkpoint.wrapper).toBe(c.wrapper ?? '');
    expect(checkpoint.removedPrefix).toBe(c.prefix ?? '');
    const dtypes = new Set(Object.entries(checkpoint.dtypes).filter(([k]) => !k.endsWith('num_batches_tracked')).map(([, d]) => d));
    expect([...dtypes]).toEqual([c.dtype]);
    for (const [key, t] of Object.entries(checkpoint.stateDict)) {
      expect(t.data.length, key).toBe(t.shape.reduce((a, b) => a * b, 1));
      expect(key.startsWith('module.')).toBe(false);
    }
  });

  it('batch norm counters are int64 scalars with their saved values', () => {
    const { stateDict, dtypes } = readTorchCheckpoint(fixtureBytes('resnet18-1222.pt'));
    expect(dtypes['bn1.num_batches_tracked']).toBe('int64');
    expect(stateDict['bn1.num_batches_tracked']!.shape).toEqual([]);
    const count = stateDict['bn1.num_batches_tracked']!.data[0]!;
    // randomize() in scripts/torch_checkpoints.py draws them from [1, 1000).
    expect(Number.isInteger(count) && count >= 1 && count < 1000).toBe(true);
  });

  it('views into shared storages and transposed tensors come back as their values, not their storage', () => {
    const views = readTorchCheckpoint(fixtureBytes('resnet18-1222-views.pt')).stateDict;
    // The same weights as a contiguous copy: PyTorch's tensors equal, so must ours (logits are checked in torch-import.test.ts).
    const w = views['fc.weight']!;
    expect(w.shape).toEqual([10, 16]);
    expect(w.data.every(Number.isFinite)).toBe(true);
    // The storage starts with a row of zeros (the view's offset skips it): a reader ignoring the offset would read them.
    expect(w.data.some((v) => v === 0)).toBe(false);
    expect(views['layer1.0.conv1.weight']!.data.some((v) => v === 0)).toBe(false);
  });

  it('a safetensors file is not taken for a checkpoint, and the error says what to use', () => {
    expect(() => readTorchCheckpoint(fixtureBytes('from-pytorch.safetensors'))).toThrow(/not a PyTorch checkpoint.*readSafetensors/);
    expect(() => readTorchCheckpoint(new Uint8Array(0))).toThrow(/not a PyTorch checkpoint.*empty/);
    expect(() => readTorchCheckpoint('x' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('files that must be refused', () => {
  it.each(manifest.refused.malicious)('%s (a pickled os.system call) is refused, naming the global, and nothing runs', (file) => {
    rmSync(manifest.refused.marker, { force: true });
    expect(() => readTorchCheckpoint(fixtureBytes(file))).toThrow(/refused the global 'posix\.system': it is not on the allow-list/);
    // The payload is `touch <marker>`: had anything called it, the file would exist now.
    expect(existsSync(manifest.refused.marker)).toBe(false);
  });

  it('the legacy (pre-1.6) format is refused with how to re-save it', () => {
    expect(() => readTorchCheckpoint(fixtureBytes(manifest.refused.legacy))).toThrow(/legacy format.*torch\.save\(torch\.load\(path/);
  });

  it('a TorchScript archive is refused with how to save its weights', () => {
    expect(() => readTorchCheckpoint(fixtureBytes(manifest.refused.torchscript))).toThrow(/__torch__.*TorchScript archive.*state_dict\(\)/);
  });
});

describe('truncated and corrupt files give clear errors', () => {
  const file = 'alexnet-2222-bfloat16.pt';
  const bytes = fixtureBytes(file);
  const original = readTorchCheckpoint(bytes).stateDict;

  it('every truncation of the file is an error', () => {
    const step = Math.max(1, Math.floor(bytes.length / 97));
    for (let n = 0; n < bytes.length; n += step) {
      expect(() => readTorchCheckpoint(bytes.subarray(0, n)), `cut at ${n}`).toThrow(/readTorchCheckpoint: (not a PyTorch checkpoint|not a readable zip archive)/);
    }
  });

  it('every truncation of data.pkl is an error naming the problem (never a result)', () => {
    const pkl = dataPkl(file);
    // Every global allowed (as dicts): each prefix is a valid start, so the only problem is the cut.
    const options = { resolveGlobal: () => ({ call: () => new Map(), build: () => {} }), persistentLoad: () => null };
    expect(unpickle(pkl, options)).toBeInstanceOf(Map);
    for (let n = 0; n < pkl.length; n++) {
      expect(() => unpickle(pkl.subarray(0, n), options), `cut at ${n}`).toThrow(/^pickle: truncated/);
    }
  });

  it('a zip whose data.pkl was cut, rezipped intact, is refused', () => {
    const entries = unzipSync(bytes);
    const name = Object.keys(entries).find((n) => n.endsWith('/data.pkl'))!;
    const cut = zipSync({ ...entries, [name]: entries[name]!.subarray(0, entries[name]!.length - 40) }, { level: 0 });
    expect(() => readTorchCheckpoint(cut)).toThrow(/data\.pkl: pickle: truncated/);
  });

  it('a flipped byte inside a tensor storage fails the CRC-32 check', () => {
    const entries = unzipSync(bytes);
    const storage = Object.entries(entries).find(([n]) => n.endsWith('/data/0'))![1];
    const at = indexOf(bytes, storage.subarray(0, 32)) + 7;
    expect(at).toBeGreaterThan(7);
    const corrupt = bytes.slice();
    corrupt[at]! ^= 0x10;
    expect(() => readTorchCheckpoint(corrupt)).toThrow(/data\/0' fails its CRC-32 check: the file is corrupt/);
  });

  it('a flipped byte anywhere either is an error or changes nothing (seeded positions)', () => {
    const rand = mulberry32(17);
    let errors = 0;
    for (let trial = 0; trial < 150; trial++) {
      const corrupt = bytes.slice();
      const at = Math.floor(rand() * bytes.length);
      corrupt[at]! ^= 1 << Math.floor(rand() * 8);
      let result: ReturnType<typeof readTorchCheckpoint> | undefined;
      try {
        result = readTorchCheckpoint(corrupt);
      } catch (e) {
        expect((e as Error).message, `byte ${at}`).toMatch(/^readTorchCheckpoint: /);
        errors++;
        continue;
      }
      // Not an error: then the byte was one the format does not use (padding, timestamps), and the tensors are the same.
      expect(Object.keys(result.stateDict)).toEqual(Object.keys(original));
      for (const [k, t] of Object.entries(result.stateDict)) expect(Array.from(t.data), `${k} after flipping byte ${at}`).toEqual(Array.from(original[k]!.data));
    }
    expect(errors).toBeGreaterThan(75);
  });

  it('crc32 is the zip polynomial (the standard check value of "123456789" is 0xCBF43926)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('the restricted unpickler', () => {
  const refuseAll = { resolveGlobal: () => undefined };
  const bytesOf = (...parts: Array<number | string>) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : Array.from(new TextEncoder().encode(p)))));

  it('dict keys stay data: a "__proto__" key is an entry, no prototype changes', () => {
    // PROTO 2, EMPTY_DICT, SHORT_BINUNICODE "__proto__", EMPTY_DICT, SETITEM, STOP
    const value = unpickle(bytesOf(0x80, 2, 0x7d, 0x8c, 9, '__proto__', 0x7d, 0x73, 0x2e), refuseAll) as PickleDict;
    expect(value).toBeInstanceOf(Map);
    expect([...value.keys()]).toEqual(['__proto__']);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('GLOBAL and STACK_GLOBAL both go through the allow-list', () => {
    // GLOBAL 'builtins\neval\n'
    expect(() => unpickle(bytesOf(0x80, 2, 0x63, 'builtins\neval\n', 0x2e), refuseAll)).toThrow(/refused the global 'builtins\.eval'/);
    // SHORT_BINUNICODE 'os', SHORT_BINUNICODE 'system', STACK_GLOBAL
    expect(() => unpickle(bytesOf(0x80, 4, 0x8c, 2, 'os', 0x8c, 6, 'system', 0x93, 0x2e), refuseAll)).toThrow(/refused the global 'os\.system'/);
  });

  it('REDUCE calls only an allowed global, BUILD only on what one made', () => {
    // EMPTY_TUPLE, EMPTY_TUPLE, REDUCE
    expect(() => unpickle(bytesOf(0x80, 2, 0x29, 0x29, 0x52, 0x2e), refuseAll)).toThrow(/REDUCE on something that is not an allowed global/);
    // EMPTY_DICT, EMPTY_DICT, BUILD
    expect(() => unpickle(bytesOf(0x80, 2, 0x7d, 0x7d, 0x62, 0x2e), refuseAll)).toThrow(/BUILD .* on a value no allowed global made/);
  });

  it('opcodes outside the supported set are named', () => {
    expect(() => unpickle(bytesOf(0x80, 2, 0x8f, 0x2e), refuseAll)).toThrow(/unsupported opcode EMPTY_SET \(0x8f\)/);
    expect(() => unpickle(bytesOf(0x80, 6, 0x2e), refuseAll)).toThrow(/protocol above 5/);
  });

  it('integers, floats and strings decode as Python has them', () => {
    // MARK, BININT -2, LONG1 2^63 (9 bytes), BINFLOAT 1.5, BINUNICODE 'é', NONE, NEWTRUE, TUPLE
    const long = [9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0];
    const value = unpickle(bytesOf(0x80, 2, 0x28, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x8a, ...long, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x58, 2, 0, 0, 0, 0xc3, 0xa9, 0x4e, 0x88, 0x74, 0x2e), refuseAll);
    expect(value).toEqual([-2, 2n ** 63n, 1.5, 'é', null, true]);
  });
});

describe('half precision', () => {
  it('halfToFloat decodes IEEE 754 binary16, subnormals and specials included', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x0400)).toBe(2 ** -14);
    expect(halfToFloat(0x3555)).toBe(0.333251953125);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });

});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
