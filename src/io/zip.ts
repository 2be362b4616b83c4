/**
 * Zip archives in memory (the container of `torch.save`): fflate extracts the entries; this module adds
 * what fflate leaves out, the CRC-32 check of every extracted entry against the central directory, so a
 * corrupted byte anywhere in an entry is an error rather than a silently different weight.
 */
import { unzipSync } from 'fflate';

let table: Uint32Array | undefined;

/** CRC-32 (the zip / PNG polynomial 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The CRC-32 of each entry as the central directory records it, by name. */
function centralDirectoryCrcs(bytes: Uint8Array): Map<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  let end = bytes.length - 22;
  while (end >= 0 && u32(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('no end-of-central-directory record');
  let count = u16(end + 10);
  let offset = u32(end + 16);
  if ((count === 0xffff || offset === 0xffffffff) && end >= 20 && u32(end - 20) === 0x07064b50) {
    const record = Number(view.getBigUint64(end - 12, true));
    if (record + 56 > bytes.length || u32(record) !== 0x06064b50) throw new Error('a broken zip64 end-of-central-directory record');
    count = Number(view.getBigUint64(record + 32, true));
    offset = Number(view.getBigUint64(record + 48, true));
  }
  const names = new TextDecoder();
  const crcs = new Map<string, number>();
  for (let i = 0, at = offset; i < count; i++) {
    if (at + 46 > bytes.length || u32(at) !== 0x02014b50) throw new Error(`central directory entry ${i} is missing or broken`);
    const nameLength = u16(at + 28);
    if (at + 46 + nameLength > bytes.length) throw new Error(`central directory entry ${i} is cut off`);
    crcs.set(names.decode(bytes.subarray(at + 46, at + 46 + nameLength)), u32(at + 16));
    at += 46 + nameLength + u16(at + 30) + u16(at + 32);
  }
  return crcs;
}

/**
 * The entries of the zip archive in `bytes` whose names pass `keep`, each checked against its CRC-32.
 * Throws an Error saying what is wrong on a truncated or corrupt archive.
 */
export function readZip(bytes: Uint8Array, keep: (name: string) => boolean = () => true): Map<string, Uint8Array> {
  let files: Record<string, Uint8Array>;
  let crcs: Map<string, number>;
  try {
    files = unzipSync(bytes, { filter: (file) => keep(file.name) });
    crcs = centralDirectoryCrcs(bytes);
  } catch (e) {
    throw new Error(`not a readable zip archive (truncated or corrupt?): ${(e as Error).message}`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) {
    const expected = crcs.get(name);
    if (expected === undefined) throw new Error(`zip entry '${name}' is not in the central directory (corrupt archive)`);
    if (crc32(data) !== expected) throw new Error(`zip entry '${name}' fails its CRC-32 check: the file is corrupt`);
    out.set(name, data);
  }
  return out;
}
