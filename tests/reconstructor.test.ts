// The ptychodus-shaped reconstructor: ptychodus' input (counts, bad pixels, positions in metres,
// an object grid) converted as ptychodus' ObjectGeometry maps it, export, train on a folder of
// train_data.npz / test_data.npz, save, open, reconstruct onto the input's grid with progress and
// cancellation; and the iterative baseline through the same object.
import test from 'ava';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Dataset, loadDataset, saveDataset } from '../lib/dataset.js';
import { AbortedError } from '../lib/errors.js';
import { readNpz } from '../lib/npz.js';
import { type ReconstructInput, datasetFromInput } from '../lib/ptychodus.js';
import { Reconstructor, readTrainingData } from '../lib/reconstructor.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');
let dir = '';
let data: Dataset;
test.before(async (t) => {
  t.timeout(300_000);
  dir = await mkdtemp(join(tmpdir(), 'ptpinn-reconstructor-'));
  data = await loadDataset(FIXTURE);
});
test.after.always(async () => { await rm(dir, { recursive: true, force: true }); });

const N = 64;
const PIXEL = 10e-9;
const CENTER = { x: 1.5e-6, y: -2.25e-6 };
const BAD = [5 * N + 7, 32 * N + 32, 0];

/** The fixture as ptychodus would hand it over: counts, three hot pixels, positions in metres. */
function ptychodusInput(from: Dataset, count = from.diffraction.shape[0]): ReconstructInput {
  const [oh, ow] = from.objectGuess!.shape;
  const counts = Float64Array.from(from.diffraction.data.subarray(0, count * N * N), (a) => a * a);
  for (let k = 0; k < count; k++) for (const p of BAD) counts[k * N * N + p] = 1e9;
  const bad = new Uint8Array(N * N);
  for (const p of BAD) bad[p] = 1;
  return {
    diffractionPatterns: { dtype: 'float64', shape: [count, N, N], data: counts },
    badPixels: { dtype: 'bool', shape: [N, N], data: bad },
    probe: { dtype: 'complex64', shape: [1, 1, N, N], data: from.probe.data },
    // a flat starting object, as ptychodus initialises one
    object: { dtype: 'complex64', shape: [1, oh, ow], data: new Float32Array(2 * oh * ow).map((_, i) => (i % 2 === 0 ? 1 : 0)) },
    objectGeometry: { pixelWidthM: PIXEL, pixelHeightM: PIXEL, centerXM: CENTER.x, centerYM: CENTER.y },
    positionsXM: Float64Array.from(from.xcoords.subarray(0, count), (x) => (x - ow / 2) * PIXEL + CENTER.x),
    positionsYM: Float64Array.from(from.ycoords.subarray(0, count), (y) => (y - oh / 2) * PIXEL + CENTER.y),
  };
}

test('positions map as ptychodus\' ObjectGeometry.map_coordinates_probe_to_object does (its 2025 source, by hand)', (t) => {
  // a 100 x 80 object (rows x columns) of 10 nm pixels centred at (1 um, -2 um): x_px = (x_m - cx) / dx + 80 / 2
  const input = ptychodusInput(data, 2);
  const d = datasetFromInput({
    ...input,
    object: { dtype: 'complex64', shape: [100, 80], data: new Float32Array(2 * 100 * 80) },
    objectGeometry: { pixelWidthM: 10e-9, pixelHeightM: 10e-9, centerXM: 1e-6, centerYM: -2e-6 },
    positionsXM: [0.9e-6, 1e-6], positionsYM: [-2e-6, -1.75e-6],
  });
  t.deepEqual([...d.xcoords].map((v) => +v.toFixed(9)), [30, 40]);
  t.deepEqual([...d.ycoords].map((v) => +v.toFixed(9)), [50, 75]);
});

