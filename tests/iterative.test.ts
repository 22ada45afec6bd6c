// The iterative baseline: ePIE and rPIE reconstruct simulated data against the ground truth, with
// the probe given right, and given wrong (defocused, 20 % scale error) and refined.
import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadDataset, type Dataset } from '../lib/dataset.js';
import { reconstructIterative, refineReconstruction, type IterativeReconstruction } from '../lib/iterative.js';
import { saveModel } from '../lib/bundle.js';
import { train } from '../lib/training.js';
import { compareObjects } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { readNpz } from '../lib/npz.js';
import { scannedRegion, writeReconstruction } from '../lib/outputs.js';
import { defocusProbe, pinholeProbe, scaleProbe } from '../lib/probe.js';
import { spiralScan } from '../lib/scan.js';
import { siemensStar, simulate } from '../lib/simulation.js';
import { Rng } from '../lib/random.js';
import { runCli } from './helpers/cli.js';

const FIXTURE = resolve('fixtures/run1084_sim.npz');

async function score(r: IterativeReconstruction, truth: ComplexArray) {
  return compareObjects(r.object, r.origin, truth, { region: scannedRegion(r.xcoords, r.ycoords) });
}

test('ePIE on the fixture converges to the ground truth in 30 iterations', async (t) => {
  t.timeout(300_000);
  const data = await loadDataset(FIXTURE);
  const seen: number[] = [];
  const r = await reconstructIterative(data, { iterations: 30, onProgress: (p) => seen.push(p.iteration) });
  t.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i + 1));
  t.is(r.error.length, 30);
  t.true(r.error[29] < r.error[0] / 5, `error ${r.error[0]} -> ${r.error[29]}`);
  const c = await score(r, data.objectGuess!);
  t.log(`phase SSIM ${c.phase.ssim.toFixed(3)}, correlation ${c.phase.correlation.toFixed(4)}, amplitude SSIM ${c.amplitude.ssim.toFixed(3)}`);
  t.true(c.phase.ssim > 0.95 && c.phase.correlation > 0.99, `${c.phase.ssim} ${c.phase.correlation}`);
  t.true(c.amplitude.ssim > 0.85, `${c.amplitude.ssim}`);
  // the canvas convention of stitching: 0 where nothing was reconstructed, the origin in object pixels
  t.is(r.object.data[0], 0);
  t.true(r.origin.every(Number.isInteger));
  // the same seed and thread count give the same numbers
  const again = await reconstructIterative(data, { iterations: 3 });
  const twice = await reconstructIterative(data, { iterations: 3 });
  t.deepEqual(again.object.data, twice.object.data);
});

// A Siemens star at N = 128 under a pinhole probe, and the probe given wrong.
async function star(): Promise<{ data: Dataset; truth: ComplexArray; probe: ComplexArray; wrong: ComplexArray }> {
  const truth = siemensStar(320);
  const probe = await pinholeProbe(128, 20, 600);
  const { dataset } = await simulate(truth, probe, spiralScan(truth.shape, 128, { count: 200, step: 10 }), { photons: 1e7, seed: 1 });
  const wrong = scaleProbe(await defocusProbe(probe, 400), 1.2);
  return { data: dataset, truth, probe, wrong };
}

test('a Siemens star at N = 128 with a wrong probe: refinement recovers what the true probe gives', async (t) => {
  t.timeout(600_000);
  const { data, truth, probe, wrong } = await star();
  const fixed = 1e9; // never refine
  const right = await score(await reconstructIterative(data, { iterations: 30, probe, probeStart: fixed }), truth);
  const stuck = await score(await reconstructIterative(data, { iterations: 30, probe: wrong, probeStart: fixed }), truth);
  const refined = await reconstructIterative(data, { method: 'rpie', iterations: 30, probe: wrong, probeStart: 5 });
  const better = await score(refined, truth);
  t.log(`phase SSIM: true probe ${right.phase.ssim.toFixed(3)}, wrong probe ${stuck.phase.ssim.toFixed(3)}, ` +
    `wrong probe refined (rPIE) ${better.phase.ssim.toFixed(3)}`);
  t.true(right.phase.ssim > 0.9);
  t.true(stuck.phase.ssim < 0.5);
  t.true(better.phase.ssim > right.phase.ssim - 0.1, `${better.phase.ssim} vs ${right.phase.ssim}`);
  // the refined probe is closer to the true one than the given probe was, up to the shift and
  // global phase that probe and object can trade
  const likeness = async (p: ComplexArray) => (await compareObjects(p, [0, 0], probe, { removeRamp: false })).complexCorrelation;
  const [given, found] = [await likeness(wrong), await likeness(refined.probe)];
  t.true(found > given && found > 0.9, `probe correlation ${given} -> ${found}`);
});

// Serial tests run before the file's concurrent ones: on one core this one would otherwise wait in
// the job queue behind the three-minute reconstructions below, and its timeout with it.
test.serial('an aborted reconstruction stops early and returns what it reached', async (t) => {
  t.timeout(120_000);
  const data = await loadDataset(FIXTURE);
  const stop = new AbortController();
  const r = await reconstructIterative(data, {
    iterations: 1000, signal: stop.signal, onProgress: (p) => { if (p.iteration === 2) stop.abort(); },
  });
  t.is(r.stop, 'cancelled');
  t.true(r.error.length >= 2 && r.error.length < 1000);
  await t.throwsAsync(reconstructIterative(data, { signal: stop.signal }), { name: 'AbortedError' });
  await t.throwsAsync(reconstructIterative(data, { method: 'dm' as 'epie' }), { message: /epie or rpie/ });
  await t.throwsAsync(reconstructIterative(data, { iterations: 0 }), { message: /at least 1/ });
});

