// The .npy format (NumPy's single-array file): header parsing, decoding into an NdArray in native
// little-endian C order, and encoding back to little-endian C order.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

import { open, readFile } from 'node:fs/promises';
import { writeAtomically } from './atomic.js';
import { elementCount, shapeText, type DataOf, type DType, type NdArray } from './ndarray.js';
import { PtychoPinnError } from './errors.js';

/** An NPY file or buffer that cannot be read or written: names the source and what was expected. */
export class NpyError extends PtychoPinnError {
  override name = 'NpyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_NPY', message, { cause: options?.cause });
  }
}

export interface NpyHeader {
  dtype: DType;
  /** The dtype as written in the header, e.g. '>f8'. */
  descr: string;
  shape: number[];
  fortranOrder: boolean;
  littleEndian: boolean;
  /** Offset of the first data byte: magic, version, length field and header text. */
  headerLength: number;
}

interface DTypeInfo {
  code: string; // the typestr without byte order, e.g. 'f8'
  bytes: number; // bytes per element
  lanes: number; // numbers per element in the NdArray (2 for complex)
  // Typed array the raw little-endian bytes are viewed as (float16 is then widened).
  raw: new (buffer: ArrayBuffer, byteOffset: number, length: number) => DataOf[DType] | Uint16Array;
  make: (length: number) => DataOf[DType];
}

const DTYPES: Record<DType, DTypeInfo> = {
  bool: { code: 'b1', bytes: 1, lanes: 1, raw: Uint8Array, make: (n) => new Uint8Array(n) },
  int8: { code: 'i1', bytes: 1, lanes: 1, raw: Int8Array, make: (n) => new Int8Array(n) },
  uint8: { code: 'u1', bytes: 1, lanes: 1, raw: Uint8Array, make: (n) => new Uint8Array(n) },
  int16: { code: 'i2', bytes: 2, lanes: 1, raw: Int16Array, make: (n) => new Int16Array(n) },
  uint16: { code: 'u2', bytes: 2, lanes: 1, raw: Uint16Array, make: (n) => new Uint16Array(n) },
  int32: { code: 'i4', bytes: 4, lanes: 1, raw: Int32Array, make: (n) => new Int32Array(n) },
  uint32: { code: 'u4', bytes: 4, lanes: 1, raw: Uint32Array, make: (n) => new Uint32Array(n) },
  int64: { code: 'i8', bytes: 8, lanes: 1, raw: BigInt64Array, make: (n) => new BigInt64Array(n) },
  uint64: { code: 'u8', bytes: 8, lanes: 1, raw: BigUint64Array, make: (n) => new BigUint64Array(n) },
  float16: { code: 'f2', bytes: 2, lanes: 1, raw: Uint16Array, make: (n) => new Float32Array(n) },
  float32: { code: 'f4', bytes: 4, lanes: 1, raw: Float32Array, make: (n) => new Float32Array(n) },
  float64: { code: 'f8', bytes: 8, lanes: 1, raw: Float64Array, make: (n) => new Float64Array(n) },
  complex64: { code: 'c8', bytes: 8, lanes: 2, raw: Float32Array, make: (n) => new Float32Array(n) },
  complex128: { code: 'c16', bytes: 16, lanes: 2, raw: Float64Array, make: (n) => new Float64Array(n) },
};

/** Bytes per element of a dtype (both parts of a complex one). */
export const dtypeBytes = (dtype: DType): number => DTYPES[dtype].bytes;

const BY_CODE = new Map(Object.entries(DTYPES).map(([dtype, info]) => [info.code, dtype as DType]));
// NumPy also accepts these one-letter aliases in a typestr.
for (const [alias, dtype] of [['?', 'bool'], ['b', 'int8'], ['B', 'uint8'], ['e', 'float16'], ['f', 'float32'], ['d', 'float64']] as const) {
  BY_CODE.set(alias, dtype);
}

const SUPPORTED = 'bool, int8..int64, uint8..uint64, float16/32/64 or complex64/128 (little- or big-endian)';
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
// NumPy refuses larger headers by default too; a bigger value means a corrupt length field.
const MAX_HEADER_TEXT = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Header

