/**
 * A restricted reader of Python's pickle format (protocols 2 to 5, the opcodes that plain data and
 * `torch.save` use). Unpickling in Python calls whatever callables the stream names; this reader calls
 * nothing it was not given: every global the stream names (GLOBAL, STACK_GLOBAL) is looked up in the
 * caller's allow-list, and a name not on it stops the read with an error naming it. Persistent ids
 * (how `torch.save` refers to tensor storages) go to the caller's `persistentLoad`.
 *
 * Python values map to: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float ->
 * number, str -> string, bytes -> Uint8Array, list -> array, tuple -> frozen array, dict -> Map (so no
 * key, `__proto__` included, ever touches an object's prototype).
 */

/** A value read from a pickle. */
export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleDict | PickleObject | PickleGlobalRef;

/** A Python dict: a Map keeps every key as data. */
export type PickleDict = Map<PickleValue, PickleValue>;

/** An object made by an allowed global (e.g. a tensor); opaque to the reader. */
export interface PickleObject {
  readonly pickleObject: true;
}

/** What an allowed global does when the stream calls it (REDUCE, NEWOBJ) or sets its state (BUILD). */
export interface PickleGlobal {
  /** The call `global(*args)`. */
  call(args: readonly PickleValue[]): PickleValue;
  /** BUILD on an object this global made: `state` is what `__setstate__` would get. Without it BUILD is an error. */
  build?(object: PickleValue, state: PickleValue): void;
}

/** The allow-list and the persistent-id handler of one read. */
export interface PickleOptions {
  /** The global `module.name`, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PickleGlobal | undefined;
  /** The object a persistent id stands for; without it, persistent ids are an error. */
  persistentLoad?(pid: PickleValue): PickleValue;
  /** Says what refused names are, for the error (e.g. "state-dict contents"). */
  refusalHint?(module: string, name: string): string;
}

/**
 * An allowed global the stream named (GLOBAL, STACK_GLOBAL): callable by REDUCE and NEWOBJ, and a value
 * like any other (e.g. `torch.FloatStorage` inside the tuple of a persistent id).
 */
export class PickleGlobalRef {
  constructor(
    readonly qualifiedName: string,
    readonly impl: PickleGlobal,
  ) {}
}

/** Which global made an object, for BUILD. */
const madeBy = new WeakMap<object, PickleGlobalRef>();

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads one pickled object from `bytes` (up to its STOP opcode), resolving globals only through
 * `options.resolveGlobal`. Throws an Error naming the offset and the problem on a truncated or malformed
 * stream, an opcode outside the supported set, or a refused global.
 */
