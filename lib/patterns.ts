// Diffraction patterns by index, wherever they are held: inference takes them chunk by chunk, so
// that what it copies (and, for a file read lazily, what it holds) does not grow with the dataset.
import { type FileHandle, open } from 'node:fs/promises';
import type { Dataset } from './dataset.js';
import { ArgumentError } from './errors.js';
import { type NpyHeader, decodeNpyBody, dtypeBytes } from './npy.js';
import { NpzError } from './npz.js';

/** Diffraction patterns (amplitudes) that can be read by index. */
export interface PatternSource {
  /** Patterns held. */
  readonly count: number;
  /** Pattern size N. */
  readonly n: number;
  /**
   * The patterns `indices` (ascending, no repeats) as amplitudes, (k, N, N) float32: the start
   * of `into` when it is given and large enough (a caller reading chunk after chunk reuses one
   * buffer), else a new array.
   */
  read(indices: Int32Array, into?: Float32Array): Promise<Float32Array>;
}

/** The patterns of a dataset in memory. */
export function memoryPatterns(dataset: Pick<Dataset, 'diffraction'>): PatternSource {
  const [count, n] = dataset.diffraction.shape;
  const data = dataset.diffraction.data as Float32Array;
  const size = n * n;
  return {
    count, n,
    read: async (indices, into) => {
      checkAscending(indices, count);
      const out = output(indices.length * size, into);
      for (let k = 0; k < indices.length; k++) out.set(data.subarray(indices[k] * size, (indices[k] + 1) * size), k * size);
      return out;
    },
  };
}

function checkAscending(indices: Int32Array, count: number): void {
  for (let k = 0; k < indices.length; k++) {
    if (!(indices[k] >= 0 && indices[k] < count && (k === 0 || indices[k] > indices[k - 1]))) {
      throw new ArgumentError(`pattern indices must ascend within 0 to ${count - 1}, got ${indices[k]} at position ${k}`);
    }
  }
}

const output = (length: number, into?: Float32Array): Float32Array =>
  into && into.length >= length ? into.subarray(0, length) : new Float32Array(length);

/** A chunk of groups: the patterns they use, once each and ascending, and the groups re-indexed into them. */
export interface PatternChunk {
  patterns: Int32Array;
  groups: Int32Array;
}

/** The distinct patterns of `groups` (indices into a source of `count`) and the groups as indices into those. */
export function chunkPatterns(groups: Int32Array, count: number): PatternChunk {
  for (const p of groups) {
    if (!(p >= 0 && p < count)) throw new ArgumentError(`pattern index ${p} is outside 0 to ${count - 1}`);
  }
  const patterns = Int32Array.from(new Set(groups)).sort();
  const slot = new Map<number, number>(Array.from(patterns, (p, k) => [p, k]));
  return { patterns, groups: groups.map((p) => slot.get(p)!) };
}

/** How a stored NPZ member's rows are laid out in its file. */
export interface StoredRows {
  path: string;
  /** The member, for messages, e.g. "member 'diffraction.npy' of scan.npz". */
  label: string;
  /** File offset of row 0's first byte. */
  offset: number;
  header: Pick<NpyHeader, 'dtype' | 'littleEndian'>;
  count: number;
  n: number;
}

// Rows this close together are read as one range (the few between are read and dropped): fewer
// reads for the scattered members of spatial groups.
const GAP = 4;

/**
 * Patterns read from a file as they are needed, never all at once: a stored (uncompressed) NPZ
 * member of shape (count, N, N), C order. `prepare` checks and converts each read (amplitudes
 * from counts, bad pixels), given the file index of each pattern.
 */
export class FilePatterns implements PatternSource {
  readonly count: number;
  readonly n: number;
  // the bytes of one range, reused from read to read
  private scratch = Buffer.alloc(0);
  private last: Promise<unknown> = Promise.resolve();

  private constructor(private readonly file: FileHandle, private readonly rows: StoredRows,
    private readonly prepare: (values: Float32Array, indices: Int32Array) => void) {
    this.count = rows.count;
    this.n = rows.n;
  }

  static async open(rows: StoredRows, prepare: (values: Float32Array, indices: Int32Array) => void): Promise<FilePatterns> {
    return new FilePatterns(await open(rows.path, 'r'), rows, prepare);
  }

  read(indices: Int32Array, into?: Float32Array): Promise<Float32Array> {
    // one read at a time: they share the scratch bytes (two reconstructions of one dataset at once)
    const result = this.last.then(() => this.readNow(indices, into));
    this.last = result.catch(() => {});
    return result;
  }

  private async readNow(indices: Int32Array, into?: Float32Array): Promise<Float32Array> {
    const { n, count, header, offset, label } = this.rows;
    const size = n * n;
    const rowBytes = size * dtypeBytes(header.dtype);
    checkAscending(indices, count);
    const out = output(indices.length * size, into);
    for (let k = 0; k < indices.length;) {
      // a run of rows indices[k .. end - 1], read as the range from the first to the last
      let end = k + 1;
      while (end < indices.length && indices[end] - indices[end - 1] <= GAP) end++;
      const first = indices[k];
      const last = indices[end - 1];
      const length = (last - first + 1) * rowBytes;
      if (this.scratch.length < length) this.scratch = Buffer.allocUnsafe(length);
      const bytes = this.scratch.subarray(0, length);
      const { bytesRead } = await this.file.read(bytes, 0, bytes.length, offset + first * rowBytes);
      if (bytesRead !== bytes.length) {
        throw new NpzError(`${label}: truncated: patterns ${first} to ${last} end past the end of the file`);
      }
      const values = decodeNpyBody(bytes, header, (last - first + 1) * size);
      for (let j = k; j < end; j++) {
        const from = (indices[j] - first) * size;
        const row = values.subarray(from, from + size);
        if (row instanceof BigInt64Array || row instanceof BigUint64Array) {
          for (let i = 0; i < size; i++) out[j * size + i] = Number(row[i]);
        } else {
          out.set(row, j * size);
        }
      }
      k = end;
    }
    this.prepare(out, indices);
    return out;
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.file.close();
  }
}
