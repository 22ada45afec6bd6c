import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NdArray } from '../lib/ndarray.js';
import { decodeNpy, encodeNpy, NpyError, parseNpyHeader, readNpy, writeNpy } from '../lib/npy.js';
import { ALL_DTYPES, difference, numpyDescr, RAW_DESCR, sample, writeRawFixtures, type InteropEntry } from './helpers/npy-samples.js';
import { findPythonWithNumpy, runPython } from './helpers/python.js';
import { seeded } from './helpers/random.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npy-test-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SHAPES = [[], [17], [0], [3, 0, 2], [2, 3, 4]];

/** A .npy file built by hand from a header dict text and data bytes, independent of the writer. */
function npyBytes(dict: string, data: Uint8Array, version: 1 | 2 | 3 = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const text = Buffer.from(`${dict}\n`, version === 3 ? 'utf8' : 'latin1');
  const out = new Uint8Array(prefix + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, prefix);
  out.set(data, prefix + text.length);
  return out;
}

function bytesOf(size: number, fill: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

test('every dtype round-trips exactly through encodeNpy/decodeNpy, in 0-d, 1-d, empty and 3-d shapes', (t) => {
  for (const dtype of ALL_DTYPES) {
    for (const shape of SHAPES) {
      const array = sample(dtype, shape);
      const back = decodeNpy(encodeNpy(array));
      t.is(difference(back, array), null, `${dtype} ${JSON.stringify(shape)}`);
    }
  }
});

test('encodeNpy writes a version 1.0 little-endian C-order header with the data at a multiple of 64', (t) => {
  for (const dtype of ALL_DTYPES) {
    const bytes = encodeNpy(sample(dtype, [2, 3]));
    t.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = 10 + new DataView(bytes.buffer).getUint16(8, true);
    t.is(headerLength % 64, 0);
    const text = Buffer.from(bytes.subarray(10, headerLength)).toString('latin1');
    t.regex(text, /\n$/);
    t.is(text.trimEnd(), `{'descr': '${numpyDescr(dtype)}', 'fortran_order': False, 'shape': (2, 3), }`);
    const header = parseNpyHeader(bytes);
    t.like(header, { dtype, shape: [2, 3], fortranOrder: false, littleEndian: true, headerLength });
  }
  t.is(Buffer.from(encodeNpy(sample('float64', []))).toString('latin1', 10, 70).trimEnd(), "{'descr': '<f8', 'fortran_order': False, 'shape': (), }");
  t.regex(Buffer.from(encodeNpy(sample('int8', [5]))).toString('latin1'), /'shape': \(5,\), }/);
});

test('float16 is written as <f2 bits, rounding to nearest even like NumPy', (t) => {
  const values = [1, -0, 65504, 2 ** -24, 2 ** -14 - 2 ** -24, -2, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -25, 3 * 2 ** -25, Infinity, NaN, 1e-10];
  const bits = [0x3c00, 0x8000, 0x7bff, 0x0001, 0x03ff, 0xc000, 0x3c00, 0x3c02, 0x7c00, 0x0000, 0x0002, 0x7c00, 0x7e00, 0x0000];
  const bytes = encodeNpy({ dtype: 'float16', shape: [values.length], data: Float32Array.from(values) });
  const offset = parseNpyHeader(bytes).headerLength;
  const view = new DataView(bytes.buffer, offset);
  t.deepEqual(values.map((_, i) => view.getUint16(2 * i, true)), bits);
});

