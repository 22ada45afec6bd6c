// Zip archives as this package uses them (NPZ files, model bundles): lazy, CRC-checked reads of
// single members through yauzl, and atomic writes through yazl.
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { writeAtomically } from './atomic.js';
import { PtychoPinnError } from './errors.js';

/** A zip file (NPZ, bundle) that cannot be read: names the file and the entry. */
export class ZipError extends PtychoPinnError {
  override name = 'ZipError';
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super('ERR_PTYCHOPINN_ZIP', message, { cause: options?.cause, exitCode: options?.exitCode });
  }
}

/** A file-system error as a message that names the file and what was expected there. */
export function fileError(path: string, what: string, err: NodeJS.ErrnoException): ZipError {
  const why: Record<string, string> = {
    ENOENT: 'no such file', EISDIR: 'is a folder, not a file', EACCES: 'permission denied',
    ENOTDIR: 'a part of the path is not a folder', ELOOP: 'too many symbolic links',
  };
  const shown = path === '' ? '(an empty path)' : path;
  // a path that names no usable file is a mistake in the call, as a bad flag is (exit 2)
  return new ZipError(`${shown}: ${why[err.code ?? ''] ?? err.message} (expected ${what})`, { cause: err, exitCode: 2 });
}

// Deflate cannot expand data more than 1032 times; a member that claims more, or a stored member
// whose sizes disagree, has a lying header, and reading it would allocate what it claims.
const MAX_MEMBER = 2 ** 32 - 1;
function checkEntry(path: string, entry: yauzl.Entry, fileSize: number): void {
  const name = entry.fileName;
  if (name.startsWith('/') || name.split(/[\\/]/).includes('..')) {
    throw new ZipError(`${path}: member ${JSON.stringify(name)} has a path outside the archive`);
  }
  const claimed = entry.uncompressedSize;
  const plausible = entry.compressionMethod === 0 ? entry.compressedSize : entry.compressedSize * 1032 + 1024;
  if (claimed > MAX_MEMBER || claimed > plausible || entry.compressedSize > fileSize) {
    throw new ZipError(`${path}: member ${JSON.stringify(name)} claims ${claimed} bytes from ${entry.compressedSize} stored bytes in a ${fileSize}-byte file: its header is corrupt`);
  }
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export class ZipArchive {
  /** Uncompressed bytes taken out of members so far: shows that reads stay lazy. */
  bytesRead = 0;

  private constructor(readonly path: string, private readonly zip: yauzl.ZipFile,
    /** File members by name, in archive order. */
    readonly entries: Map<string, yauzl.Entry>) {}

  /** Reads the central directory only. `what` names the expected kind of file in errors. */
  static async open(path: string, what: string): Promise<ZipArchive> {
    let zip: yauzl.ZipFile | undefined;
    try {
      // entry sizes are checked by checkEntry, which names the member
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: false });
      const entries = new Map<string, yauzl.Entry>();
      for await (const entry of zip.eachEntry()) {
        if (entry.fileName.endsWith('/')) continue;
        checkEntry(path, entry, zip.fileSize);
        if (entries.has(entry.fileName)) throw new ZipError(`${path}: the zip holds two members named ${JSON.stringify(entry.fileName)}`);
        entries.set(entry.fileName, entry);
      }
      return new ZipArchive(path, zip, entries);
    } catch (err) {
      zip?.close();
      if (err instanceof ZipError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code) throw fileError(path, what, err as NodeJS.ErrnoException);
      throw new ZipError(`${path} is not a complete zip file (expected ${what}): ${(err as Error).message}`, { cause: err });
    }
  }

  get isOpen(): boolean {
    return this.zip.isOpen;
  }

  /** Inflates the first `length` bytes of a member (all by default); a whole member is CRC-checked. */
  async read(entry: yauzl.Entry, label: string, length = entry.uncompressedSize): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.pass(entry, label, length, (chunk, at) => out.set(chunk, at));
    return out;
  }

  /** Reads a whole member only to check its length and CRC-32, keeping none of it. */
  async verify(entry: yauzl.Entry, label: string): Promise<void> {
    await this.pass(entry, label, entry.uncompressedSize);
  }

  // The member's first `length` bytes, chunk by chunk to `sink`; a whole member is CRC-checked.
  private async pass(entry: yauzl.Entry, label: string, length: number, sink?: (chunk: Buffer, at: number) => void): Promise<void> {
    const whole = length === entry.uncompressedSize;
    let filled = 0;
    let crc = 0;
    try {
      const stream = await this.zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        this.bytesRead += chunk.length;
        if (whole) crc = crc32(chunk, crc);
        const n = Math.min(chunk.length, length - filled);
        sink?.(chunk.subarray(0, n), filled);
        filled += n;
        if (!whole && filled === length) break; // stops the inflater too
      }
    } catch (err) {
      throw new ZipError(`${label}: cannot read the member (the zip is damaged): ${(err as Error).message}`, { cause: err });
    }
    if (filled !== length) {
      throw new ZipError(`${label}: truncated member: expected ${length} bytes, found ${filled}`);
    }
    if (whole && crc !== entry.crc32) {
      throw new ZipError(`${label}: corrupt member: CRC-32 ${hex(crc)} does not match the expected ${hex(entry.crc32)}`);
    }
  }

  /**
   * Where a stored (uncompressed) member's bytes start in the file, for reading parts of it by
   * position; undefined for a compressed member.
   */
  async storedDataOffset(entry: yauzl.Entry, label: string): Promise<number | undefined> {
    if (entry.compressionMethod !== 0) return undefined;
    try {
      return (await this.zip.readLocalFileHeaderPromise(entry, { minimal: true })).fileDataStart;
    } catch (err) {
      throw new ZipError(`${label}: cannot read the member's local header (the zip is damaged): ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    this.zip.close();
  }
}

// A fixed member time (the zip format's first date, as NumPy writes): the same arrays give the
// same bytes.
const EPOCH = new Date(1980, 0, 1);

export interface ZipMember {
  name: string;
  /** The member's bytes, in parts written one after the other (no concatenated copy). */
  parts: Uint8Array[];
  compress: boolean;
}

/** Writes the members; `path` is replaced only once the archive is complete and flushed. */
export async function writeZip(path: string, members: ZipMember[]): Promise<void> {
  await writeAtomically(path, async (temp) => {
    const zip = new yazl.ZipFile();
    for (const { name, parts, compress } of members) {
      const size = parts.reduce((n, p) => n + p.length, 0);
      // Streamed in slices so a large member is neither copied whole nor deflated in one call.
      zip.addReadStreamLazy(name, { compress, size, mtime: EPOCH }, (cb) => cb(null, Readable.from(slices(parts), { objectMode: false })));
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

/** Whether a file starts as a zip does (a .ptpinn bundle, an NPZ), by its first four bytes. */
export async function isZipFile(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await file.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  } finally {
    await file.close();
  }
}
