// `ptychopinn compare` on the files users have: a .npy, an NPZ with objectGuess, our
// reconstruction.npz with its origin and scan.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readFileSync } from 'node:fs';
import { TRUTH_KEY } from '../lib/dataset.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { encodeNpy } from '../lib/npy.js';
import { writeNpz } from '../lib/npz.js';
import { readObject } from '../lib/objects.js';
import { Rng } from '../lib/random.js';
import { runCli } from './helpers/cli.js';

const rng = new Rng(5);
const H = 120;
// a smooth random object: a few plane waves in amplitude and phase
const waves = Array.from({ length: 20 }, () => [rng.int(17) - 8, rng.int(17) - 8, 6.28 * rng.next(), rng.next()]);
function object(dy: number, dx: number, h = H, w = H, phase = 0): ComplexArray {
  const data = new Float32Array(2 * h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const v = waves.reduce((s, [a, b, p, m]) => s + m * Math.cos(2 * Math.PI * (a * (i - dy) + b * (j - dx)) / H + p), 0);
      const [amp, ph] = [1 + 0.2 * Math.tanh(v), 0.5 * v + phase];
      data[2 * (i * w + j)] = amp * Math.cos(ph);
      data[2 * (i * w + j) + 1] = amp * Math.sin(ph);
    }
  }
  return { dtype: 'complex64', shape: [h, w], data };
}

test('compare A B prints the metrics, as JSON with --json, and draws the FRC with --plot', async (t) => {
  t.timeout(120_000);
  const dir = await mkdtemp(join(tmpdir(), 'ptpinn-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const a = join(dir, 'a.npy');
  const b = join(dir, 'b.npz');
  await writeFile(a, encodeNpy(object(0.4, -0.7, H, H, 1)));
  await writeNpz(b, { objectGuess: object(0, 0), [TRUTH_KEY]: { dtype: 'bool', shape: [], data: Uint8Array.of(1) } });
  const plot = join(dir, 'frc.png');
  const json = await runCli(['compare', a, b, '--json', '--plot', plot]);
  t.is(json.code, 0, json.stderr);
  const c = JSON.parse(json.stdout);
  t.regex(c.b, /objectGuess \(ground truth\)/);
  t.true(Math.abs(c.shift[0] + 0.4) < 0.02 && Math.abs(c.shift[1] - 0.7) < 0.02, `${c.shift}`);
  t.true(c.phase.ssim > 0.99, `${c.phase.ssim}`);
  t.true(PNG.sync.read(readFileSync(plot)).width > 0);

  const text = await runCli(['compare', a, b]);
  t.is(text.code, 0);
  t.regex(text.stdout, /phase: +SSIM (0\.99\d|1\.000)/);
  t.regex(text.stdout, /shift -0\.4\d, 0\.[67]\d px/);

  // a constant objectGuess is an initial guess, and compare says its scores mean nothing
  const guess = join(dir, 'guess.npz');
  const ones = object(0, 0);
  ones.data.fill(0).forEach((_, k) => { if (k % 2 === 0) ones.data[k] = 1; });
  await writeNpz(guess, { objectGuess: ones });
  t.is((await readObject(guess)).kind, 'initial guess');
  const meaningless = await runCli(['compare', a, guess, '--no-registration']);
  t.regex(meaningless.stdout, /initial guess: the scores say nothing/);

  // a file with neither object nor objectGuess, and a bad region, are usage errors
  const other = join(dir, 'other.npz');
  await writeNpz(other, { probeGuess: ones });
  const wrong = await runCli(['compare', a, other]);
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /other\.npz: holds neither 'object'.*probeGuess/);
  const region = await runCli(['compare', a, b, '--region', '10,10,5']);
  t.is(region.code, 2);
  t.regex(region.stderr, /--region takes top,left,bottom,right/);
});

test('a reconstruction.npz is placed by its origin and compared over its scanned region', async (t) => {
  t.timeout(120_000);
  const dir = await mkdtemp(join(tmpdir(), 'ptpinn-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // rows 30..99, columns 20..109 of the object, on a canvas whose pixel [0, 0] is object (30, 20)
  const whole = object(0, 0);
  const [h, w] = [70, 90];
  const part: ComplexArray = { dtype: 'complex64', shape: [h, w], data: new Float32Array(2 * h * w) };
  for (let i = 0; i < h; i++) part.data.set(whole.data.subarray(2 * ((30 + i) * H + 20), 2 * ((30 + i) * H + 20 + w)), 2 * i * w);
  const recon = join(dir, 'reconstruction.npz');
  await writeNpz(recon, {
    object: part, origin: { dtype: 'float64', shape: [2], data: Float64Array.of(30, 20) },
    xcoords: { dtype: 'float64', shape: [2], data: Float64Array.of(40, 95) },
    ycoords: { dtype: 'float64', shape: [2], data: Float64Array.of(45, 80) },
  });
  const r = await readObject(recon);
  t.deepEqual(r.origin, [30, 20]);
  t.deepEqual(r.region, { top: 45, left: 40, bottom: 80, right: 95 });
  const reference = join(dir, 'truth.npy');
  await writeFile(reference, encodeNpy(whole));
  const run = await runCli(['compare', recon, reference, '--json']);
  t.is(run.code, 0, run.stderr);
  const c = JSON.parse(run.stdout);
  t.deepEqual(c.region, { top: 45, left: 40, bottom: 80, right: 95 });
  t.is(c.pixels, 36 * 56);
  t.true(Math.abs(c.shift[0]) < 0.01 && Math.abs(c.shift[1]) < 0.01, `${c.shift}`);
  t.true(c.phase.ssim > 0.9999 && c.amplitude.ssim > 0.9999, `${c.phase.ssim} ${c.amplitude.ssim}`);
});
