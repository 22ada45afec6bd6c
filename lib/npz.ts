// The .npz format: a zip of `<key>.npy` members, stored or deflated. Reading is lazy: opening
// reads only the zip's central directory, and a member is inflated only when it is asked for,
// straight into one buffer of its uncompressed size.

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { NdArray } from './ndarray.js';
import { decodeNpy, encodeNpyParts, NpyError, npyHeaderLength, parseNpyHeader, writeAtomically, type NpyHeader } from './npy.js';

export class NpzError extends Error {
  override name = 'NpzError';
}

export interface NpzMemberInfo extends NpyHeader {
  key: string;
  /** The member's name in the zip, e.g. 'probeGuess.npy'. */
  member: string;
  compressed: boolean;
  compressedSize: number;
  uncompressedSize: number;
}

const NPY = '.npy';
const quoted = (names: string[]) => names.map((n) => `'${n}'`).join(', ');

export class NpzFile {
  /** Uncompressed bytes taken out of members so far: shows that `info` and `read` stay lazy. */
  bytesRead = 0;

  private constructor(
    readonly path: string,
    private readonly zip: yauzl.ZipFile,
    private readonly arrays: Map<string, yauzl.Entry>,
    /** Every file member, arrays or not. */
    readonly members: string[],
  ) {}

  static async open(path: string): Promise<NpzFile> {
    let zip: yauzl.ZipFile | undefined;
    try {
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
      const arrays = new Map<string, yauzl.Entry>();
      const members: string[] = [];
      for await (const entry of zip.eachEntry()) {
        if (entry.fileName.endsWith('/')) continue; // a folder
        members.push(entry.fileName);
        if (entry.fileName.endsWith(NPY)) arrays.set(entry.fileName.slice(0, -NPY.length), entry);
      }
      return new NpzFile(path, zip, arrays, members);
    } catch (err) {
      zip?.close();
      // File-system errors (missing file, no permission) already name the path.
      if ((err as NodeJS.ErrnoException).code) throw err;
      throw new NpzError(`${path} is not a complete zip file (expected an .npz archive of .npy arrays): ${(err as Error).message}`, { cause: err });
    }
  }

  /** The array names, without the '.npy' of their members. */
  get keys(): string[] {
    return [...this.arrays.keys()];
  }

  has(key: string): boolean {
    return this.arrays.has(key) || this.arrays.has(stripNpy(key));
  }

  /** dtype and shape from the member's header only: a few hundred bytes are inflated. */
  async info(key: string): Promise<NpzMemberInfo> {
    const entry = this.entry(key);
    const label = this.label(entry);
    let bytes = await this.readBytes(entry, Math.min(entry.uncompressedSize, 256));
    const length = npyCall(() => npyHeaderLength(bytes, label));
    // A header longer than the member is left for parseNpyHeader to report.
    if (length > bytes.length && length <= entry.uncompressedSize) bytes = await this.readBytes(entry, length);
    const header = npyCall(() => parseNpyHeader(bytes, label));
    return {
      ...header,
      key: stripNpy(entry.fileName),
      member: entry.fileName,
      compressed: entry.compressionMethod !== 0,
      compressedSize: entry.compressedSize,
      uncompressedSize: entry.uncompressedSize,
    };
  }

  async read(key: string): Promise<NdArray> {
    const entry = this.entry(key);
    const bytes = await this.readBytes(entry, entry.uncompressedSize);
    return npyCall(() => decodeNpy(bytes, this.label(entry)));
  }

  close(): void {
    this.zip.close();
  }

  private label(entry: yauzl.Entry): string {
    return `member '${entry.fileName}' of ${this.path}`;
  }