test('ptychodus input becomes a dataset: amplitudes, bad pixels from their neighbours, positions in object pixels', (t) => {
  const input = ptychodusInput(data, 20);
  const d = datasetFromInput(input);
  t.deepEqual(d.diffraction.shape, [20, N, N]);
  for (let k = 0; k < 20; k++) {
    t.true(Math.abs(d.xcoords[k] - data.xcoords[k]) < 1e-6 && Math.abs(d.ycoords[k] - data.ycoords[k]) < 1e-6);
  }
  // a good pixel is the square root of its counts; a bad one the mean of its good neighbours
  const pattern = d.diffraction.data.subarray(3 * N * N, 4 * N * N);
  const truth = data.diffraction.data.subarray(3 * N * N, 4 * N * N);
  t.true(Math.abs(pattern[10 * N + 10] - truth[10 * N + 10]) < 1e-4 * Math.max(1, truth[10 * N + 10]));
  const neighbours = [-N - 1, -N, -N + 1, -1, 1, N - 1, N, N + 1].map((o) => truth[32 * N + 32 + o]);
  t.true(Math.abs(pattern[32 * N + 32] - neighbours.reduce((a, b) => a + b) / 8) < 1e-3);
  const corner = [1, N, N + 1].map((o) => truth[o]); // pixel 0: three neighbours inside the pattern
  t.true(Math.abs(pattern[0] - corner.reduce((a, b) => a + b) / 3) < 1e-3);
  t.true(pattern.every((v) => v < 1e4)); // no hot pixel left
  t.deepEqual(d.probe.data, data.probe.data);
  t.is(d.objectKind, 'initial guess');
  t.throws(() => datasetFromInput({ ...input, diffractionPatterns: { dtype: 'float32', shape: [1, 60, 60], data: new Float32Array(3600) } }),
    { message: /ptychodus input: diffractionPatterns: patterns must be square, 64, 128 or 256 pixels; these are 60 x 60/ });
  t.throws(() => datasetFromInput({ ...input, objectGeometry: { ...input.objectGeometry, pixelWidthM: 0 } }),
    { message: /objectGeometry\.pixelWidthM: expected a positive size in metres/ });
});

test.serial('export, train on a folder, save, open, reconstruct onto the input grid with progress, cancel', async (t) => {
  t.timeout(600_000);
  const r = new Reconstructor({ model: { gridsize: 1 }, training: { nGroups: 64, maxEpochs: 2, batchSize: 16 }, threads: 2, trainingDataPath: join(dir, 'data') });
  t.is(r.getName(), 'PtychoPINN');
  t.regex(r.getModelFileFilter(), /\(\*\.ptpinn\)$/);
  t.regex(r.getTrainingDataFileFilter(), /\(\*\.npz\)$/);
  await mkdir(r.getTrainingDataPath(), { recursive: true });
  await t.throwsAsync(r.train(), { message: /no training data: .*train_data\.npz does not exist/ });
  const input = ptychodusInput(data);
  await r.exportTrainingData(join(r.getTrainingDataPath(), 'train_data.npz'), input);
  await r.exportTrainingData(join(r.getTrainingDataPath(), 'test_data.npz'), ptychodusInput(data, 64));
  // ptychodus' starting object is exported, but never as ground truth
  const exported = await readNpz(join(r.getTrainingDataPath(), 'train_data.npz'));
  t.false('objectGuess_is_ground_truth' in exported);
  t.true('objectGuess' in exported);

  const trained = await r.train();
  t.deepEqual(trained.trainingLoss.map((l) => l.epoch), [1, 2]);
  t.deepEqual(trained.validationLoss.map((l) => l.epoch), [1, 2]);
  t.true(trained.trainingLoss.every((l) => Number.isFinite(l.value)));
  const path = join(dir, 'model.ptpinn');
  await r.saveModel(path);

  const other = new Reconstructor({ threads: 2 });
  await t.throwsAsync(other.reconstruct(input), { message: /no model: train or open one first/ });
  await other.openModel(path);
  const progress: number[] = [];
  const out = await other.reconstruct(input, { onProgress: (p) => progress.push(p.done), precision: 'fp32' });
  t.is(other.getProgressGoal(), 512);
  t.is(progress.at(-1), 512);
  t.is(out.progress, 512);
  t.deepEqual(out.objectGeometry, input.objectGeometry);
  t.deepEqual(out.object.shape, input.object.shape.slice(1));
  t.deepEqual(out.losses.map((l) => l.epoch), [1, 2]);
  // on the input's grid: object pixel (r, c) is the stitched object's (r - origin row, c - origin column)
  const stitched = await other.reconstructDataset(datasetFromInput(input), { precision: 'fp32' });
  const [oh, ow] = out.object.shape;
  const [sh, sw] = stitched.object.shape;
  const [r0, c0] = stitched.origin;
  let compared = 0;
  let kept = 0;
  for (let row = 0; row < oh; row++) {
    for (let col = 0; col < ow; col++) {
      const i = row - r0;
      const j = col - c0;
      const inside = i >= 0 && i < sh && j >= 0 && j < sw && (stitched.object.data[2 * (i * sw + j)] !== 0 || stitched.object.data[2 * (i * sw + j) + 1] !== 0);
      const at = 2 * (row * ow + col);
      if (inside) {
        t.is(out.object.data[at], stitched.object.data[2 * (i * sw + j)]);
        compared++;
      } else {
        // never illuminated: the input's own value
        t.is(out.object.data[at], 1);
        kept++;
      }
    }
  }
  t.true(compared > 10_000 && kept > 0, `${compared} reconstructed, ${kept} kept`);

  // cancelled after the first batch: an AbortedError, well before the end
  const stop = new AbortController();
  const seen: number[] = [];
  await t.throwsAsync(other.reconstruct(input, { onProgress: (p) => { seen.push(p.done); stop.abort(); }, signal: stop.signal }),
    { instanceOf: AbortedError, message: /aborted/ });
  t.true(seen.length < 32, `${seen.length} batches of 32`);
  await t.throwsAsync(other.reconstruct(input, { signal: AbortSignal.abort() }), { instanceOf: AbortedError, message: /before it started/ });
});

