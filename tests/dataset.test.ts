import test from 'ava';
import { mkdtemp, open, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, loadDataset, looksLikeCounts, openDataset, saveDataset } from '../lib/dataset.js';
import { FilePatterns } from '../lib/patterns.js';
import type { NdArray } from '../lib/ndarray.js';
import { NpzFile, writeNpz } from '../lib/npz.js';
import { seeded } from './helpers/random.js';

const N = 64;
const COUNT = 5;
let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ptpinn-dataset-')); });
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

function arrays(): Record<string, NdArray> {
  const rand = seeded(4);
  return {
    diffraction: { dtype: 'float32', shape: [COUNT, N, N], data: Float32Array.from({ length: COUNT * N * N }, () => 3 * rand()) },
    probeGuess: { dtype: 'complex128', shape: [N, N], data: Float64Array.from({ length: 2 * N * N }, () => rand()) },
    objectGuess: { dtype: 'complex64', shape: [100, 110], data: Float32Array.from({ length: 2 * 100 * 110 }, () => rand()) },
    xcoords: { dtype: 'float64', shape: [COUNT], data: Float64Array.from([40, 41.5, 50, 60, 70]) },
    ycoords: { dtype: 'float32', shape: [COUNT], data: Float32Array.from([40, 45, 50.25, 55, 60]) },
  };
}

let counter = 0;
async function file(content: Record<string, NdArray>): Promise<string> {
  const path = join(dir, `d${counter++}.npz`);
  await writeNpz(path, content);
  return path;
}

test('a conforming file loads with every field converted once', async (t) => {
  const a = arrays();
  const d = await loadDataset(await file(a));
  t.deepEqual(d.diffraction.shape, [COUNT, N, N]);
  t.deepEqual(d.diffraction.data, a.diffraction.data);
  t.is(d.probe.dtype, 'complex64');
  t.deepEqual(d.probe.data, Float32Array.from(a.probeGuess.data as Float64Array));
  t.deepEqual(Array.from(d.ycoords), [40, 45, 50.25, 55, 60]);
  t.deepEqual(d.objectGuess!.shape, [100, 110]);
});

test('the legacy diff3d key and (N, N, n) layout are read, with a warning', async (t) => {
  const a = arrays();
  const src = a.diffraction.data as Float32Array;
  const legacy = new Float32Array(src.length);
  for (let k = 0; k < COUNT; k++) for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) legacy[(i * N + j) * COUNT + k] = src[(k * N + i) * N + j];
  const { diffraction: _, ...rest } = a;
  const warnings: string[] = [];
  const d = await loadDataset(await file({ ...rest, diff3d: { dtype: 'float64', shape: [N, N, COUNT], data: Float64Array.from(legacy) } }),
    { onWarning: (w) => warnings.push(w) });
  t.deepEqual(d.diffraction.data, src);
  t.regex(warnings[0], /diff3d has the legacy \(N, N, n\) layout \(64, 64, 5\); transposed/);
});

test('--intensities square-roots counts once', async (t) => {
  const a = arrays();
  const counts = Float32Array.from({ length: COUNT * N * N }, (_, i) => i % 17);
  const d = await loadDataset(await file({ ...a, diffraction: { dtype: 'uint16', shape: [COUNT, N, N], data: Uint16Array.from(counts) } }), { intensities: true });
  t.deepEqual(d.diffraction.data, counts.map(Math.sqrt));
});