  private entry(key: string): yauzl.Entry {
    if (!this.zip.isOpen) throw new NpzError(`${this.path}: cannot read '${key}': the file is closed`);
    const entry = this.arrays.get(key) ?? this.arrays.get(stripNpy(key));
    if (entry) return entry;
    if (this.members.includes(key)) {
      throw new NpzError(
        `${this.path}: member '${key}' is not an array: expected a .npy member ('<key>.npy', as np.savez writes), found '${key}'`,
      );
    }
    const others = this.members.filter((m) => !m.endsWith(NPY));
    throw new NpzError(
      `${this.path}: no array '${key}': the file holds ${this.arrays.size ? quoted(this.keys) : 'no arrays'}` +
        (others.length ? ` (and non-array members ${quoted(others)})` : ''),
    );
  }

  // Inflates the first `length` bytes of a member into one buffer; a whole member is CRC-checked.
  private async readBytes(entry: yauzl.Entry, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const whole = length === entry.uncompressedSize;
    let filled = 0;
    let crc = 0;
    try {
      const stream = await this.zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        this.bytesRead += chunk.length;
        if (whole) crc = crc32(chunk, crc);
        const n = Math.min(chunk.length, length - filled);
        out.set(chunk.subarray(0, n), filled);
        filled += n;
        if (!whole && filled === length) break; // stops the inflater too
      }
    } catch (err) {
      throw new NpzError(`${this.label(entry)}: cannot read the member (the zip is damaged): ${(err as Error).message}`, { cause: err });
    }
    if (filled !== length) {
      throw new NpzError(`${this.label(entry)}: truncated member: expected ${length} bytes, found ${filled}`);
    }
    if (whole && crc !== entry.crc32) {
      throw new NpzError(`${this.label(entry)}: corrupt member: CRC-32 ${hex(crc)} does not match the expected ${hex(entry.crc32)}`);
    }
    return out;
  }
}

const stripNpy = (name: string) => (name.endsWith(NPY) ? name.slice(0, -NPY.length) : name);
const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

// An npy error inside an npz is reported as an NpzError with the same message (it names the member).
function npyCall<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw err instanceof NpyError ? new NpzError(err.message, { cause: err }) : err;
  }
}

/** Reads the given arrays (all of them by default; members that are not arrays are skipped). */
export async function readNpz(path: string, keys?: string[]): Promise<Record<string, NdArray>> {
  const npz = await NpzFile.open(path);
  try {
    const out: Record<string, NdArray> = Object.create(null);
    for (const key of keys ?? npz.keys) out[key] = await npz.read(key);
    return out;
  } finally {
    npz.close();
  }
}

export interface WriteNpzOptions {
  /** Deflate the members, like np.savez_compressed (default false, like np.savez). */
  compress?: boolean;
}

/** Writes arrays as `<key>.npy` members; `path` is replaced only once the file is complete. */
export async function writeNpz(path: string, arrays: Record<string, NdArray>, options: WriteNpzOptions = {}): Promise<void> {
  const members = Object.entries(arrays).map(([key, array]) => {
    if (!key || key.startsWith('/') || key.includes('\\') || key.split('/').includes('..')) {
      throw new NpzError(`${path}: invalid key ${JSON.stringify(key)}: expected a non-empty relative name without '..' or '\\'`);
    }
    return { name: key + NPY, parts: npyCall(() => encodeNpyParts(array, `array '${key}' for ${path}`)) };
  });
  await writeAtomically(path, async (temp) => {
    const zip = new yazl.ZipFile();
    for (const { name, parts } of members) {
      const size = parts[0].length + parts[1].length;
      // Streamed in slices so a large array is neither copied whole nor deflated in one call.
      zip.addReadStreamLazy(name, { compress: options.compress ?? false, size }, (cb) => cb(null, Readable.from(slices(parts), { objectMode: false })));
    }
    zip.end();
    const out = createWriteStream(temp, { flags: 'wx', flush: true });
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err: Error) => {
        out.destroy();
        reject(err);
      });
      pipeline(zip.outputStream, out).then(resolve, reject);
    });
  });
}

function* slices(parts: Uint8Array[]): Generator<Buffer> {
  const step = 1 << 22;
  for (const part of parts) {
    for (let at = 0; at < part.length; at += step) {
      yield Buffer.from(part.buffer, part.byteOffset + at, Math.min(step, part.length - at));
    }
  }
}
