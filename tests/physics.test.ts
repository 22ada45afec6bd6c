import test from 'ava';
import { addon } from '../lib/binding.js';
import type { ComplexArray, FloatArray } from '../lib/ndarray.js';
import { diffract, poissonLossGradient } from '../lib/physics.js';
import { astigmatizeProbe, probeOverlap } from '../lib/probe.js';
import { intensity, maxAbs, maxAbsDiff, poissonGradient, poissonLoss } from './helpers/dft.js';
import { seeded } from './helpers/random.js';

const N = 16;
const B = 3;

function makeProbe(n: number): ComplexArray {
  const data = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r2 = ((i - n / 2) ** 2 + (j - n / 2) ** 2) / (n / 3) ** 2;
      const amp = Math.exp(-r2);
      const phase = 0.7 * r2;
      data[2 * (i * n + j)] = amp * Math.cos(phase);
      data[2 * (i * n + j) + 1] = amp * Math.sin(phase);
    }
  }
  return { dtype: 'complex64', shape: [n, n], data };
}

function makePatches(b: number, n: number, seed: number): ComplexArray {
  const rand = seeded(seed);
  const data = new Float32Array(2 * b * n * n);
  for (let k = 0; k < b * n * n; k++) {
    const amp = 0.5 + 0.5 * rand();
    const phase = 2 * rand() - 1;
    data[2 * k] = amp * Math.cos(phase);
    data[2 * k + 1] = amp * Math.sin(phase);
  }
  return { dtype: 'complex64', shape: [b, n, n], data };
}

const probe = makeProbe(N);
const patches = makePatches(B, N, 1);
const slice = (a: Float32Array, k: number, size: number) => Float64Array.from(a.subarray(k * size, (k + 1) * size));

// Measured amplitudes: the reference model of a perturbed object, so X is near A everywhere.
const measured: FloatArray = (() => {
  const other = makePatches(B, N, 2);
  const data = new Float32Array(B * N * N);
  for (let k = 0; k < B; k++) {
    const mixed = slice(patches.data, k, 2 * N * N).map((v, i) => 0.8 * v + 0.2 * other.data[2 * k * N * N + i]);
    data.set(intensity(mixed, Float64Array.from(probe.data), N).map(Math.sqrt), k * N * N);
  }
  return { dtype: 'float32', shape: [B, N, N], data };
})();

test('diffract equals sqrt(fftshift|DFT(patch x probe)|^2) of an independent float64 DFT', async (t) => {
  const out = await diffract(patches, probe, { threads: 2 });
  t.deepEqual(out.shape, [B, N, N]);
  const reference = new Float64Array(B * N * N);
  for (let k = 0; k < B; k++) {
    reference.set(intensity(slice(patches.data, k, 2 * N * N), Float64Array.from(probe.data), N).map(Math.sqrt), k * N * N);
  }
  const rel = maxAbsDiff(out.data, reference) / maxAbs(reference);
  t.log(`max |error| / max |reference| = ${rel.toExponential(2)}`);
  t.true(rel <= 1e-5);
});

test('the Poisson loss and its gradient equal the analytic ones', async (t) => {
  const { loss, gradient } = await poissonLossGradient(patches, probe, measured, { threads: 2 });
  t.deepEqual(gradient.shape, [B, N, N]);
  let refLoss = 0;
  const reference = new Float64Array(2 * B * N * N);
  for (let k = 0; k < B; k++) {
    const patch = slice(patches.data, k, 2 * N * N);
    const x = measured.data.subarray(k * N * N, (k + 1) * N * N);
    refLoss += poissonLoss(patch, Float64Array.from(probe.data), x, N) / B;
    // The loss is a mean over the batch, so each pattern's gradient carries 1/B.
    reference.set(poissonGradient(patch, Float64Array.from(probe.data), x, N).map((g) => g / B), 2 * k * N * N);
  }
  t.true(Math.abs(loss - refLoss) / Math.abs(refLoss) <= 1e-5, `loss ${loss} vs ${refLoss}`);
  const rel = maxAbsDiff(gradient.data, reference) / maxAbs(reference);
  t.log(`gradient: max |error| / max |reference| = ${rel.toExponential(2)}`);
  t.true(rel <= 1e-5);
});

test('the analytic gradient itself agrees with finite differences of the float64 loss', (t) => {
  const patch = slice(patches.data, 0, 2 * N * N);
  const pr = Float64Array.from(probe.data);
  const x = measured.data.subarray(0, N * N);
  const analytic = poissonGradient(patch, pr, x, N);
  const h = 1e-6;
  for (const idx of [0, 1, 2 * (5 * N + 7), 2 * (8 * N + 8) + 1, 2 * N * N - 1]) {
    const up = Float64Array.from(patch);
    const down = Float64Array.from(patch);
    up[idx] += h;
    down[idx] -= h;
    const fd = (poissonLoss(up, pr, x, N) - poissonLoss(down, pr, x, N)) / (2 * h);
    t.true(Math.abs(fd - analytic[idx]) <= 1e-5 * Math.max(1, Math.abs(fd)), `element ${idx}: ${fd} vs ${analytic[idx]}`);
  }
});