test('bad_pixels: each masked pixel becomes the mean of its good neighbours, whatever it held (NaN included)', async (t) => {
  const a = arrays();
  const source = a.diffraction.data as Float32Array;
  const held = Float32Array.from(source);
  const mask = new Uint8Array(N * N);
  for (const p of [0, 10 * N + 10, 10 * N + 11]) mask[p] = 1;
  for (let k = 0; k < COUNT; k++) { held[k * N * N] = Number.NaN; held[k * N * N + 10 * N + 10] = 1e9; }
  const d = await loadDataset(await file({ ...a, diffraction: { dtype: 'float32', shape: [COUNT, N, N], data: held },
    bad_pixels: { dtype: 'bool', shape: [N, N], data: mask } }));
  const mean = (k: number, pixels: number[]) => pixels.reduce((s, p) => s + source[k * N * N + p], 0) / pixels.length;
  for (let k = 0; k < COUNT; k++) {
    const out = d.diffraction.data.subarray(k * N * N, (k + 1) * N * N);
    t.true(Math.abs(out[0] - mean(k, [1, N, N + 1])) < 1e-5);
    // (10, 10) has (10, 11) bad beside it: seven good neighbours
    t.true(Math.abs(out[10 * N + 10] - mean(k, [9 * N + 9, 9 * N + 10, 9 * N + 11, 10 * N + 9, 11 * N + 9, 11 * N + 10, 11 * N + 11])) < 1e-5);
    t.is(out[20 * N + 20], source[k * N * N + 20 * N + 20]);
  }
  await t.throwsAsync(loadDataset(await file({ ...a, bad_pixels: { dtype: 'bool', shape: [N, N + 1], data: new Uint8Array(N * (N + 1)) } })),
    { message: /bad_pixels: expected a boolean \(64, 64\) mask like the patterns, found bool \(64, 65\)/ });
});

const bad: [string, (a: Record<string, NdArray>) => Record<string, NdArray>, RegExp][] = [
  ['a missing diffraction', ({ diffraction: _, ...rest }) => rest, /no diffraction: expected a key 'diffraction' \(or the legacy 'diff3d'\); the file has probeGuess, objectGuess, xcoords, ycoords/],
  ['a missing probe', ({ probeGuess: _, ...rest }) => rest, /: probeGuess: missing/],
  ['a real probe', (a) => ({ ...a, probeGuess: { dtype: 'float32', shape: [N, N], data: new Float32Array(N * N) } }), /probeGuess: expected complex64 or complex128, found float32/],
  ['an unsupported pattern size', (a) => ({ ...a, probeGuess: { dtype: 'complex64', shape: [32, 32], data: new Float32Array(2 * 32 * 32) } }), /probeGuess: expected N in 64, 128, 256, found 32 x 32/],
  ['coordinates that disagree', (a) => ({ ...a, ycoords: { dtype: 'float64', shape: [4], data: new Float64Array(4) } }), /ycoords: expected 5 values to match xcoords, found 4/],
  ['a NaN position', (a) => ({ ...a, xcoords: { dtype: 'float64', shape: [COUNT], data: Float64Array.from([1, 2, NaN, 4, 5]) } }), /xcoords: expected finite positions, found NaN at index 2/],
  ['a pattern count that disagrees', (a) => ({ ...a, diffraction: { dtype: 'float32', shape: [4, N, N], data: new Float32Array(4 * N * N) } }), /diffraction: expected shape \(n, N, N\) = \(5, 64, 64\) to match 5 positions and the 64 x 64 probe, found \(4, 64, 64\)/],
  ['complex diffraction', (a) => ({ ...a, diffraction: { dtype: 'complex64', shape: [COUNT, N, N], data: new Float32Array(2 * COUNT * N * N) } }), /diffraction: expected real amplitudes \(float32\), found complex64/],
  ['a NaN amplitude', (a) => { const d = Float32Array.from(a.diffraction.data as Float32Array); d[2 * N * N + 3 * N + 7] = NaN; return { ...a, diffraction: { ...a.diffraction, data: d } }; }, /diffraction: expected finite, non-negative amplitudes, found NaN in pattern 2 \(pixel 3, 7\)/],
  ['a negative amplitude', (a) => { const d = Float32Array.from(a.diffraction.data as Float32Array); d[5] = -1; return { ...a, diffraction: { ...a.diffraction, data: d } }; }, /found -1 in pattern 0 \(pixel 0, 5\)/],
  ['an object with infinities', (a) => { const o = Float32Array.from(a.objectGuess.data as Float32Array); o[11] = Infinity; return { ...a, objectGuess: { ...a.objectGuess, data: o } }; }, /objectGuess: expected finite values, found Infinity at element 5/],
];
for (const [name, change, message] of bad) {
  test(`${name} is refused, naming the file and the key`, async (t) => {
    const path = await file(change(arrays()));
    const error = await t.throwsAsync(loadDataset(path), { instanceOf: DatasetError, message });
    t.true(error!.message.startsWith(path));
  });
}

