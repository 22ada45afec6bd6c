import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import type { NdArray } from '../lib/ndarray.js';
import { encodeNpy } from '../lib/npy.js';
import { NpzError, NpzFile, readNpz, writeNpz } from '../lib/npz.js';
import { ALL_DTYPES, difference, numpyDescr, RAW_DESCR, sample, writeRawFixtures, type InteropEntry } from './helpers/npy-samples.js';
import { findPythonWithNumpy, runPython } from './helpers/python.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npz-test-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SHAPES = [[], [17], [0], [3, 0, 2], [2, 3, 4]];

/** Every dtype in every shape, keyed `<dtype>_<shape index>`. */
function allArrays(seed: number): Record<string, NdArray> {
  const arrays: Record<string, NdArray> = {};
  for (const dtype of ALL_DTYPES) for (const [s, shape] of SHAPES.entries()) arrays[`${dtype}_${s}`] = sample(dtype, shape, seed + s);
  return arrays;
}

/** A zip built directly with yazl, so members can be anything. */
async function writeZip(path: string, members: Record<string, Uint8Array>, compress = false): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, bytes] of Object.entries(members)) zip.addBuffer(Buffer.from(bytes), name, { compress });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

for (const compress of [false, true]) {
  test(`every dtype and shape round-trips exactly through writeNpz/readNpz (${compress ? 'deflated' : 'stored'})`, async (t) => {
    const path = join(dir, `all-${compress}.npz`);
    const arrays = allArrays(3);
    await writeNpz(path, arrays, { compress });
    const back = await readNpz(path);
    t.deepEqual(Object.keys(back).sort(), Object.keys(arrays).sort());
    for (const [key, array] of Object.entries(arrays)) t.is(difference(back[key], array), null, key);

    const npz = await NpzFile.open(path);
    try {
      const info = await npz.info('complex128_4');
      t.like(info, { key: 'complex128_4', member: 'complex128_4.npy', dtype: 'complex128', shape: [2, 3, 4], compressed: compress, fortranOrder: false });
      t.is(info.uncompressedSize, info.headerLength + 24 * 16);
    } finally {
      npz.close();
    }
  });
}

test('deflating makes a compressible file smaller, stored keeps the bytes as they are', async (t) => {
  const zeros = { z: { dtype: 'float64', shape: [256, 256], data: new Float64Array(256 * 256) } as NdArray };
  await writeNpz(join(dir, 'stored.npz'), zeros);
  await writeNpz(join(dir, 'deflated.npz'), zeros, { compress: true });
  t.true((await stat(join(dir, 'stored.npz'))).size > 8 * 256 * 256);
  t.true((await stat(join(dir, 'deflated.npz'))).size < 8 * 256 * 256 / 50);
});

test('NpzFile lists keys and members, accepts a key with or without .npy, and reads a chosen subset', async (t) => {
  const path = join(dir, 'keys.npz');
  const a = sample('float32', [4, 4]);
  const b = sample('int64', [3]);
  await writeNpz(path, { probeGuess: a, 'scan/index': b });
  const npz = await NpzFile.open(path);
  try {
    t.deepEqual(npz.keys, ['probeGuess', 'scan/index']);
    t.deepEqual(npz.members, ['probeGuess.npy', 'scan/index.npy']);
    t.true(npz.has('probeGuess'));
    t.true(npz.has('probeGuess.npy'));
    t.false(npz.has('objectGuess'));
    t.is(difference(await npz.read('probeGuess.npy'), a), null);
    t.is(difference(await npz.read('scan/index'), b), null);
  } finally {
    npz.close();
  }
  const some = await readNpz(path, ['scan/index']);
  t.deepEqual(Object.keys(some), ['scan/index']);
});

