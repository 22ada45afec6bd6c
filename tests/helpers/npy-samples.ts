// Sample arrays of every dtype, led by the edge values a codec is most likely to get wrong, and
// an exact comparison that tells NaN from NaN-free data and -0 from 0.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { elementCount, isComplex, type DType, type NdArray } from '../../lib/ndarray.js';
import { seeded } from './random.js';

export const ALL_DTYPES: DType[] = [
  'bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
  'float16', 'float32', 'float64', 'complex64', 'complex128',
];

const F32_MAX = 3.4028234663852886e38;
const f32Edges = [NaN, Infinity, -Infinity, -0, 0, F32_MAX, -F32_MAX, 1.401298464324817e-45, 1.1754942106924411e-38, Math.fround(0.1)];
const f64Edges = [NaN, Infinity, -Infinity, -0, 0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2.2250738585072014e-308, 0.1, Math.PI];

const EDGES: Record<DType, (number | bigint)[]> = {
  bool: [0, 1, 1, 0],
  int8: [-128, 127, 0, -1],
  uint8: [0, 255, 1],
  int16: [-32768, 32767, 0, -1],
  uint16: [0, 65535, 1],
  int32: [-(2 ** 31), 2 ** 31 - 1, 0, -1],
  uint32: [0, 2 ** 32 - 1, 1],
  int64: [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, -(2n ** 53n) - 1n],
  uint64: [0n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n],
  // max, smallest subnormal, largest subnormal, smallest normal, 1/3 rounded to float16
  float16: [NaN, Infinity, -Infinity, -0, 0, 65504, -65504, 2 ** -24, -(2 ** -24), 2 ** -14 - 2 ** -24, 2 ** -14, 0.333251953125],
  float32: f32Edges,
  float64: f64Edges,
  complex64: f32Edges,
  complex128: f64Edges,
};

const CTORS = {
  bool: Uint8Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  float16: Float32Array, float32: Float32Array, float64: Float64Array, complex64: Float32Array, complex128: Float64Array,
} as const;

/** An array of `dtype` and `shape`: the edge values first, then seeded random values of the type. */
export function sample(dtype: DType, shape: number[], seed = 1): NdArray {
  const rand = seeded(seed);
  const length = elementCount(shape) * (isComplex(dtype) ? 2 : 1);
  const edges = EDGES[dtype];
  const values: (number | bigint)[] = [];
  for (let i = 0; i < length; i++) {
    if (i < edges.length) values.push(edges[i]);
    else if (dtype === 'bool') values.push(rand() < 0.5 ? 0 : 1);
    else if (dtype === 'int64' || dtype === 'uint64') {
      const big = (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
      values.push(dtype === 'int64' ? BigInt.asIntN(64, big) : big);
    } else if (dtype === 'float16') values.push((Math.floor(rand() * 2048) - 1024) / 16); // exact in float16
    else if (dtype.startsWith('float') || dtype.startsWith('complex')) values.push((rand() - 0.5) * 1e3);
    else {
      const bits = Number(dtype.replace(/\D/g, ''));
      const unsigned = dtype.startsWith('u');
      values.push(Math.floor(rand() * 2 ** bits) - (unsigned ? 0 : 2 ** (bits - 1)));
    }
  }
  const Ctor = CTORS[dtype] as unknown as { from(values: unknown[]): NdArray['data'] };
  return { dtype, shape, data: Ctor.from(values) } as NdArray;
}

/** null when `actual` equals `expected` exactly (Object.is per value), else where they differ. */
export function difference(actual: NdArray, expected: NdArray): string | null {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.join() !== expected.shape.join() || actual.shape.length !== expected.shape.length) {
    return `shape [${actual.shape}], expected [${expected.shape}]`;
  }
  if (actual.data.constructor !== expected.data.constructor) {
    return `data in a ${actual.data.constructor.name}, expected ${expected.data.constructor.name}`;
  }
  if (actual.data.length !== expected.data.length) return `${actual.data.length} values, expected ${expected.data.length}`;
  for (let i = 0; i < actual.data.length; i++) {
    if (!Object.is(actual.data[i], expected.data[i])) return `value ${i} is ${actual.data[i]}, expected ${expected.data[i]}`;
  }
  return null;
}

/** NumPy's name of a dtype with a byte order, e.g. ('float64', '>') -> '>f8'. */
export function numpyDescr(dtype: DType, order: '<' | '>' = '<'): string {
  const code = { bool: 'b1', int8: 'i1', uint8: 'u1', int16: 'i2', uint16: 'u2', int32: 'i4', uint32: 'u4', int64: 'i8',
    uint64: 'u8', float16: 'f2', float32: 'f4', float64: 'f8', complex64: 'c8', complex128: 'c16' }[dtype];
  return `${code.endsWith('1') ? '|' : order}${code}`;
}

export interface InteropEntry {
  name: string;
  descr: string; // the dtype NumPy must save or find
  raw: string; // the dtype of the .bin file holding the expected values (float16 is held as float32)
  shape: number[];
  order: 'C' | 'F';
}

/**
 * Writes each array's values as raw little-endian bytes (`<name>.bin`, straight from the typed
 * array, sharing no code with the writer) and a manifest.json for the Python side.
 */
export function writeRawFixtures(dir: string, entries: { entry: InteropEntry; array: NdArray }[]): void {
  for (const { entry, array } of entries) {
    const { buffer, byteOffset, byteLength } = array.data;
    writeFileSync(join(dir, `${entry.name}.bin`), new Uint8Array(buffer, byteOffset, byteLength));
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(entries.map((e) => e.entry)));
}

export const RAW_DESCR = (dtype: DType) => (dtype === 'float16' ? '<f4' : numpyDescr(dtype));