test('64 patterns of 64 x 64 (a cube) read in the standard (n, N, N) layout, without a warning', async (t) => {
  const a = arrays();
  const x = Float64Array.from({ length: N }, (_, i) => 40 + i);
  // pattern k is filled with k: the standard reading keeps that, the legacy one would not
  const data = new Float32Array(N * N * N);
  for (let k = 0; k < N; k++) data.fill(k, k * N * N, (k + 1) * N * N);
  const path = await file({ ...a, xcoords: { dtype: 'float64', shape: [N], data: x }, ycoords: { dtype: 'float64', shape: [N], data: x },
    diffraction: { dtype: 'float32', shape: [N, N, N], data } });
  const warnings: string[] = [];
  const d = await loadDataset(path, { onWarning: (w) => warnings.push(w) });
  t.deepEqual(warnings, []);
  t.is(d.diffraction.data[5 * N * N + 17], 5);
  t.is(d.diffraction.data[63 * N * N], 63);
});

test('a truncated file and a file that is not an NPZ give clear errors', async (t) => {
  const path = await file(arrays());
  const bytes = await readFile(path);
  const cut = join(dir, 'cut.npz');
  await writeFile(cut, bytes.subarray(0, bytes.length / 2));
  await t.throwsAsync(loadDataset(cut), { message: /cut\.npz.*(zip|truncated)/i });
  const text = join(dir, 'notes.npz');
  await writeFile(text, 'just some text, not a zip');
  await t.throwsAsync(loadDataset(text), { message: /notes\.npz.*zip/i });
});

test('saveDataset writes what loadDataset reads back exactly', async (t) => {
  const d = await loadDataset(await file(arrays()));
  const path = join(dir, 'saved.npz');
  await saveDataset(path, d);
  const again = await loadDataset(path);
  t.deepEqual({ ...again, source: '' }, { ...d, source: '' });
});

test('openDataset reads a stored file pattern by pattern: what loadDataset holds, counts and bad pixels included', async (t) => {
  const a = arrays();
  const counts = Float64Array.from({ length: COUNT * N * N }, (_, i) => (i * 7) % 23);
  const mask = new Uint8Array(N * N);
  mask[3 * N + 4] = 1;
  counts[2 * N * N + 3 * N + 4] = Number.NaN; // a bad pixel's value is not data
  const content = { ...a, diffraction: { dtype: 'float64' as const, shape: [COUNT, N, N], data: counts }, bad_pixels: { dtype: 'bool' as const, shape: [N, N], data: mask } };
  for (const compress of [false, true]) {
    const path = join(dir, `stream-${compress}.npz`);
    await writeNpz(path, content, { compress });
    const whole = await loadDataset(path, { intensities: true });
    const streamed = await openDataset(path, { intensities: true });
    try {
      // a stored member is read by position; a compressed one has no such access and is held
      t.is(streamed.patterns instanceof FilePatterns, !compress);
      t.deepEqual([streamed.patterns.count, streamed.patterns.n], [COUNT, N]);
      t.deepEqual(streamed.xcoords, whole.xcoords);
      t.deepEqual(streamed.probe, whole.probe);
      t.deepEqual(streamed.objectGuess, whole.objectGuess);
      const rows = (indices: number[]) => Float32Array.from(indices.flatMap((k) => Array.from(whole.diffraction.data.subarray(k * N * N, (k + 1) * N * N))));
      for (const indices of [[0, 1, 2, 3, 4], [1, 4], [3]]) {
        t.deepEqual(await streamed.patterns.read(Int32Array.from(indices)), rows(indices), `patterns ${indices}`);
      }
      await t.throwsAsync(streamed.patterns.read(Int32Array.from([3, 1])), { message: /pattern indices must ascend within 0 to 4, got 1 at position 1/ });
      await t.throwsAsync(streamed.patterns.read(Int32Array.from([5])), { message: /got 5 at position 0/ });
      // reads at once (two reconstructions of one dataset) each get their own rows
      const asked = [[0, 1, 2], [3, 4], [1, 4], [0]];
      const got = await Promise.all(asked.map((indices) => streamed.patterns.read(Int32Array.from(indices))));
      for (const [k, indices] of asked.entries()) t.deepEqual(got[k], rows(indices), `patterns ${indices} read at once`);
    } finally {
      await streamed.close();
    }
  }
});

