// What a shared object asks of the dynamic linker: the libraries it needs and where it says to
// look for them. Only what the addon's loader needs: 64-bit little-endian ELF (Linux x64).
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DynamicSection {
  /** DT_NEEDED: the sonames it links against, in order. */
  needed: string[];
  /** DT_RPATH, searched before LD_LIBRARY_PATH, with $ORIGIN expanded. */
  rpath: string[];
  /** DT_RUNPATH, searched after LD_LIBRARY_PATH, with $ORIGIN expanded. */
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

function read(fd: number, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const got = readSync(fd, buffer, 0, length, offset);
  if (got !== length) throw new Error(`truncated at byte ${offset + got}`);
  return buffer;
}

/** The dynamic section of `file`, or null when it is not a 64-bit little-endian ELF with one. */
export function readDynamicSection(file: string): DynamicSection | null {
  const fd = openSync(file, 'r');
  try {
    const header = read(fd, 0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return null;
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const programs = read(fd, phoff, phentsize * phnum);
    const loads: { offset: number; vaddr: number; size: number }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      const type = programs.readUInt32LE(at);
      const offset = Number(programs.readBigUInt64LE(at + 8));
      const vaddr = Number(programs.readBigUInt64LE(at + 16));
      const size = Number(programs.readBigUInt64LE(at + 32));
      if (type === PT_LOAD) loads.push({ offset, vaddr, size });
      else if (type === PT_DYNAMIC) dynamic = { offset, size };
    }
    if (!dynamic) return null;
    const entries = read(fd, dynamic.offset, dynamic.size);
    const strings: { tag: bigint; at: number }[] = [];
    let strtab: number | undefined;
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = entries.readBigInt64LE(at);
      if (tag === 0n) break;
      const value = entries.readBigUInt64LE(at + 8);
      if (tag === DT_STRTAB) strtab = Number(value);
      else if (tag === DT_NEEDED || tag === DT_RPATH || tag === DT_RUNPATH) strings.push({ tag, at: Number(value) });
    }
    if (strtab === undefined) return null;
    // DT_STRTAB is an address: the loaded segment that holds it gives its place in the file
    const segment = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.size);
    if (!segment) return null;
    const base = strtab - segment.vaddr + segment.offset;
    const text = (at: number) => {
      const chunk = read(fd, base + at, Math.min(4096, segment.offset + segment.size - (base + at)));
      const end = chunk.indexOf(0);
      return chunk.toString('utf8', 0, end < 0 ? chunk.length : end);
    };
    const origin = dirname(file);
    const paths = (value: string) => value.split(':').filter(Boolean).map((p) => p.replaceAll(/\$(ORIGIN|\{ORIGIN\})/g, origin));
    const result: DynamicSection = { needed: [], rpath: [], runpath: [] };
    for (const { tag, at } of strings) {
      if (tag === DT_NEEDED) result.needed.push(text(at));
      else if (tag === DT_RPATH) result.rpath.push(...paths(text(at)));
      else result.runpath.push(...paths(text(at)));
    }
    return result;
  } finally {
    closeSync(fd);
  }
}
