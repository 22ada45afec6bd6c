import test from 'ava';
import { compareObjects, pearson } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { Rng } from '../lib/random.js';

const H = 60;
const W = 70;
const rng = new Rng(12);
const truth: ComplexArray = { dtype: 'complex64', shape: [H, W], data: new Float32Array(2 * H * W) };
for (let k = 0; k < H * W; k++) {
  const [amp, phase] = [0.5 + rng.next(), 2 * rng.next() - 1];
  truth.data[2 * k] = amp * Math.cos(phase);
  truth.data[2 * k + 1] = amp * Math.sin(phase);
}

// a reconstruction of rows 10..49, columns 15..64 of the truth, shifted in its coordinates by
// (2, -3), with a global phase of 0.7 and half the amplitude
function reconstruction(): { recon: ComplexArray; origin: [number, number] } {
  const [h, w] = [40, 50];
  const recon: ComplexArray = { dtype: 'complex64', shape: [h, w], data: new Float32Array(2 * h * w) };
  const [c, s] = [0.5 * Math.cos(0.7), 0.5 * Math.sin(0.7)];
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const t = 2 * ((10 + i) * W + 15 + j);
      const [re, im] = [truth.data[t], truth.data[t + 1]];
      recon.data[2 * (i * w + j)] = c * re - s * im;
      recon.data[2 * (i * w + j) + 1] = s * re + c * im;
    }
  }
  // the true origin is (10, 15): claiming (8, 18) means the shift to find is (2, -3)
  return { recon, origin: [8, 18] };
}

test('registration, global phase and amplitude scale are recovered exactly', (t) => {
  const { recon, origin } = reconstruction();
  const c = compareObjects(recon, origin, truth);
  t.deepEqual(c.shift, [2, -3]);
  t.true(Math.abs(c.phaseOffset + 0.7) < 1e-5);
  t.true(Math.abs(c.amplitudeScale - 2) < 1e-5);
  t.true(c.amplitude.mae < 1e-5);
  t.true(c.phase.mae < 1e-5);
  t.true(c.phase.correlation > 0.99999);
  // by default the recon's own footprint (as its origin claims) is compared: 2 rows and 3 columns
  // of it fall outside once shifted
  t.is(c.pixels, 38 * 47);
});

test('a region limits the pixels compared, and noise shows in the errors', (t) => {
  const { recon, origin } = reconstruction();
  const noisy = { ...recon, data: recon.data.map((v) => v + 0.05 * (rng.next() - 0.5)) };
  const c = compareObjects(noisy, origin, truth, { region: { top: 20, left: 30, bottom: 39, right: 49 } });
  t.deepEqual(c.shift, [2, -3]);
  t.is(c.pixels, 20 * 20);
  t.true(c.phase.mae > 1e-3 && c.phase.mae < 0.1);
  t.true(c.phase.correlation > 0.9 && c.phase.correlation < 1);
});

test('pearson is 1, -1 and 0 where it should be', (t) => {
  t.true(Math.abs(pearson([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
  t.true(Math.abs(pearson([1, 2, 3], [3, 2, 1]) + 1) < 1e-12);
  t.is(pearson([1, 1, 1], [1, 2, 3]), 0);
});