test('openDataset refuses what loadDataset refuses, then reads the patterns from the file as they are asked for', async (t) => {
  const a = arrays();
  const d = Float32Array.from(a.diffraction.data as Float32Array);
  d[3 * N * N + 2 * N + 9] = -4;
  const bad = await file({ ...a, diffraction: { ...a.diffraction, data: d } });
  for (const load of [loadDataset, openDataset]) {
    const error = await t.throwsAsync(load(bad), { instanceOf: DatasetError, message: /diffraction: expected finite, non-negative amplitudes, found -4 in pattern 3 \(pixel 2, 9\)/ });
    t.true(error!.message.startsWith(bad));
  }
  const dark = await file({ ...a, diffraction: { ...a.diffraction, data: new Float32Array(COUNT * N * N) } });
  await t.throwsAsync(openDataset(dark), { instanceOf: DatasetError, message: /diffraction: holds no light: every one of the 5 patterns is zero/ });
  const { probeGuess: _, ...noProbe } = a;
  await t.throwsAsync(openDataset(await file(noProbe)), { instanceOf: DatasetError, message: /probeGuess: missing/ });
  // a flipped byte in the stored patterns: the CRC, as reading the member whole checks it
  const flipped = await file(a);
  const bytes = await readFile(flipped);
  const at = bytes.indexOf(Buffer.from('diffraction.npy')) + 200;
  bytes[at] ^= 0x40;
  await writeFile(flipped, bytes);
  for (const load of [loadDataset, openDataset]) await t.throwsAsync(load(flipped), { message: /diffraction\.npy.*corrupt member: CRC-32/ });

  // pattern 2 rewritten in place after opening: the read sees the file, not a copy made at open
  const path = await file(a);
  const streamed = await openDataset(path);
  try {
    const npz = await NpzFile.open(path);
    const { offset } = (await npz.storedData('diffraction'))!;
    npz.close();
    const handle = await open(path, 'r+');
    await handle.write(new Uint8Array(new Float32Array(N * N).fill(7).buffer), 0, 4 * N * N, offset + 2 * 4 * N * N);
    await handle.close();
    const [two, four] = [await streamed.patterns.read(Int32Array.of(2)), await streamed.patterns.read(Int32Array.of(4))];
    t.true(two.every((v) => v === 7));
    t.deepEqual(four, (a.diffraction.data as Float32Array).subarray(4 * N * N));
  } finally {
    await streamed.close();
  }
});

test('looksLikeCounts: whole numbers above 1 on every good pixel are counts; amplitudes, or only 0 and 1, are not', async (t) => {
  const a = arrays();
  const counts = Float32Array.from({ length: COUNT * N * N }, (_, i) => (i * 13) % 40);
  const mask = new Uint8Array(N * N);
  mask[5] = 1;
  const withMask = { bad_pixels: { dtype: 'bool' as const, shape: [N, N], data: mask } };
  const cases: [string, Float32Array, boolean][] = [
    ['counts', counts, true],
    ['their square roots', counts.map(Math.sqrt), false],
    ['only 0 and 1', counts.map((v) => v % 2), false],
  ];
  for (const [name, values, expected] of cases) {
    const path = await file({ ...a, diffraction: { dtype: 'float32', shape: [COUNT, N, N], data: values }, ...withMask });
    t.is(await looksLikeCounts(path, await loadDataset(path)), expected, name);
  }
  // the bad pixels' filled values (means of neighbours) do not hide counts
  const path = await file({ ...a, diffraction: { dtype: 'float32', shape: [COUNT, N, N], data: counts }, ...withMask });
  const loaded = await loadDataset(path);
  t.false(Number.isInteger(loaded.diffraction.data[5]));
  t.true(await looksLikeCounts(path, loaded));
});
