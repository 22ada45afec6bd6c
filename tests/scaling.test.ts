import test from 'ava';
import { Rng } from '../lib/random.js';
import { intensityScale } from '../lib/scaling.js';

const N = 8;
const rng = new Rng(1);
const patterns = Float32Array.from({ length: 5 * N * N }, () => 4 * rng.next());
const totals = [0, 1, 2, 3, 4].map((k) => patterns.subarray(k * N * N, (k + 1) * N * N).reduce((s, v) => s + v * v, 0));

test('the scale is sqrt(mean pattern total of X^2) / (N/2), repeats counted as they occur', (t) => {
  const grouped = Math.sqrt((totals[0] + totals[2] + totals[2]) / 3) / (N / 2);
  t.true(Math.abs(intensityScale(patterns, N, [0, 2, 2]) - grouped) < 1e-12 * grouped);
  t.true(Math.abs(intensityScale(patterns, N, Int32Array.of(2, 0, 2)) - grouped) < 1e-12 * grouped);
  const all = Math.sqrt(totals.reduce((a, b) => a + b) / 5) / (N / 2);
  t.true(Math.abs(intensityScale(patterns, N) - all) < 1e-12 * all);
  // one pattern of ones: sum X^2 = N^2, so s = N / (N/2) = 2
  t.is(intensityScale(new Float32Array(N * N).fill(1), N), 2);
});

test('patterns scaled by 3 have a scale 3 times larger', (t) => {
  const s = intensityScale(patterns, N);
  // 3 X is rounded to float32, so the ratio is 3 to about float32 precision
  t.true(Math.abs(intensityScale(patterns.map((v) => 3 * v), N) / s - 3) < 1e-6);
  t.true(Math.abs(intensityScale(Float64Array.from(patterns, (v) => 3 * v), N) / s - 3) < 1e-12);
});

test('normalised patterns X / s have a mean total intensity of (N/2)^2', (t) => {
  for (const indices of [undefined, [1, 3, 3, 4]]) {
    const s = intensityScale(patterns, N, indices);
    const chosen = indices ?? [0, 1, 2, 3, 4];
    let total = 0;
    for (const k of chosen) for (let i = k * N * N; i < (k + 1) * N * N; i++) total += (patterns[i] / s) ** 2;
    const mean = total / chosen.length;
    t.true(Math.abs(mean - (N / 2) ** 2) < 1e-9 * (N / 2) ** 2, `mean total ${mean}`);
  }
});

test('all-zero or non-finite diffraction has no scale; bad indices and shapes are refused', (t) => {
  t.throws(() => intensityScale(new Float32Array(2 * N * N), N), { message: /intensity scale is 0: .* hold no light \(all zero\)/ });
  // only the chosen patterns count: a lit pattern that is not chosen does not help
  const partly = new Float32Array(2 * N * N).fill(1, N * N);
  t.throws(() => intensityScale(partly, N, [0, 0]), { message: /hold no light/ });
  const bad = Float32Array.from(patterns);
  bad[7] = NaN;
  t.throws(() => intensityScale(bad, N), { message: /intensity scale is NaN: .* non-finite/ });
  t.throws(() => intensityScale(patterns, N, [5]), { message: /pattern index 5 is outside \[0, 5\)/ });
  t.throws(() => intensityScale(patterns, N, []), { message: /no diffraction patterns were chosen/ });
  t.throws(() => intensityScale(patterns, 7), { message: /not a whole number of 7 x 7 patterns/ });
});
