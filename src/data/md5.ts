/**
 * MD5 (RFC 1321) in plain JS for the data checks, the same code in Node and in browsers (Web Crypto has
 * no MD5); about half node:crypto's speed (a 30 MB CIFAR file in ~0.1 s). Checked against node:crypto
 * and RFC 1321's test suite in the tests.
 */

/** Per-round left-rotation amounts, four per round. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** K[i] = floor(2^32 * |sin(i + 1)|). */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** The md5 digest of `data` as 32 lowercase hex digits. @internal */
export function md5Hex(data: Uint8Array): string {
  const state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  const words = new Int32Array(16);
  const fullBlocks = Math.floor(data.length / 64);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let b = 0; b < fullBlocks; b++) {
    for (let i = 0; i < 16; i++) words[i] = view.getInt32(b * 64 + i * 4, true);
    block(state, words);
  }
  // Padding: 0x80, zeros, then the bit length as a 64-bit little-endian integer.
  const rest = data.length - fullBlocks * 64;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(data.subarray(fullBlocks * 64));
  tail[rest] = 0x80;
  const tailView = new DataView(tail.buffer);
  const bits = data.length * 8;
  tailView.setUint32(tail.length - 8, bits >>> 0, true);
  tailView.setUint32(tail.length - 4, Math.floor(bits / 2 ** 32), true);
  for (let offset = 0; offset < tail.length; offset += 64) {
    for (let i = 0; i < 16; i++) words[i] = tailView.getInt32(offset + i * 4, true);
    block(state, words);
  }
  let hex = '';
  const out = new DataView(state.buffer);
  for (let i = 0; i < 16; i++) hex += out.getUint8(i).toString(16).padStart(2, '0');
  return hex;
}

function block(state: Int32Array, words: Int32Array): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const sum = (a + f + K[i]! + words[g]!) | 0;
    const s = SHIFTS[(i >> 4) * 4 + (i & 3)]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}