test('info reads only the header of a 50 MB deflated member, and read of a small key leaves it alone', async (t) => {
  const path = join(dir, 'large.npz');
  const count = 50 * 2 ** 20 / 4;
  const big = new Float32Array(count);
  for (let i = 0; i < count; i++) big[i] = i % 1021;
  const small = sample('complex64', [8, 8]);
  await writeNpz(path, { diffraction: { dtype: 'float32', shape: [count / 4096, 64, 64], data: big }, probeGuess: small }, { compress: true });

  const npz = await NpzFile.open(path);
  try {
    t.deepEqual(npz.keys, ['diffraction', 'probeGuess']);
    t.is(npz.bytesRead, 0); // opening reads the central directory only
    const started = performance.now();
    const info = await npz.info('diffraction');
    const elapsed = performance.now() - started;
    t.like(info, { dtype: 'float32', shape: [count / 4096, 64, 64], compressed: true, uncompressedSize: info.headerLength + 50 * 2 ** 20 });
    t.true(npz.bytesRead < 2 ** 20, `info inflated ${npz.bytesRead} bytes`);
    t.true(elapsed < 1000, `info took ${elapsed} ms`);

    const before = npz.bytesRead;
    t.is(difference(await npz.read('probeGuess'), small), null);
    const smallSize = (await npz.info('probeGuess')).uncompressedSize;
    t.is(npz.bytesRead - before, 2 * smallSize); // the read, then the info (whole: it is small)

    // And the large member itself decodes in full (its CRC is checked on the way).
    const all = await npz.read('diffraction');
    t.is(all.data.length, count);
    t.is(all.data[count - 1], (count - 1) % 1021);
  } finally {
    npz.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

test('a truncated zip and a file that is not a zip are reported with the path', async (t) => {
  const path = join(dir, 'whole.npz');
  await writeNpz(path, allArrays(5), { compress: true });
  const bytes = await readFile(path);
  const half = join(dir, 'half.npz');
  await writeFile(half, bytes.subarray(0, bytes.length >> 1));
  await t.throwsAsync(NpzFile.open(half), { instanceOf: NpzError, message: new RegExp(`^${half} is not a complete zip file`) });
  await t.throwsAsync(readNpz(half), { instanceOf: NpzError, message: /half\.npz is not a complete zip file \(expected an \.npz archive/ });

  const text = join(dir, 'text.npz');
  await writeFile(text, 'diffraction,probe\n1,2\n');
  await t.throwsAsync(NpzFile.open(text), { instanceOf: NpzError, message: new RegExp(`^${text} is not a complete zip file.*end of central directory`, 'i') });
  await t.throwsAsync(NpzFile.open(join(dir, 'missing.npz')), { instanceOf: NpzError, message: /missing\.npz: no such file \(expected an \.npz archive/ });
  await t.throwsAsync(NpzFile.open(dir), { instanceOf: NpzError, message: /: is a folder, not a file/ });
  await t.throwsAsync(NpzFile.open(''), { instanceOf: NpzError, message: /\(an empty path\): no such file/ });
});

test('a member that is not an array, a missing key and a closed file each get a clear error', async (t) => {
  const path = join(dir, 'notes.npz');
  await writeZip(path, { 'a.npy': encodeNpy(sample('float64', [2])), 'notes.txt': Buffer.from('measured on 2024-01-01') });
  const npz = await NpzFile.open(path);
  t.deepEqual(npz.keys, ['a']);
  t.deepEqual(npz.members, ['a.npy', 'notes.txt']);
  await t.throwsAsync(npz.read('notes.txt'), {
    instanceOf: NpzError,
    message: new RegExp(`^${path}: member 'notes\\.txt' is not an array: expected a \\.npy member \\('<key>\\.npy'`),
  });
  await t.throwsAsync(npz.info('notes.txt'), { instanceOf: NpzError, message: /'notes\.txt' is not an array/ });
  await t.throwsAsync(npz.read('probeGuess'), {
    instanceOf: NpzError,
    message: new RegExp(`^${path}: no array 'probeGuess': the file holds 'a' \\(and non-array members 'notes\\.txt'\\)`),
  });
  npz.close();
  await t.throwsAsync(npz.read('a'), { instanceOf: NpzError, message: /notes\.npz: cannot read 'a': the file is closed/ });
  // readNpz of everything reads the arrays and skips the text.
  t.deepEqual(Object.keys(await readNpz(path)), ['a']);
  await t.throwsAsync(readNpz(path, ['a', 'b']), { message: /no array 'b': the file holds 'a'/ });
});

test('a broken .npy member is reported with the npy error and the member named', async (t) => {
  const path = join(dir, 'broken.npz');
  const good = encodeNpy(sample('float32', [10]));
  const object = new Uint8Array(good);
  object.set(Buffer.from("'|O' "), Buffer.from(object).indexOf("'<f4'")); // same length, so the header stays valid
  await writeZip(path, {
    'magic.npy': Buffer.from('not numpy at all'),
    'cut.npy': good.subarray(0, good.length - 8),
    'object.npy': object,
    'good.npy': good,
  }, true);
  const npz = await NpzFile.open(path);
  try {
    const member = (name: string) => `member '${name}\\.npy' of ${path.replace(/\./g, '\\.')}`;
    await t.throwsAsync(npz.read('magic'), { instanceOf: NpzError, message: new RegExp(`^${member('magic')}: not a \\.npy file: expected the magic string`) });
    await t.throwsAsync(npz.info('magic'), { instanceOf: NpzError, message: /member 'magic\.npy'.*not a \.npy file/ });
    await t.throwsAsync(npz.read('cut'), { message: new RegExp(`^${member('cut')}: truncated \\.npy data: shape \\(10,\\) of float32 needs 40 bytes of data, found 32`) });
    await t.throwsAsync(npz.read('object'), { message: new RegExp(`^${member('object')}: unsupported dtype '\\|O' \\(object arrays\\)`) });
    t.is(difference(await npz.read('good'), sample('float32', [10])), null);
  } finally {
    npz.close();
  }
});

test('damaged member data is caught by its CRC', async (t) => {
  const path = join(dir, 'crc.npz');
  const array = sample('float64', [64]);
  await writeNpz(path, { x: array });
  const bytes = await readFile(path);
  const at = bytes.indexOf(Buffer.from(array.data.buffer, array.data.byteOffset, 8 * 8)) + 8 * 10;
  bytes[at] ^= 0xff;
  await writeFile(path, bytes);
  await t.throwsAsync(readNpz(path), { instanceOf: NpzError, message: /member 'x\.npy' of .*crc\.npz: corrupt member: CRC-32 0x[0-9a-f]{8} does not match/ });
});

// ---------------------------------------------------------------------------------------------
// Atomic writes

const tempFiles = async (folder: string) => (await readdir(folder)).filter((name) => name.includes('.tmp-'));

test('a failed writeNpz leaves the previous file intact and no temporary file', async (t) => {
  const folder = await mkdtemp(join(dir, 'atomic-'));
  const path = join(folder, 'data.npz');
  await writeNpz(path, { a: sample('int32', [5]) });
  const before = await readFile(path);

  const bad: NdArray = { dtype: 'complex64', shape: [3, 3], data: new Float32Array(17) };
  await t.throwsAsync(writeNpz(path, { fine: sample('float32', [1000]), probeGuess: bad }, { compress: true }), {
    instanceOf: NpzError,
    message: new RegExp(`array 'probeGuess' for ${path}: shape \\(3, 3\\) of complex64 needs 18 values, found 17`),
  });
  await t.throwsAsync(writeNpz(path, { '../escape': sample('int8', [1]) }), { instanceOf: NpzError, message: /invalid key "\.\.\/escape"/ });
  t.deepEqual(await readFile(path), before);
  t.deepEqual(await readdir(folder), ['data.npz']);

  // The rename fails after the whole zip is written: the target is a folder.
  const occupied = join(folder, 'occupied.npz');
  await mkdir(join(occupied, 'inside'), { recursive: true });
  await t.throwsAsync(writeNpz(occupied, { a: sample('float64', [5000]) }, { compress: true }));
  t.deepEqual(await tempFiles(folder), []);
  t.is(difference((await readNpz(path)).a, sample('int32', [5])), null);
});

// ---------------------------------------------------------------------------------------------
// NumPy interop

const python = findPythonWithNumpy();
const interop = python ? test : test.skip;
const noPython = python ? '' : ' (skipped: no Python with NumPy found in $PYTHON, /usr/bin/python3 or python3)';

function interopEntries(seed: number): { entry: InteropEntry; array: NdArray }[] {
  return ALL_DTYPES.flatMap((dtype) =>
    SHAPES.flatMap((shape, s) =>
      (['<', '>'] as const).map((endian) => {
        const order = endian === '>' ? 'F' : 'C'; // big-endian members are Fortran order too
        const entry: InteropEntry = { name: `${dtype}_${s}_${endian === '<' ? 'le' : 'be'}`, descr: numpyDescr(dtype, endian), raw: RAW_DESCR(dtype), shape, order };
        return { entry, array: sample(dtype, shape, seed + s) };
      }),
    ),
  );
}

const NUMPY_SAVEZ = `
import json, sys, numpy as np
d = sys.argv[1]
arrays = {}
for e in json.load(open(d + '/manifest.json')):
    a = np.fromfile(d + '/' + e['name'] + '.bin', dtype=e['raw']).astype(e['descr']).reshape(e['shape'])
    arrays[e['name']] = a.copy(order=e['order'])
np.savez(d + '/stored.npz', **arrays)
np.savez_compressed(d + '/deflated.npz', **arrays)
`;

interop(`np.savez and np.savez_compressed files (every dtype, big-endian, Fortran order) are read exactly${noPython}`, async (t) => {
  const folder = await mkdtemp(join(dir, 'from-numpy-'));
  const entries = interopEntries(11);
  writeRawFixtures(folder, entries);
  runPython(python!, NUMPY_SAVEZ, [folder]);
  for (const name of ['stored', 'deflated']) {
    const path = join(folder, `${name}.npz`);
    const npz = await NpzFile.open(path);
    try {
      t.deepEqual(npz.keys.sort(), entries.map((e) => e.entry.name).sort());
      for (const { entry, array } of entries) {
        const info = await npz.info(entry.name);
        t.is(info.compressed, name === 'deflated');
        t.is(info.descr, entry.descr, entry.name);
        t.is(difference(await npz.read(entry.name), array), null, `${name} ${entry.name}`);
      }
    } finally {
      npz.close();
    }
  }
  // A Fortran-order member really is stored as such.
  const npz = await NpzFile.open(join(folder, 'stored.npz'));
  t.true((await npz.info('float64_4_be')).fortranOrder);
  npz.close();
});

const NUMPY_LOADZ = `
import json, sys, zipfile, numpy as np
d = sys.argv[1]
bad = []
for name, method in (('stored', zipfile.ZIP_STORED), ('deflated', zipfile.ZIP_DEFLATED)):
    with zipfile.ZipFile(d + '/' + name + '.npz') as z:
        assert z.testzip() is None
        assert all(i.compress_type == method for i in z.infolist()), name
    with np.load(d + '/' + name + '.npz') as z:
        for e in json.load(open(d + '/manifest.json')):
            expected = np.fromfile(d + '/' + e['name'] + '.bin', dtype=e['raw']).astype(e['descr']).reshape(e['shape'])
            a = z[e['name']]
            if a.dtype != np.dtype(e['descr']) or a.shape != tuple(e['shape']) or a.tobytes() != expected.tobytes():
                bad.append([name, e['name'], str(a.dtype), a.shape])
print(json.dumps(bad))
`;

interop(`files written by writeNpz, stored and deflated, are loaded by np.load exactly${noPython}`, async (t) => {
  const folder = await mkdtemp(join(dir, 'to-numpy-'));
  const entries = interopEntries(21).filter((e) => e.entry.descr[0] !== '>'); // we write little-endian only
  writeRawFixtures(folder, entries);
  const arrays = Object.fromEntries(entries.map((e) => [e.entry.name, e.array]));
  await writeNpz(join(folder, 'stored.npz'), arrays);
  await writeNpz(join(folder, 'deflated.npz'), arrays, { compress: true });
  t.deepEqual(JSON.parse(runPython(python!, NUMPY_LOADZ, [folder])), []);
});