test('hand-built big-endian files decode to the right values', (t) => {
  const f8 = decodeNpy(npyBytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", bytesOf(48, (v) => [1.5, -2, NaN, -Infinity, -0, 1e-300].forEach((x, i) => { v.setFloat64(8 * i, x, false); }))));
  t.is(difference(f8, { dtype: 'float64', shape: [2, 3], data: Float64Array.from([1.5, -2, NaN, -Infinity, -0, 1e-300]) }), null);

  const i8 = decodeNpy(npyBytes("{'descr': '>i8', 'fortran_order': False, 'shape': (3,), }", bytesOf(24, (v) => [-(2n ** 63n), 2n ** 63n - 1n, -2n].forEach((x, i) => { v.setBigInt64(8 * i, x, false); }))));
  t.is(difference(i8, { dtype: 'int64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, -2n]) }), null);

  const u8 = decodeNpy(npyBytes("{'descr': '>u8', 'fortran_order': False, 'shape': (1,), }", bytesOf(8, (v) => v.setBigUint64(0, 2n ** 64n - 1n, false))));
  t.is(difference(u8, { dtype: 'uint64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) }), null);

  const u2 = decodeNpy(npyBytes("{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", bytesOf(4, (v) => { v.setUint16(0, 0x1234, false); v.setUint16(2, 65535, false); })));
  t.is(difference(u2, { dtype: 'uint16', shape: [2], data: Uint16Array.from([0x1234, 65535]) }), null);

  const i4 = decodeNpy(npyBytes("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", bytesOf(8, (v) => { v.setInt32(0, -(2 ** 31), false); v.setInt32(4, 123456789, false); })));
  t.is(difference(i4, { dtype: 'int32', shape: [2], data: Int32Array.from([-(2 ** 31), 123456789]) }), null);

  // Each half of a complex value is swapped on its own.
  const c8 = decodeNpy(npyBytes("{'descr': '>c8', 'fortran_order': False, 'shape': (2,), }", bytesOf(16, (v) => [1.25, -3, 0.5, 7].forEach((x, i) => { v.setFloat32(4 * i, x, false); }))));
  t.is(difference(c8, { dtype: 'complex64', shape: [2], data: Float32Array.from([1.25, -3, 0.5, 7]) }), null);

  const c16 = decodeNpy(npyBytes("{'descr': '>c16', 'fortran_order': False, 'shape': (1,), }", bytesOf(16, (v) => { v.setFloat64(0, Math.PI, false); v.setFloat64(8, -Math.E, false); })));
  t.is(difference(c16, { dtype: 'complex128', shape: [1], data: Float64Array.from([Math.PI, -Math.E]) }), null);

  const halfBits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00];
  const f2 = decodeNpy(npyBytes("{'descr': '>f2', 'fortran_order': False, 'shape': (7,), }", bytesOf(14, (v) => halfBits.forEach((h, i) => { v.setUint16(2 * i, h, false); }))));
  t.is(difference(f2, { dtype: 'float16', shape: [7], data: Float32Array.from([1, -2, 65504, 2 ** -24, -0, Infinity, NaN]) }), null);
});

test('hand-built Fortran-order files are transposed into C order', (t) => {
  // a[i, j, k] = 100 i + 10 j + k, stored with i fastest.
  const shape = [2, 3, 4];
  const fortran = bytesOf(96, (v) => {
    let at = 0;
    for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) v.setInt32(4 * at++, 100 * i + 10 * j + k, true);
  });
  const a = decodeNpy(npyBytes("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", fortran));
  const expected = Int32Array.from({ length: 24 }, (_, c) => 100 * Math.floor(c / 12) + 10 * (Math.floor(c / 4) % 3) + (c % 4));
  t.is(difference(a, { dtype: 'int32', shape, data: expected }), null);

  // Big-endian complex in Fortran order: [[1+2j, 3+4j], [5+6j, 7+8j]] stored column by column.
  const c = decodeNpy(npyBytes("{'descr': '>c16', 'fortran_order': True, 'shape': (2, 2), }", bytesOf(64, (v) => [1, 2, 5, 6, 3, 4, 7, 8].forEach((x, i) => { v.setFloat64(8 * i, x, false); }))));
  t.is(difference(c, { dtype: 'complex128', shape: [2, 2], data: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }), null);

  const f2 = decodeNpy(npyBytes("{'descr': '<f2', 'fortran_order': True, 'shape': (2, 3), }", bytesOf(12, (v) => [0x3c00, 0x4400, 0x4000, 0x4500, 0x4200, 0x4600].forEach((h, i) => { v.setUint16(2 * i, h, true); }))));
  t.is(difference(f2, { dtype: 'float16', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }), null);

  const b = decodeNpy(npyBytes("{'descr': '|b1', 'fortran_order': True, 'shape': (2, 2), }", Uint8Array.from([1, 0, 0, 1])));
  t.is(difference(b, { dtype: 'bool', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) }), null);
  const b2 = decodeNpy(npyBytes("{'descr': '|b1', 'fortran_order': True, 'shape': (2, 2), }", Uint8Array.from([1, 1, 0, 0])));
  t.deepEqual([...b2.data], [1, 0, 1, 0]);
});

test('version 2.0 and 3.0 headers, = and | byte orders and older header spellings are read', (t) => {
  const data = bytesOf(16, (v) => { v.setFloat64(0, 1.5, true); v.setFloat64(8, -2.5, true); });
  const expected = { dtype: 'float64' as const, shape: [2], data: Float64Array.from([1.5, -2.5]) };
  t.is(difference(decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, 2)), expected), null);
  t.is(difference(decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'note': 'é'}", data, 3)), expected), null);
  t.is(difference(decodeNpy(npyBytes('{"descr": "=f8", "shape": (2L,), "fortran_order": False}', data)), expected), null);
  t.is(difference(decodeNpy(npyBytes("{'descr':'|f8','fortran_order':False,'shape':(2,)}", data)), expected), null);
  t.like(parseNpyHeader(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", Uint8Array.of(7))), { dtype: 'uint8', shape: [] });
});

test('decoding aligned little-endian data shares the input buffer; byte-swapped data does not', (t) => {
  const bytes = encodeNpy(sample('float64', [4]));
  const a = decodeNpy(bytes);
  t.is(a.data.buffer, bytes.buffer);
  const big = npyBytes("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8));
  t.not(decodeNpy(big).data.buffer, big.buffer);
});

test('bad input gives an NpyError naming the source, what was expected and what was found', (t) => {
  const good = (dict: string, data = new Uint8Array(48)) => npyBytes(dict, data);
  const cases: [Uint8Array, RegExp][] = [
    [Buffer.from('PK\x03\x04 this is a zip'), /^data\.npy: not a \.npy file: expected the magic string "\\x93NUMPY".*found "PK\\x03\\x04 thi"/],
    [new Uint8Array(0), /not a \.npy file.*found an empty file/],
    [good("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }").subarray(0, 80), /data\.npy: truncated \.npy data: shape \(2, 3\) of float64 needs 48 bytes of data, found \d+/],
    [good("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }"), /corrupt \.npy header: expected 'shape' to be a tuple of non-negative integers, found \(2, -3\)/],
    [good("{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }"), /non-negative integers, found \(2\.5\)/],
    [good("{'descr': '<f8', 'fortran_order': False, 'shape': (6), }"), /tuple of non-negative integers, found 6/],
    [good("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), /unsupported dtype '\|O' \(object arrays\): expected bool, int8/],
    [good("{'descr': '<U10', 'fortran_order': False, 'shape': (2,), }"), /unsupported dtype '<U10' \(unicode string arrays\)/],
    [good("{'descr': [('x', '<f8'), ('y', '<i4')], 'fortran_order': False, 'shape': (2,), }"), /unsupported dtype a structured dtype/],
    [good("{'descr': '<f8', 'shape': (2,), }"), /expected a dict with keys 'descr', 'fortran_order' and 'shape'/],
    [good("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }; __import__('os')"), /corrupt \.npy header: expected the end of the header/],
    [good("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }"), /expected 'fortran_order' True or False, found 0/],
  ];
  // A header length field far past the end of the file.
  const huge = npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16), 2);
  new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
  cases.push([huge, /corrupt \.npy header: header length 4294967280 runs past the end of the data/]);
  const version = good("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
  version[6] = 9;
  cases.push([version, /unsupported \.npy format version 9\.0: expected 1\.0, 2\.0 or 3\.0/]);

  for (const [bytes, message] of cases) {
    const error = t.throws(() => decodeNpy(bytes, 'data.npy'), { instanceOf: NpyError, message });
    t.regex(error?.message ?? '', /^data\.npy: /);
  }
});

test('readNpy names the file in its errors', async (t) => {
  const path = join(dir, 'not-npy.npy');
  await writeFile(path, 'hello, world');
  await t.throwsAsync(readNpy(path), { instanceOf: NpyError, message: new RegExp(`^${path}: not a \\.npy file`) });
  const cut = join(dir, 'cut.npy');
  const whole = encodeNpy(sample('complex64', [10]));
  await writeFile(cut, whole.subarray(0, parseNpyHeader(whole).headerLength + 36));
  await t.throwsAsync(readNpy(cut), { message: new RegExp(`^${cut}: truncated \\.npy data: shape \\(10,\\) of complex64 needs 80 bytes of data, found 36`) });
});

test('writeNpy and readNpy round-trip every dtype through a file', async (t) => {
  for (const dtype of ALL_DTYPES) {
    const path = join(dir, `rt-${dtype}.npy`);
    const array = sample(dtype, [3, 5]);
    await writeNpy(path, array);
    t.is(difference(await readNpy(path), array), null, dtype);
  }
});

const tempFiles = async (folder: string) => (await readdir(folder)).filter((name) => name.includes('.tmp-'));

test('a failed writeNpy leaves the previous file intact and no temporary file', async (t) => {
  const folder = await mkdtemp(join(dir, 'atomic-'));
  const path = join(folder, 'a.npy');
  await writeNpy(path, sample('float32', [4]));
  const before = await readFile(path);

  const wrongLength: NdArray = { dtype: 'float32', shape: [4, 4], data: new Float32Array(15) };
  await t.throwsAsync(writeNpy(path, wrongLength), { instanceOf: NpyError, message: new RegExp(`${path}: shape \\(4, 4\\) of float32 needs 16 values, found 15`) });
  const wrongClass = { dtype: 'complex64', shape: [2], data: new Float64Array(4) } as unknown as NdArray;
  await t.throwsAsync(writeNpy(path, wrongClass), { message: /expected complex64 data in a Float32Array, found Float64Array/ });
  await t.throwsAsync(writeNpy(path, { dtype: 'float32', shape: [-1], data: new Float32Array(0) }), { message: /non-negative integers, found \[-1\]/ });
  t.deepEqual(await readFile(path), before);

  // The rename fails after every byte is written: the target is a folder.
  const occupied = join(folder, 'occupied.npy');
  await mkdir(join(occupied, 'inside'), { recursive: true });
  await t.throwsAsync(writeNpy(occupied, sample('float64', [1000])));
  t.deepEqual(await tempFiles(folder), []);
  t.deepEqual(await readdir(folder), ['a.npy', 'occupied.npy']);
});

// ---------------------------------------------------------------------------------------------
// NumPy interop

const python = findPythonWithNumpy();
const interop = python ? test : test.skip;
const noPython = python ? '' : ' (skipped: no Python with NumPy found in $PYTHON, /usr/bin/python3 or python3)';

const NUMPY_SAVES = `
import json, sys, numpy as np
d = sys.argv[1]
for e in json.load(open(d + '/manifest.json')):
    a = np.fromfile(d + '/' + e['name'] + '.bin', dtype=e['raw']).astype(e['descr']).reshape(e['shape'])
    if e['order'] == 'F':
        a = a.copy(order='F')
    np.save(d + '/' + e['name'] + '.npy', a)
`;

interop(`files written by NumPy (every dtype, both byte orders, C and Fortran order) are read exactly${noPython}`, async (t) => {
  const folder = await mkdtemp(join(dir, 'from-numpy-'));
  const entries = ALL_DTYPES.flatMap((dtype) =>
    (['<', '>'] as const).flatMap((endian) =>
      SHAPES.concat([[3, 5]]).flatMap((shape, s) =>
        (['C', 'F'] as const).map((order) => {
          const entry: InteropEntry = { name: `${dtype}-${endian === '<' ? 'le' : 'be'}-${s}-${order}`, descr: numpyDescr(dtype, endian), raw: RAW_DESCR(dtype), shape, order };
          return { entry, array: sample(dtype, shape, s + 1) };
        }),
      ),
    ),
  );
  writeRawFixtures(folder, entries);
  runPython(python!, NUMPY_SAVES, [folder]);
  for (const { entry, array } of entries) {
    const path = join(folder, `${entry.name}.npy`);
    const header = parseNpyHeader(await readFile(path));
    t.is(header.littleEndian, entry.descr[0] !== '>', entry.name);
    t.is(header.fortranOrder, entry.order === 'F' && entry.shape.length > 1 && entry.shape.every((d) => d > 1), entry.name);
    t.is(difference(await readNpy(path), array), null, entry.name);
  }
});

const NUMPY_LOADS = `
import json, sys, numpy as np
np.seterr(over='ignore')  # float16 overflow to infinity is what the test checks
d = sys.argv[1]
bad = []
for e in json.load(open(d + '/manifest.json')):
    expected = np.fromfile(d + '/' + e['name'] + '.bin', dtype=e['raw']).astype(e['descr']).reshape(e['shape'])
    a = np.load(d + '/' + e['name'] + '.npy')
    if a.dtype != np.dtype(e['descr']) or a.shape != tuple(e['shape']) or a.tobytes() != expected.tobytes():
        bad.append([e['name'], str(a.dtype), a.shape, repr(a.ravel()[:4])])
print(json.dumps(bad))
`;

interop(`files written by writeNpy are loaded by NumPy with the same dtype, shape and bytes (float16 rounded as NumPy rounds)${noPython}`, async (t) => {
  const folder = await mkdtemp(join(dir, 'to-numpy-'));
  const entries = ALL_DTYPES.flatMap((dtype) =>
    SHAPES.map((shape, s) => {
      const entry: InteropEntry = { name: `${dtype}-${s}`, descr: numpyDescr(dtype), raw: RAW_DESCR(dtype), shape, order: 'C' };
      return { entry, array: sample(dtype, shape, s + 7) };
    }),
  );
  // float32 values in and around the float16 range (subnormal to overflow), a third of them
  // exactly halfway between two normal float16 values, then halfway between subnormals.
  const rand = seeded(5);
  const bits = Uint32Array.from({ length: 20000 }, () => {
    const mantissa = Math.floor(rand() * 2 ** 23);
    const tie = rand() < 1 / 3 ? (mantissa & ~0x1fff) | 0x1000 : mantissa;
    return ((rand() < 0.5 ? 0x80000000 : 0) | ((100 + Math.floor(rand() * 46)) << 23) | tie) >>> 0;
  });
  const values = new Float32Array(bits.buffer);
  const subnormalTies = Float32Array.from({ length: 2048 }, (_, j) => (j % 2 ? -1 : 1) * (2 * j + 1) * 2 ** -25);
  const rounding: NdArray = { dtype: 'float16', shape: [values.length + subnormalTies.length], data: Float32Array.from([...values, ...subnormalTies]) };
  entries.push({ entry: { name: 'float16-rounding', descr: '<f2', raw: '<f4', shape: rounding.shape, order: 'C' }, array: rounding });
  writeRawFixtures(folder, entries);
  for (const { entry, array } of entries) await writeNpy(join(folder, `${entry.name}.npy`), array);
  const bad = JSON.parse(runPython(python!, NUMPY_LOADS, [folder]));
  t.deepEqual(bad, []);
});

test('a Buffer whose data starts at an unaligned offset decodes (a copy, not a misaligned view)', (t) => {
  const array = { dtype: 'float32' as const, shape: [3], data: Float32Array.of(1.5, -2, 3) };
  const bytes = encodeNpy(array);
  // the .npy bytes one byte into a Buffer: its data section is no longer 4-byte aligned
  const shifted = Buffer.alloc(bytes.length + 1);
  shifted.set(bytes, 1);
  const decoded = decodeNpy(shifted.subarray(1));
  t.deepEqual([...(decoded.data as Float32Array)], [1.5, -2, 3]);
});
