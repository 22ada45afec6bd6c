import test from 'ava';
import { intensityScale } from '../lib/scaling.js';
import { Rng } from '../lib/random.js';

const N = 8;
const rng = new Rng(1);
const patterns = Float32Array.from({ length: 5 * N * N }, () => 4 * rng.next());

test('the scale is sqrt(mean pattern total of X^2) / (N/2), repeats counted', (t) => {
  const totals = [0, 1, 2, 3, 4].map((k) => patterns.subarray(k * N * N, (k + 1) * N * N).reduce((s, v) => s + v * v, 0));
  const expected = Math.sqrt((totals[0] + totals[2] + totals[2]) / 3) / (N / 2);
  t.true(Math.abs(intensityScale(patterns, N, [0, 2, 2]) - expected) < 1e-12 * expected);
  t.true(Math.abs(intensityScale(patterns, N) - Math.sqrt(totals.reduce((a, b) => a + b) / 5) / (N / 2)) < 1e-9);
});

test('normalised patterns have a mean total intensity of (N/2)^2', (t) => {
  const s = intensityScale(patterns, N);
  let total = 0;
  for (const v of patterns) total += (v / s) ** 2;
  t.true(Math.abs(total / 5 - (N / 2) ** 2) < 1e-9 * (N / 2) ** 2 * 1e3);
  t.true(Math.abs(intensityScale(patterns.map((v) => 3 * v), N) / s - 3) < 1e-6);
});

test('all-zero diffraction has no scale', (t) => {
  t.throws(() => intensityScale(new Float32Array(2 * N * N), N), { message: /hold no light/ });
});