test('the iterative baseline runs through the reconstructor without a model, with progress and cancellation', async (t) => {
  t.timeout(300_000);
  const r = new Reconstructor({ threads: 2 });
  const seen: number[] = [];
  const stop = new AbortController();
  const out = await r.reconstructIterative(FIXTURE, {
    method: 'rpie', iterations: 50, nImages: 128, signal: stop.signal,
    onProgress: (p) => { seen.push(p.iteration); if (p.iteration === 4) stop.abort(); },
  });
  t.is(out.method, 'rpie');
  t.is(out.stop, 'cancelled');
  // the abort lands while the next iteration runs: it stops there, long before the 50th
  t.deepEqual(seen.slice(0, 4), [1, 2, 3, 4]);
  t.true(out.error.length >= 4 && out.error.length < 50, `${out.error.length}`);
  t.is(out.patterns.length, 128);
  t.deepEqual(out.probe.shape, [64, 64]);
});

test('a training file of counts (as the adapter once exported) is read as counts, with a warning', async (t) => {
  const counts = Float32Array.from(data.diffraction.data.subarray(0, 16 * N * N), (v) => Math.round(v * v));
  const { diffraction: _, ...rest } = data;
  const subset = { ...rest, xcoords: data.xcoords.subarray(0, 16), ycoords: data.ycoords.subarray(0, 16) };
  const path = join(dir, 'counts_train_data.npz');
  await saveDataset(path, { ...subset, diffraction: { dtype: 'float32', shape: [16, N, N], data: counts } });
  const warnings: string[] = [];
  const read = await readTrainingData(path, (w) => warnings.push(w));
  t.deepEqual(read.diffraction.data, counts.map(Math.sqrt));
  t.regex(warnings[0], /counts_train_data\.npz: every value is a whole number.*read as counts/);
  // amplitudes are read as they are, without a word
  const amplitudes = join(dir, 'amplitudes_train_data.npz');
  await saveDataset(amplitudes, { ...subset, diffraction: { dtype: 'float32', shape: [16, N, N], data: counts.map(Math.sqrt) } });
  const quiet: string[] = [];
  t.deepEqual((await readTrainingData(amplitudes, (w) => quiet.push(w))).diffraction.data, counts.map(Math.sqrt));
  t.deepEqual(quiet, []);
});