test('with nothing measured the loss is the total intensity (Parseval) and stays finite', async (t) => {
  const zero: FloatArray = { dtype: 'float32', shape: [B, N, N], data: new Float32Array(B * N * N) };
  const { loss, gradient } = await poissonLossGradient(patches, probe, zero, { threads: 1 });
  // sum |patch * probe|^2 over each pattern, averaged over the batch; gradient 2 patch |probe|^2 / B
  let expected = 0;
  let worst = 0;
  for (let k = 0; k < B * N * N; k++) {
    const p = k % (N * N);
    const w = probe.data[2 * p] ** 2 + probe.data[2 * p + 1] ** 2;
    expected += (patches.data[2 * k] ** 2 + patches.data[2 * k + 1] ** 2) * w / B;
    worst = Math.max(worst,
      Math.abs(gradient.data[2 * k] - 2 * patches.data[2 * k] * w / B),
      Math.abs(gradient.data[2 * k + 1] - 2 * patches.data[2 * k + 1] * w / B));
  }
  t.true(Number.isFinite(loss));
  t.true(Math.abs(loss - expected) / expected <= 1e-5, `${loss} vs ${expected}`);
  t.true(worst <= 1e-6);
});

test('the same input and thread count give bit-identical output', async (t) => {
  const a = await diffract(patches, probe, { threads: 2 });
  const b = await diffract(patches, probe, { threads: 2 });
  t.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
});

test('a long call leaves the event loop free', async (t) => {
  const big = makePatches(256, 128, 3);
  let ticked = false;
  const timer = setTimeout(() => { ticked = true; }, 0);
  const done = diffract(big, makeProbe(128)).then((out) => ({ out, tickedBefore: ticked }));
  const { out, tickedBefore } = await done;
  clearTimeout(timer);
  t.deepEqual(out.shape, [256, 128, 128]);
  t.true(tickedBefore, 'a timer fired while the native call ran');
});

test('bad shapes and dtypes are refused in TypeScript with the argument named', async (t) => {
  await t.throwsAsync(diffract(patches, makeProbe(8)), { message: /probe must have shape \(16, 16\).*\(8, 8\)/ });
  await t.throwsAsync(diffract({ ...patches, shape: [B, N, N + 1] }, probe), { message: /patches must have shape \(B, N, N\)/ });
  await t.throwsAsync(diffract({ ...patches, dtype: 'complex128' } as unknown as ComplexArray, probe), { message: /complex64/ });
  await t.throwsAsync(diffract(patches, probe, { threads: 0 }), { message: /threads must be an integer/ });
  await t.throwsAsync(poissonLossGradient(patches, probe, { ...measured, shape: [B, N] }), { message: /measured must be float32 of shape \(3, 16, 16\)/ });
});

test('errors inside a native job reach JS as rejections with the caller\'s stack and no C++ backtrace', async (t) => {
  const { binding } = addon();
  // a patch beyond the canvas: only the job itself finds out
  const bad = binding.stitch(new Float32Array(2 * 16 * 16), [1, 16, 16], new Float64Array([100, 100]), new Float32Array(256),
    { originRow: 0, originCol: 0, height: 20, width: 20 }, 1e-3, 1);
  const error = await t.throwsAsync(bad);
  t.regex(error!.message, /a patch falls outside the 20 x 20 canvas/);
  t.notRegex(error!.message, /Exception raised from|frame #/);
  t.regex(error!.stack!, /^Error: a patch falls outside/);
  t.regex(error!.stack!, /physics\.test\.ts/);
  t.throws(() => binding.diffract(new Float32Array(3), [1, 2, 2], new Float32Array(8), 1), { message: /patch has 3 elements, its shape needs 8/ });
});

test('astigmatizeProbe multiplies by exp(i a ((x^2 - y^2) / (N/4)^2)) and keeps |P|', (t) => {
  const n = 16;
  const random = seeded(5);
  const probe: ComplexArray = { dtype: 'complex64', shape: [n, n], data: Float32Array.from({ length: 2 * n * n }, () => random() - 0.5) };
  const out = astigmatizeProbe(probe, 1.5);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const k = 2 * (i * n + j);
      // the factor read back: out / probe
      const [a, b, c, d] = [probe.data[k], probe.data[k + 1], out.data[k], out.data[k + 1]];
      const power = a * a + b * b;
      const [re, im] = [(c * a + d * b) / power, (d * a - c * b) / power];
      const phase = 1.5 * (((j - n / 2) / 4) ** 2 - ((i - n / 2) / 4) ** 2);
      worst = Math.max(worst, Math.hypot(re - Math.cos(phase), im - Math.sin(phase)));
    }
  }
  t.true(worst < 1e-5, `largest error of the factor ${worst}`);
  t.true(probeOverlap(out, probe) < 0.9);
  t.true(probeOverlap(astigmatizeProbe(out, -1.5), probe) > 1 - 1e-6);
  t.throws(() => astigmatizeProbe(probe, Number.NaN), { message: /astigmatism must be a finite number/ });
});
