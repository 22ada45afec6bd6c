import test from 'ava';
import type { ComplexArray } from '../lib/ndarray.js';
import { Rng } from '../lib/random.js';
import { rasterScan, spiralScan } from '../lib/scan.js';
import { simulate } from '../lib/simulation.js';
import { intensity } from './helpers/dft.js';

const N = 16;
const rng = new Rng(21);
const object: ComplexArray = { dtype: 'complex64', shape: [48, 50], data: Float32Array.from({ length: 2 * 48 * 50 }, () => rng.next() - 0.3) };
const probe: ComplexArray = { dtype: 'complex64', shape: [N, N], data: Float32Array.from({ length: 2 * N * N }, () => rng.next()) };

// the patch at (x, y), bilinear between pixels, computed here independently of the addon
function patchAt(x: number, y: number): Float64Array {
  const w = object.shape[1];
  const out = new Float64Array(2 * N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const r = y - N / 2 + i;
      const c = x - N / 2 + j;
      const [r0, c0] = [Math.floor(r), Math.floor(c)];
      const [fr, fc] = [r - r0, c - c0];
      for (let p = 0; p < 2; p++) {
        const at = (rr: number, cc: number) => object.data[2 * (rr * w + cc) + p];
        out[2 * (i * N + j) + p] = (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) + fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
      }
    }
  }
  return out;
}

const positions = { x: Float64Array.from([12, 20.5, 30.25, 25]), y: Float64Array.from([14, 22.75, 18, 30.5]) };

test('noiseless patterns equal |FFT(object x probe)|^2 of an independent DFT, scaled to the dose', async (t) => {
  t.timeout(120_000);
  const { dataset, photonScale } = await simulate(object, probe, positions, { photons: 5e4, noise: false, threads: 1 });
  let worst = 0;
  let peak = 0;
  let total = 0;
  for (let k = 0; k < 4; k++) {
    const expected = intensity(patchAt(positions.x[k], positions.y[k]), Float64Array.from(probe.data), N);
    for (let p = 0; p < N * N; p++) {
      const got = dataset.diffraction.data[k * N * N + p] ** 2;
      worst = Math.max(worst, Math.abs(got - photonScale * expected[p]));
      peak = Math.max(peak, photonScale * expected[p]);
      total += got;
    }
  }
  t.log(`max |error| / max intensity = ${(worst / peak).toExponential(2)}`);
  t.true(worst / peak <= 1e-5);
  t.true(Math.abs(total / 4 - 5e4) < 1e-3 * 5e4);
  t.deepEqual(dataset.objectGuess, object);
});

test('noisy patterns are integer counts with the requested mean photon count, seeded', async (t) => {
  t.timeout(120_000);
  const scan = rasterScan(object.shape, N, { step: 1.5, jitter: 0.4, seed: 3 });
  const { dataset } = await simulate(object, probe, scan, { photons: 2e4, seed: 5 });
  const count = scan.x.length;
  let total = 0;
  for (const a of dataset.diffraction.data) {
    const counts = a * a;
    t.true(Math.abs(counts - Math.round(counts)) < 1e-3 * Math.max(1, counts));
    total += counts;
  }
  const mean = total / count;
  t.log(`${count} patterns, mean photon count ${mean.toFixed(1)} (asked 20000)`);
  // the clean totals average exactly 2e4; Poisson adds sqrt(2e4 / count) of noise to the mean
  t.true(Math.abs(mean - 2e4) < 5 * Math.sqrt(2e4 / count));
  const again = await simulate(object, probe, scan, { photons: 2e4, seed: 5 });
  t.deepEqual(again.dataset.diffraction.data, dataset.diffraction.data);
  const other = await simulate(object, probe, scan, { photons: 2e4, seed: 6 });
  t.notDeepEqual(other.dataset.diffraction.data, dataset.diffraction.data);
});

test('a position whose patch leaves the object is refused', async (t) => {
  t.timeout(120_000);
  await t.throwsAsync(simulate(object, probe, { x: Float64Array.from([8]), y: Float64Array.from([41]) }, { photons: 1 }),
    { message: /position 0 \(x 8, y 41\) puts its 16 x 16 patch outside the 48 x 50 object/ });
});

test('raster scans stay inside the object and jitter by at most the jitter', (t) => {
  t.timeout(120_000);
  const plain = rasterScan([100, 120], 32, { step: 8 });
  const jittered = rasterScan([100, 120], 32, { step: 8, jitter: 1.5, seed: 1, margin: 2 });
  // centres from 16 to 103 across, 16 to 83 down: 11 columns, 9 rows
  t.is(plain.x.length, 99);
  for (let k = 0; k < jittered.x.length; k++) {
    t.true(jittered.x[k] - 16 >= 0 && jittered.x[k] + 16 <= 119 && jittered.y[k] - 16 >= 0 && jittered.y[k] + 16 <= 99);
  }
  t.throws(() => rasterScan([20, 20], 32, { step: 4 }), { message: /no room for 32 x 32 patches/ });
});

test('a Fermat spiral has the asked count and density', (t) => {
  t.timeout(120_000);
  const { x, y } = spiralScan([300, 300], 64, { count: 400, step: 5 });
  t.is(x.length, 400);
  let sum = 0;
  for (let i = 0; i < 400; i++) {
    let best = Infinity;
    for (let j = 0; j < 400; j++) if (i !== j) best = Math.min(best, Math.hypot(x[i] - x[j], y[i] - y[j]));
    sum += best;
  }
  const mean = sum / 400;
  t.log(`mean nearest-neighbour distance ${mean.toFixed(2)} for step 5`);
  t.true(mean > 0.8 * 5 && mean < 1.2 * 5);
  t.throws(() => spiralScan([100, 100], 64, { count: 1000, step: 5 }), { message: /leaves the object/ });
});
