// The .npz format: a zip of `<key>.npy` members, stored or deflated. Reading is lazy: opening
// reads only the zip's central directory, and a member is inflated only when it is asked for,
// straight into one buffer of its uncompressed size.

import type yauzl from 'yauzl';
import type { NdArray } from './ndarray.js';
import { checkNpyLength, decodeNpy, encodeNpyParts, NpyError, npyHeaderLength, parseNpyHeader, type NpyHeader } from './npy.js';
import { writeZip, ZipArchive, ZipError } from './zip.js';
import { PtychoPinnError } from './errors.js';

/** An NPZ file that cannot be read or written: names the file, the member and what was expected. */
export class NpzError extends PtychoPinnError {
  override name = 'NpzError';
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super('ERR_PTYCHOPINN_NPZ', message, { cause: options?.cause, exitCode: options?.exitCode });
  }
}

/** A member's NPY header (dtype, shape, order), read without its data. */
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

/** An NPZ (zip of NPY) file open for reading member by member; `close()` it when done. */
export class NpzFile {
  private constructor(
    private readonly zip: ZipArchive,
    private readonly arrays: Map<string, yauzl.Entry>,
  ) {}

  /** Opens an NPZ file and reads its directory. */
  static async open(path: string): Promise<NpzFile> {
    const zip = await zipCall(() => ZipArchive.open(path, 'an .npz archive of .npy arrays'));
    const arrays = new Map<string, yauzl.Entry>();
    for (const [name, entry] of zip.entries) {
      if (name.endsWith(NPY)) arrays.set(name.slice(0, -NPY.length), entry);
    }
    return new NpzFile(zip, arrays);
  }

  get path(): string {
    return this.zip.path;
  }

  /** Every file member, arrays or not. */
  get members(): string[] {
    return [...this.zip.entries.keys()];
  }

  /** Uncompressed bytes taken out of members so far: shows that `info` and `read` stay lazy. */
  get bytesRead(): number {
    return this.zip.bytesRead;
  }

  /** The array names, without the '.npy' of their members. */
  get keys(): string[] {
    return [...this.arrays.keys()];
  }

  /** Whether the file has the member `key` (without .npy). */
  has(key: string): boolean {
    return this.arrays.has(key) || this.arrays.has(stripNpy(key));
  }

  /** dtype and shape from the member's header only: a few hundred bytes are inflated. */
  async info(key: string): Promise<NpzMemberInfo> {
    const entry = this.entry(key);
    const label = this.label(entry);
    let bytes = await zipCall(() => this.zip.read(entry, label, Math.min(entry.uncompressedSize, 256)));
    const length = npyCall(() => npyHeaderLength(bytes, label));
    // A header longer than the member is left for parseNpyHeader to report.
    if (length > bytes.length && length <= entry.uncompressedSize) {
      bytes = await zipCall(() => this.zip.read(entry, label, length));
    }
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

  /** `info`, and an error when the member is shorter than its header's shape needs. */
  async completeInfo(key: string): Promise<NpzMemberInfo> {
    const info = await this.info(key);
    npyCall(() => checkNpyLength(info, info.uncompressedSize, this.label(this.entry(key))));
    return info;
  }

  /**
   * Where a stored (uncompressed) member's array data starts in the file, with its header, so that
   * parts of it can be read by position without reading the rest; undefined when it is compressed.
   */
  async storedData(key: string): Promise<{ info: NpzMemberInfo; offset: number; label: string } | undefined> {
    const entry = this.entry(key);
    const start = await zipCall(() => this.zip.storedDataOffset(entry, this.label(entry)));
    if (start === undefined) return undefined;
    const info = await this.completeInfo(key);
    return { info, offset: start + info.headerLength, label: this.label(entry) };
  }

  /** Reads a member through once to check its CRC-32 (what `read` checks), keeping none of it. */
  async verify(key: string): Promise<void> {
    const entry = this.entry(key);
    await zipCall(() => this.zip.verify(entry, this.label(entry)));
  }

  /** Reads and decodes one member. */
  async read(key: string): Promise<NdArray> {
    const entry = this.entry(key);
    const bytes = await zipCall(() => this.zip.read(entry, this.label(entry)));
    return npyCall(() => decodeNpy(bytes, this.label(entry)));
  }

  /** Closes the file. */
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
}

const stripNpy = (name: string) => (name.endsWith(NPY) ? name.slice(0, -NPY.length) : name);

// Zip errors inside an npz are reported as NpzErrors with the same message (it names the file).
async function zipCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw err instanceof ZipError ? new NpzError(err.message, { cause: err, exitCode: err.exitCode }) : err;
  }
}

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

/** How `writeNpz` writes a file. */
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
  await writeZip(path, members.map(({ name, parts }) => ({ name, parts, compress: options.compress ?? false })));
}