export function unpickle(bytes: Uint8Array, options: PickleOptions): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let stack: StackItem[] = [];
  const marks: StackItem[][] = [];
  const memo = new Map<number, StackItem>();

  const fail = (message: string, at = pos): never => {
    throw new Error(`pickle: ${message} (at byte ${at} of ${bytes.length})`);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) fail(`truncated: ${n} more bytes needed, ${bytes.length - pos} left`);
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is larger than any stream`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const text = (n: number) => {
    const raw = take(n);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('a string that is not valid UTF-8', pos - n);
    }
  };
  const latin1 = (raw: Uint8Array) => {
    let s = '';
    for (let i = 0; i < raw.length; i += 8192) s += String.fromCharCode(...raw.subarray(i, i + 8192));
    return s;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: a text argument without its newline');
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  const pop = (): StackItem => {
    if (stack.length === 0) fail('stack underflow (malformed pickle)');
    return stack.pop()!;
  };
  const popValue = (what: string): PickleValue => {
    const v = pop();
    if (v === MARK) fail(`${what}: expected a value on the stack, found a MARK`);
    return v as PickleValue;
  };
  const popMark = (): StackItem[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail('no MARK for an opcode that needs one (malformed pickle)');
    stack = outer!;
    return items;
  };
  const values = (items: StackItem[], what: string): PickleValue[] => {
    for (const v of items) if (v === MARK) fail(`${what}: a MARK inside the items`);
    return items as PickleValue[];
  };
  const top = (): StackItem => {
    if (stack.length === 0) fail('stack underflow (malformed pickle)');
    return stack[stack.length - 1]!;
  };
  const setItems = (dict: StackItem, items: PickleValue[]) => {
    if (!(dict instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (dict as PickleDict).set(items[i]!, items[i + 1]!);
  };
  const appendItems = (list: StackItem, items: PickleValue[]) => {
    if (!Array.isArray(list) || Object.isFrozen(list)) fail('APPEND(S) on something that is not a list');
    (list as PickleValue[]).push(...items);
  };
  const resolve = (module: string, name: string): PickleGlobalRef => {
    const impl = options.resolveGlobal(module, name);
    if (!impl) {
      const hint = options.refusalHint?.(module, name);
      throw new Error(`pickle: refused the global '${module}.${name}': it is not on the allow-list${hint ? `; ${hint}` : ''}`);
    }
    return new PickleGlobalRef(`${module}.${name}`, impl);
  };
  const callGlobal = (callee: StackItem, args: PickleValue, opcode: string): PickleValue => {
    if (!(callee instanceof PickleGlobalRef)) return fail(`${opcode} on something that is not an allowed global`);
    if (!Array.isArray(args)) return fail(`${opcode}: the arguments of '${callee.qualifiedName}' are not a tuple`);
    const result = callee.impl.call(args);
    if (result !== null && typeof result === 'object') madeBy.set(result, callee);
    return result;
  };
  const tuple = (items: PickleValue[]) => Object.freeze(items) as PickleValue[];
  const int = (raw: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw.length && raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(8 * raw.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5', at);
        break;
      case 0x95: // FRAME: only a length hint
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail('STOP with a stack that does not hold exactly one value', at);
        return values(stack, 'STOP')[0]!;
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(int(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('LONG4 with a negative length', at);
        stack.push(int(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian float64)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        stack.push(latin1(take(u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('BINSTRING with a negative length', at);
        stack.push(latin1(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([popValue('TUPLE1')]));
        break;
      case 0x86: {
        // TUPLE2
        const b = popValue('TUPLE2');
        stack.push(tuple([popValue('TUPLE2'), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = popValue('TUPLE3');
        const b = popValue('TUPLE3');
        stack.push(tuple([popValue('TUPLE3'), b, c]));
        break;
      }
      case 0x74: {
        // TUPLE (popMark replaces `stack`: take the items before pushing)
        const items = tuple(values(popMark(), 'TUPLE'));
        stack.push(items);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: {
        // LIST
        const items = values(popMark(), 'LIST').slice();
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = popValue('APPEND');
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = values(popMark(), 'APPENDS');
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const dict: PickleDict = new Map();
        setItems(dict, values(popMark(), 'DICT'));
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = popValue('SETITEM');
        const k = popValue('SETITEM');
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = values(popMark(), 'SETITEMS');
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} was never stored`, at);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = popValue('STACK_GLOBAL');
        const module = popValue('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with a module or name that is not a string', at);
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = popValue('REDUCE');
        stack.push(callGlobal(pop(), args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = popValue('NEWOBJ');
        stack.push(callGlobal(pop(), args, 'NEWOBJ'));
        break;
      }
      case 0x62: {
        // BUILD
        const state = popValue('BUILD');
        const object = top();
        const maker = object !== null && typeof object === 'object' ? madeBy.get(object) : undefined;
        if (!maker?.impl.build) fail(`BUILD (setting an object's state) on ${maker ? `an object of '${maker.qualifiedName}'` : 'a value no allowed global made'}`, at);
        maker!.impl.build!(object as PickleValue, state);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = popValue('BINPERSID');
        if (!options.persistentLoad) fail('a persistent id, which this stream may not contain', at);
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x50: // PERSID
        if (!options.persistentLoad) fail('a persistent id, which this stream may not contain', at);
        stack.push(options.persistentLoad!(line()));
        break;
      default:
        fail(`unsupported opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')})`, at);
    }
  }
}