test.serial('writeReconstruction creates a folder that does not exist yet and writes what infer writes', async (t) => {
  t.timeout(300_000);
  const out = await mkdtemp(join(tmpdir(), 'ptpinn-write-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const data = await loadDataset(FIXTURE);
  const r = await reconstructIterative(data, { iterations: 1 });
  const dir = join(out, 'not', 'there');
  const written = await writeReconstruction(dir, r, data);
  t.is(written.npz, join(dir, 'reconstruction.npz'));
  t.deepEqual((await readdir(dir)).sort(), ['frc.png', 'metrics.json', 'reconstructed_amplitude.png', 'reconstructed_phase.png', 'reconstruction.npz']);
  t.deepEqual((await readNpz(written.npz)).object.shape, r.object.shape);
});

test('reconstruct --method rpie writes the object, the refined probe, images and metrics', async (t) => {
  t.timeout(300_000);
  const out = await mkdtemp(join(tmpdir(), 'ptpinn-reconstruct-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const run = await runCli(['reconstruct', '--data', FIXTURE, '--output_dir', out, '--method', 'rpie', '--iterations', '12',
    '--probe_start', '3', '--n_images', '256', '--quiet']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, '');
  const npz = await readNpz(join(out, 'reconstruction.npz'));
  t.deepEqual(npz.probe.shape, [64, 64]);
  t.is(npz.error.shape[0], 12);
  t.is(npz.patterns.shape[0], 256);
  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
  t.regex(metrics.reference, /objectGuess \(ground truth\)$/);
  t.true(metrics.phase.ssim > 0.8, `${metrics.phase.ssim}`);
  t.regex(await readFile(join(out, 'reconstruct.log'), 'utf8'), /iteration 12\/12/);

  const bad = await runCli(['reconstruct', '--data', FIXTURE, '--output_dir', out, '--method', 'dm']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--method/);
});

test('position correction finds scan positions given 1.2 px wrong (rms) to a tenth of a pixel', async (t) => {
  t.timeout(600_000);
  const data = await loadDataset(FIXTURE);
  const rng = new Rng(4);
  const jitter = () => (rng.next() - 0.5) * 3;
  const wrong: Dataset = { ...data, xcoords: data.xcoords.map((v) => v + jitter()), ycoords: data.ycoords.map((v) => v + jitter()) };
  const rms = (r: IterativeReconstruction) => {
    let s = 0;
    for (let k = 0; k < r.xcoords.length; k++) s += (r.xcoords[k] - data.xcoords[k]) ** 2 + (r.ycoords[k] - data.ycoords[k]) ** 2;
    return Math.sqrt(s / r.xcoords.length);
  };
  const kept = await reconstructIterative(wrong, { iterations: 60 });
  const corrected = await reconstructIterative(wrong, { iterations: 60, positionStart: 10 });
  t.log(`rms position error ${rms(kept).toFixed(3)} px kept, ${rms(corrected).toFixed(3)} px corrected`);
  t.true(rms(kept) > 1 && rms(corrected) < 0.2, `${rms(kept)} ${rms(corrected)}`);
  const [a, b] = [await score(kept, data.objectGuess!), await score(corrected, data.objectGuess!)];
  t.true(b.phase.ssim > a.phase.ssim + 0.03 && b.phase.ssim > 0.95, `${a.phase.ssim} -> ${b.phase.ssim}`);
});

test('infer --refine starts the iterations from the network\'s object and beats both alone', async (t) => {
  t.timeout(600_000);
  const data = await loadDataset(FIXTURE);
  const model = await train(data, { model: { gridsize: 1 }, training: { nGroups: 512, maxEpochs: 3, batchSize: 16, learningRate: 3e-3 } }, { threads: 2 });
  const pinn = await model.reconstruct(data);
  const refined = await refineReconstruction(data, pinn, { iterations: 5 });
  const scratch = await reconstructIterative(data, { iterations: 5, probeStart: 0 });
  const region = scannedRegion(pinn.xcoords, pinn.ycoords);
  const [a, b, c] = [pinn, refined, scratch].map((r) => compareObjects(r.object, r.origin, data.objectGuess!, { region }));
  const [sa, sb, sc] = await Promise.all([a, b, c]);
  t.log(`phase SSIM: network ${sa.phase.ssim.toFixed(3)}, network + 5 ePIE ${sb.phase.ssim.toFixed(3)}, 5 ePIE from scratch ${sc.phase.ssim.toFixed(3)}`);
  t.true(sb.phase.ssim > sa.phase.ssim + 0.1 && sb.phase.ssim > sc.phase.ssim, `${sa.phase.ssim} ${sb.phase.ssim} ${sc.phase.ssim}`);
  t.deepEqual(refined.patterns, pinn.patterns);

  const dir = await mkdtemp(join(tmpdir(), 'ptpinn-refine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await saveModel(model, join(dir, 'model.ptpinn'));
  const run = await runCli(['infer', '--model_path', dir, '--test_data', FIXTURE, '--output_dir', join(dir, 'out'), '--refine', '3', '--n_images', '128', '--quiet']);
  t.is(run.code, 0, run.stderr);
  const npz = await readNpz(join(dir, 'out', 'reconstruction.npz'));
  t.is(npz.error.shape[0], 3);
  t.deepEqual(npz.probe.shape, [64, 64]);
});