/** The byte offset of the data, from the first 12 bytes; lets a caller read just the header. */
export function npyHeaderLength(bytes: Uint8Array, source = '.npy data'): number {
  if (bytes.length === 0 || MAGIC.some((b, i) => i < bytes.length && bytes[i] !== b)) {
    const found = bytes.length === 0 ? 'an empty file' : `"${printable(bytes.subarray(0, 8))}"`;
    throw new NpyError(`${source}: not a .npy file: expected the magic string "\\x93NUMPY" at the start, found ${found}`);
  }
  if (bytes.length < 10) throw new NpyError(`${source}: truncated .npy header: expected at least 10 bytes, found ${bytes.length}`);
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new NpyError(`${source}: unsupported .npy format version ${major}.${bytes[7]}: expected 1.0, 2.0 or 3.0`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return 10 + view.getUint16(8, true);
  if (bytes.length < 12) throw new NpyError(`${source}: truncated .npy header: expected at least 12 bytes, found ${bytes.length}`);
  return 12 + view.getUint32(8, true);
}

export function parseNpyHeader(bytes: Uint8Array, source = '.npy data'): NpyHeader {
  const headerLength = npyHeaderLength(bytes, source);
  const prefix = bytes[6] === 1 ? 10 : 12;
  if (headerLength - prefix > MAX_HEADER_TEXT || headerLength > bytes.length) {
    throw new NpyError(
      `${source}: corrupt .npy header: header length ${headerLength - prefix} runs past the end of the data ` +
        `(expected a header within the ${bytes.length} bytes available)`,
    );
  }
  const raw = bytes.subarray(prefix, headerLength);
  const text = new TextDecoder(bytes[6] === 3 ? 'utf-8' : 'latin1').decode(raw);

  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new NpyError(`${source}: corrupt .npy header: ${(err as Error).message} in ${JSON.stringify(text.trim())}`);
  }
  if (!(dict instanceof Map) || !dict.has('descr') || !dict.has('fortran_order') || !dict.has('shape')) {
    throw new NpyError(`${source}: corrupt .npy header: expected a dict with keys 'descr', 'fortran_order' and 'shape', found ${JSON.stringify(text.trim())}`);
  }
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof fortran !== 'boolean') {
    throw new NpyError(`${source}: corrupt .npy header: expected 'fortran_order' True or False, found ${pyText(fortran)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyError(`${source}: corrupt .npy header: expected 'shape' to be a tuple of non-negative integers, found ${pyText(shape)}`);
  }
  const { dtype, littleEndian } = parseDescr(descr, source);
  return { dtype, descr: descr as string, shape: shape as number[], fortranOrder: fortran, littleEndian, headerLength };
}

function printable(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

function parseDescr(descr: PyValue | undefined, source: string): { dtype: DType; littleEndian: boolean } {
  if (typeof descr !== 'string') {
    const what = Array.isArray(descr) ? 'a structured dtype' : pyText(descr);
    throw new NpyError(`${source}: unsupported dtype ${what}: expected ${SUPPORTED}`);
  }
  const match = /^([<>|=]?)(.+)$/.exec(descr);
  if (!match) throw new NpyError(`${source}: unsupported dtype '${descr}': expected ${SUPPORTED}`);
  const dtype = BY_CODE.get(match[2]);
  if (!dtype) {
    const kinds: Record<string, string> = { O: 'object', U: 'unicode string', S: 'byte string', a: 'byte string', V: 'void/structured', M: 'datetime', m: 'timedelta' };
    const kind = kinds[match[2][0]];
    throw new NpyError(`${source}: unsupported dtype '${descr}'${kind ? ` (${kind} arrays)` : ''}: expected ${SUPPORTED}`);
  }
  // '|' (not applicable) and '=' (native) both mean the machine's order, little-endian on every Node target.
  return { dtype, littleEndian: match[1] !== '>' };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes a whole .npy file. `source` names the file (and member) in error messages. When the
 * data is already little-endian C order and aligned, the result is a view of `bytes` (no copy).
 */
export function decodeNpy(bytes: Uint8Array, source = '.npy data'): NdArray {
  const header = parseNpyHeader(bytes, source);
  const { dtype, shape, headerLength } = header;
  const info = DTYPES[dtype];
  const count = elementCount(shape);
  const needed = checkNpyLength(header, bytes.length, source);
  let data = decodeNpyBody(bytes.subarray(headerLength, headerLength + needed), header, count);
  if (header.fortranOrder && shape.length > 1) data = fortranToC(data, shape, info.lanes, info.make);
  return { dtype, shape, data } as NdArray;
}

/**
 * The data bytes a header's shape needs, or an NpyError when the `total` bytes of the .npy (header
 * included) hold fewer: a header that claims more than its file has is caught before any read.
 */
export function checkNpyLength(header: Pick<NpyHeader, 'dtype' | 'shape' | 'headerLength'>, total: number, source = '.npy data'): number {
  const needed = elementCount(header.shape) * DTYPES[header.dtype].bytes;
  if (!Number.isSafeInteger(needed) || header.headerLength + needed > total) {
    throw new NpyError(
      `${source}: truncated .npy data: shape ${shapeText(header.shape)} of ${header.dtype} needs ${needed} bytes of data, ` +
        `found ${total - header.headerLength}`,
    );
  }
  return needed;
}

/**
 * `count` elements of a header's dtype and byte order from raw data bytes, as the typed array an
 * NdArray of that dtype holds: a view of `body` when it is little-endian and aligned, else a copy.
 * For reading part of an array, such as some rows of a stored NPZ member.
 */
export function decodeNpyBody(body: Uint8Array, header: Pick<NpyHeader, 'dtype' | 'littleEndian'>, count: number): DataOf[DType] {
  const info = DTYPES[header.dtype];
  const laneBytes = info.bytes / info.lanes;
  if (!header.littleEndian || body.byteOffset % laneBytes !== 0) {
    // a fresh, aligned copy that may be byte-swapped in place (not body.slice(): on a Buffer that
    // is a view, still unaligned)
    body = new Uint8Array(body);
    if (!header.littleEndian) swapInPlace(body, laneBytes);
  }
  const data = new info.raw(body.buffer as ArrayBuffer, body.byteOffset, count * info.lanes);
  return header.dtype === 'float16' ? widenHalf(data as Uint16Array) : (data as DataOf[DType]);
}

function swapInPlace(bytes: Uint8Array, width: number): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 2) buf.swap16();
  else if (width === 4) buf.swap32();
  else if (width === 8) buf.swap64();
}

// Fortran order is C order of the reversed shape; walk the C-order output with a counter and
// keep the matching Fortran offset up to date.
function fortranToC<T extends DataOf[DType]>(src: T, shape: number[], lanes: number, make: (n: number) => T): T {
  const ndim = shape.length;
  const out = make(src.length);
  if (src.length === 0) return out;
  const fstride = new Array<number>(ndim);
  for (let k = 0, s = lanes; k < ndim; k++) {
    fstride[k] = s;
    s *= shape[k];
  }
  const index = new Array<number>(ndim).fill(0);
  const s = src as unknown as ArrayLike<number> & { [i: number]: number };
  const o = out as unknown as { [i: number]: number };
  let f = 0;
  for (let c = 0; c < out.length; c += lanes) {
    for (let l = 0; l < lanes; l++) o[c + l] = s[f + l];
    for (let k = ndim - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) {
        f += fstride[k];
        break;
      }
      index[k] = 0;
      f -= fstride[k] * (shape[k] - 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// float16 (Node 20 has no Float16Array)

let halfTable: Float32Array | undefined;

function widenHalf(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      halfTable[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1024 + mant) * 2 ** (exp - 25);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds to the nearest float16 (ties to even), as NumPy's astype(float16) does. */
function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  // NaN keeps the top of its payload, and stays NaN when that is zero (as NumPy does).
  if (exp === 0xff) return sign | 0x7c00 | (mant ? mant >>> 13 || 1 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const tie = 1 << (shift - 1);
    return sign | (half + (rest > tie || (rest === tie && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Throws unless `array` is a well-formed NdArray: checked before any byte is written. */
export function validateNdArray(array: NdArray, source = 'array'): void {
  const info = DTYPES[array?.dtype as DType];
  if (!info) throw new NpyError(`${source}: unsupported dtype ${JSON.stringify(array?.dtype)}: expected ${SUPPORTED}`);
  const { dtype, shape, data } = array;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyError(`${source}: expected a shape of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  const expected = info.make(0).constructor;
  if (!(data instanceof expected)) {
    throw new NpyError(`${source}: expected ${dtype} data in a ${expected.name}, found ${data?.constructor?.name ?? typeof data}`);
  }
  const length = elementCount(shape) * info.lanes;
  if (data.length !== length) {
    throw new NpyError(`${source}: shape ${shapeText(shape)} of ${dtype} needs ${length} values, found ${data.length}`);
  }
}

/** The header (padded so the data starts at a multiple of 64) and the data bytes, little-endian C order. */
export function encodeNpyParts(array: NdArray, source = 'array'): [header: Uint8Array, data: Uint8Array] {
  validateNdArray(array, source);
  const info = DTYPES[array.dtype];
  const descr = `${info.bytes === 1 ? '|' : '<'}${info.code}`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText(array.shape)}, }`;
  // Version 1.0 has a 16-bit header length; only very high-dimensional shapes need 2.0.
  const v1 = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10 <= 0xffff;
  const prefix = v1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = new Uint8Array(total);
  header.set(MAGIC);
  header[6] = v1 ? 1 : 2;
  const view = new DataView(header.buffer);
  if (v1) view.setUint16(8, total - prefix, true);
  else view.setUint32(8, total - prefix, true);
  header.set(Buffer.from(`${dict.padEnd(total - prefix - 1, ' ')}\n`, 'latin1'), prefix);

  const data = array.dtype === 'float16' ? narrowHalf(array.data as Float32Array) : array.data;
  return [header, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

function narrowHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalfBits(values[i]);
  return out;
}

/** An NdArray as the bytes of an NPY file. */
export function encodeNpy(array: NdArray): Uint8Array {
  const [header, data] = encodeNpyParts(array);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Reads an NPY file. */
export async function readNpy(path: string): Promise<NdArray> {
  return decodeNpy(await readFile(path), path);
}

/** Writes an NPY file atomically (temporary file, fsync, rename). */
export async function writeNpy(path: string, array: NdArray): Promise<void> {
  const parts = encodeNpyParts(array, path);
  await writeAtomically(path, async (temp) => {
    const file = await open(temp, 'wx');
    try {
      for (const part of parts) await file.write(part);
      await file.sync();
    } finally {
      await file.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// A safe parser for the Python literal of the header: dicts, tuples, lists, strings, numbers,
// True/False/None. Nothing is evaluated.

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

function pyText(value: PyValue | undefined): string {
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return `(${value.map(pyText).join(', ')})`;
  if (typeof value === 'string') return `'${value}'`;
  return value === undefined ? 'nothing' : value === null ? 'None' : String(value);
}

function parsePyLiteral(text: string): PyValue {
  let pos = 0;
  const skip = () => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const fail = (what: string): never => {
    throw new NpyError(`expected ${what} at offset ${pos}`);
  };
  const value = (depth: number): PyValue => {
    if (depth > 16) fail('less nesting');
    skip();
    const ch = text[pos];
    if (ch === '{' || ch === '(' || ch === '[') return sequence(ch, depth);
    if (ch === "'" || ch === '"') return string(ch);
    const word = /^(True|False|None|[-+]?\d+(\.\d*)?([eE][-+]?\d+)?L?)/.exec(text.slice(pos, pos + 64));
    if (!word) return fail('a value');
    pos += word[0].length;
    if (word[0] === 'True' || word[0] === 'False') return word[0] === 'True';
    if (word[0] === 'None') return null;
    return Number(word[0].replace(/L$/, ''));
  };
  const string = (quote: string): string => {
    let out = '';
    for (pos++; text[pos] !== quote; pos++) {
      if (pos >= text.length) fail('a closing quote');
      if (text[pos] === '\\') pos++;
      out += text[pos];
    }
    pos++;
    return out;
  };
  const sequence = (open: string, depth: number): PyValue => {
    const close = { '{': '}', '(': ')', '[': ']' }[open]!;
    const items: PyValue[] = [];
    const dict = new Map<string, PyValue>();
    let commas = 0;
    pos++;
    for (;;) {
      skip();
      if (text[pos] === close) break;
      const item = value(depth + 1);
      if (open === '{') {
        skip();
        if (typeof item !== 'string') fail('a string key');
        if (text[pos++] !== ':') fail("':'");
        dict.set(item as string, value(depth + 1));
      } else {
        items.push(item);
      }
      skip();
      if (text[pos] === ',') {
        pos++;
        commas++;
      }
      else if (text[pos] !== close) fail(`',' or '${close}'`);
    }
    pos++;
    // '(3)' is just 3 in Python, not a tuple.
    if (open === '(' && items.length === 1 && commas === 0) return items[0];
    return open === '{' ? dict : items;
  };
  const result = value(0);
  skip();
  if (pos !== text.length) fail('the end of the header');
  return result;
}
