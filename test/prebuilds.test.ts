// The prebuilt native kernels shipped in the package (prebuilds/, made by scripts/build-prebuilds.mjs):
// every file is the one its manifest records (sha256, size), nothing unrecorded ships, the addon finds
// its libraries beside itself (DT_RPATH $ORIGIN), and the manifest states the system it needs.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../prebuilds/linux-x64/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
  target: string;
  needs: { GLIBC: string; GLIBCXX: string };
  files: Record<string, { sha256: string; bytes: number; needs: { GLIBC: string | null } }>;
};

describe('prebuilds/linux-x64', () => {
  it('holds exactly the files of its manifest, each with the recorded sha256 and size', () => {
    const shipped = readdirSync(dir).filter((f) => f !== 'manifest.json' && f !== 'licenses').sort();
    expect(shipped).toEqual(Object.keys(manifest.files).sort());
    expect(shipped).toEqual(['libOpenCL.so.1', 'libdnnl.so.2', 'libgomp.so.1', 'rmc_native.node']);
    for (const [name, file] of Object.entries(manifest.files)) {
      const data = readFileSync(join(dir, name));
      expect(createHash('sha256').update(data).digest('hex'), name).toBe(file.sha256);
      expect(statSync(join(dir, name)).size, name).toBe(file.bytes);
    }
    expect(readdirSync(join(dir, 'licenses')).sort()).toEqual(['libdnnl2.copyright', 'libgomp1.copyright', 'ocl-icd-libopencl1.copyright']);
  });

  it('the addon searches its own directory first (DT_RPATH $ORIGIN, which also covers oneDNN\'s own dependencies)', () => {
    // The ELF dynamic section, read directly: DT_RPATH (tag 15) naming $ORIGIN, and no DT_RUNPATH (29),
    // which would both take precedence over DT_RPATH and not apply to libdnnl's dependencies.
    const elf = readFileSync(join(dir, 'rmc_native.node'));
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const sectionHeaders = Number(elf.readBigUInt64LE(0x28));
    const entrySize = elf.readUInt16LE(0x3a);
    const count = elf.readUInt16LE(0x3c);
    const sections = Array.from({ length: count }, (_, i) => {
      const at = sectionHeaders + i * entrySize;
      return { type: elf.readUInt32LE(at + 4), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)), link: elf.readUInt32LE(at + 0x28) };
    });
    const dynamic = sections.find((s) => s.type === 6)!; // SHT_DYNAMIC
    const strings = sections[dynamic.link]!;
    const tags = new Map<number, number>();
    for (let at = dynamic.offset; at < dynamic.offset + dynamic.size; at += 16) tags.set(Number(elf.readBigInt64LE(at)), Number(elf.readBigUInt64LE(at + 8)));
    const string = (offset: number) => elf.toString('latin1', strings.offset + offset, elf.indexOf(0, strings.offset + offset));
    expect(tags.has(15) ? string(tags.get(15)!) : null).toBe('$ORIGIN');
    expect(tags.has(29)).toBe(false);
  });

  it('states the newest glibc and libstdc++ it needs, the loader checks it, and every file fits it', () => {
    expect(manifest.target).toBe('linux-x64');
    expect(manifest.needs.GLIBC).toMatch(/^2\.\d+$/);
    expect(manifest.needs.GLIBCXX).toMatch(/^3\.4\.\d+$/);
    for (const file of Object.values(manifest.files)) {
      if (file.needs.GLIBC) expect(file.needs.GLIBC.localeCompare(manifest.needs.GLIBC, undefined, { numeric: true })).toBeLessThanOrEqual(0);
    }
  });
});
