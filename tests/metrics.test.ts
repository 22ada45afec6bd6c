import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareObjects, frc, pearson, registerShift, ssim } from '../lib/metrics.js';
import type { ComplexArray } from '../lib/ndarray.js';
import { encodeNpy } from '../lib/npy.js';
import { Rng } from '../lib/random.js';
import { findPython, runPython } from './helpers/python.js';

// A smooth, band-limited test scene: a sum of plane waves, periodic over PERIOD, evaluated at any
// real (row, column), so that shifted copies are exact.
const PERIOD: [number, number] = [96, 110];
const rng = new Rng(3);
const waves = Array.from({ length: 30 }, () => [Math.floor(rng.next() * 24) - 12, Math.floor(rng.next() * 24) - 12,
  2 * Math.PI * rng.next(), rng.next()]);
const scene = (y: number, x: number) => waves.reduce((s, [ky, kx, p, a]) =>
  s + a * Math.cos(2 * Math.PI * (ky * y / PERIOD[0] + kx * x / PERIOD[1]) + p), 0);

function realImage(h: number, w: number, fn: (i: number, j: number) => number): Float64Array {
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[i * w + j] = fn(i, j);
  return out;
}

interface Distortion { shift?: [number, number]; ramp?: [number, number]; offset?: number; scale?: number }

/** A complex object (size x size) of the scene; the distortion moves its content by `shift`. */
function object(size: number, d: Distortion = {}): ComplexArray {
  const [dy, dx] = d.shift ?? [0, 0];
  const [gy, gx] = d.ramp ?? [0, 0];
  const data = new Float32Array(2 * size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const v = scene(i - dy, j - dx);
      const amplitude = (d.scale ?? 1) * (1 + 0.3 * Math.tanh(v / 2));
      const phase = 0.8 * Math.sin(v / 3) + (d.offset ?? 0) + gy * i + gx * j;
      data[2 * (i * size + j)] = amplitude * Math.cos(phase);
      data[2 * (i * size + j) + 1] = amplitude * Math.sin(phase);
    }
  }
  return { dtype: 'complex64', shape: [size, size], data };
}

const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;
const region = { top: 50, left: 50, bottom: 149, right: 149 };

test('a periodic image shifted by a known sub-pixel amount is registered to 0.01 px', (t) => {
  const [h, w] = PERIOD;
  const reference = realImage(h, w, scene);
  for (const [dy, dx] of [[1.37, -2.71], [-0.05, 0.5], [3.99, 0.01]]) {
    const moving = realImage(h, w, (i, j) => scene(i - dy, j - dx));
    const [ry, rx] = registerShift(reference, moving, [h, w]);
    t.true(near(ry, -dy, 0.01) && near(rx, -dx, 0.01), `found ${ry}, ${rx} for ${dy}, ${dx}`);
  }
});

test('compare recovers a sub-pixel shift, a phase offset and ramp and an amplitude scale', async (t) => {
  t.timeout(60_000);
  const truth = object(200);
  const cases: Distortion[] = [
    { shift: [-1.23, 0.56], ramp: [0.02, -0.015], offset: 1.1, scale: 0.5 },
    { shift: [0.37, 2.81] },
    { shift: [-3.5, -0.05], ramp: [-0.03, 0], offset: -2.5, scale: 3 },
  ];
  for (const d of cases) {
    const c = await compareObjects(object(200, d), [0, 0], truth, { region });
    const [dy, dx] = d.shift!;
    t.true(near(c.shift[0], -dy, 0.01) && near(c.shift[1], -dx, 0.01), `shift ${c.shift} for ${d.shift}`);
    t.true(near(c.phaseRamp[0], d.ramp?.[0] ?? 0, 1e-4) && near(c.phaseRamp[1], d.ramp?.[1] ?? 0, 1e-4), `ramp ${c.phaseRamp}`);
    t.true(near(c.amplitudeScale, 1 / (d.scale ?? 1), 1e-3), `scale ${c.amplitudeScale}`);
    t.is(c.pixels, 100 * 100);
    t.true(c.phase.ssim > 0.995 && c.amplitude.ssim > 0.995, `ssim ${c.phase.ssim} ${c.amplitude.ssim}`);
    t.true(c.phase.rmse < 0.01 && c.complexCorrelation > 0.9999);
  }
});

test('identical objects score perfectly, and a ramp left in is what the unramped score sees', async (t) => {
  const truth = object(120);
  const same = await compareObjects(truth, [0, 0], truth);
  t.deepEqual(same.shift, [0, 0]);
  t.is(same.phase.psnr, null); // infinite: JSON has no such number
  t.true(same.phase.ssim > 0.999999 && same.amplitude.mae < 1e-6);
  t.true(same.phase.frc.frc.slice(1).every((v) => v > 0.9999));
  t.is(same.phase.frc.halfBitCrossing, null);
  t.is(same.phase.frc.resolution, null);
  // the default region is the overlap less 1/16 at each edge
  t.deepEqual(same.region, { top: 7, left: 7, bottom: 112, right: 112 });

  const ramped = object(120, { ramp: [0.03, 0.02] });
  const kept = await compareObjects(ramped, [0, 0], truth, { removeRamp: false, registration: false });
  const removed = await compareObjects(ramped, [0, 0], truth, { registration: false });
  t.true(kept.phase.ssim < 0.8 && removed.phase.ssim > 0.999, `${kept.phase.ssim} ${removed.phase.ssim}`);
});

test('origins place the two objects: a reconstruction on its own canvas is found where it lies', async (t) => {
  const truth = object(200);
  // the reconstruction covers object rows 40..169, columns 30..159, and claims origin (38, 33)
  const part = object(200, { shift: [0, 0] });
  const [h, w] = [130, 130];
  const recon: ComplexArray = { dtype: 'complex64', shape: [h, w], data: new Float32Array(2 * h * w) };
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const k = 2 * ((40 + i) * 200 + 30 + j);
      recon.data.set(part.data.subarray(k, k + 2), 2 * (i * w + j));
    }
  }
  const c = await compareObjects(recon, [38, 33], truth, { region: { top: 60, left: 50, bottom: 139, right: 139 } });
  t.true(near(c.shift[0], 2, 0.01) && near(c.shift[1], -3, 0.01), `${c.shift}`);
  t.true(c.phase.ssim > 0.999);
});

test('FRC of independent noise stays near 0 and crosses the half-bit threshold at once', (t) => {
  const [h, w] = [128, 128];
  const noise = new Rng(7);
  const a = realImage(h, w, () => noise.normal());
  const b = realImage(h, w, () => noise.normal());
  const curve = frc(a, b, [h, w]);
  t.is(curve.frequency.length, 65);
  t.true(near(curve.frequency[64], 0.5, 1e-12));
  // each ring's FRC of independent noise has a spread of about 1 / sqrt(pixels in the ring)
  for (let r = 4; r < curve.frc.length; r++) t.true(Math.abs(curve.frc[r]) < 5 / Math.sqrt(curve.pixels[r]), `ring ${r}: ${curve.frc[r]}`);
  t.true(curve.halfBitCrossing !== null && curve.halfBitCrossing < 0.05, `${curve.halfBitCrossing}`);
  // a shared signal under independent noise: correlated at low frequency, not at high
  const signal = realImage(h, w, (i, j) => 3 * scene(i, j));
  const withNoise = (s: Float64Array) => s.map((v) => v + 2 * noise.normal());
  const shared = frc(withNoise(signal), withNoise(signal), [h, w]);
  t.true(shared.frc[3] > 0.8, `${shared.frc[3]}`);
  t.true(shared.halfBitCrossing !== null && shared.halfBitCrossing > 0.05 && shared.halfBitCrossing < 0.5);
  t.true(near(shared.resolution!, 1 / (2 * shared.halfBitCrossing!), 1e-12));
});

const python = findPython(['numpy', 'skimage']);

// NumPy and scikit-image, written from their documentation: structural_similarity, PSNR,
// phase_cross_correlation, and an FRC from the definition of native/metrics.h.
const REFERENCE = `
import json, sys
import numpy as np
from skimage.metrics import structural_similarity, peak_signal_noise_ratio
from skimage.registration import phase_cross_correlation
x = np.load(sys.argv[1]); y = np.load(sys.argv[2]); r = float(sys.argv[3])
out = {}
out['ssim'] = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=r)
out['psnr'] = peak_signal_noise_ratio(y, x, data_range=r)
out['shift'] = [float(v) for v in phase_cross_correlation(y, x, upsample_factor=100, normalization=None)[0]]
h, w = x.shape; L = min(h, w)
win = np.outer(np.hanning(h), np.hanning(w))
fx = np.fft.fft2((x - x.mean()) * win); fy = np.fft.fft2((y - y.mean()) * win)
q = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
ring = np.rint(q * L).astype(int)
frc = []
for k in range(L // 2 + 1):
    m = ring == k
    frc.append(float(np.real(np.sum(fx[m] * np.conj(fy[m]))) / np.sqrt(np.sum(np.abs(fx[m]) ** 2) * np.sum(np.abs(fy[m]) ** 2))))
out['frc'] = frc
print(json.dumps(out))
`;

test('SSIM, PSNR, FRC and registration agree with scikit-image and NumPy', async (t) => {
  if (!python) {
    t.log('no python3 with numpy and scikit-image (python3 -m pip install numpy scikit-image)');
    t.pass();
    return;
  }
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'ptpinn-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [h, w] = [90, 77]; // not square, odd: the ring and window conventions show
  const noise = new Rng(11);
  const y = realImage(h, w, (i, j) => scene(i + 20, j + 30));
  const x = realImage(h, w, (i, j) => scene(i + 20.4, j + 29.3) + 0.3 * noise.normal());
  const write = (name: string, data: Float64Array) => {
    const path = join(dir, name);
    writeFileSync(path, encodeNpy({ dtype: 'float64', shape: [h, w], data }));
    return path;
  };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of y) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const range = hi - lo;
  const expected = JSON.parse(runPython(python, REFERENCE, [write('x.npy', x), write('y.npy', y), String(range)]));
  t.true(near(ssim(x, y, [h, w], range), expected.ssim, 1e-9), `${ssim(x, y, [h, w], range)} vs ${expected.ssim}`);
  const curve = frc(x, y, [h, w]);
  t.is(curve.frc.length, expected.frc.length);
  for (const [k, v] of curve.frc.entries()) t.true(near(v, expected.frc[k], 1e-9), `ring ${k}: ${v} vs ${expected.frc[k]}`);
  const [sy, sx] = registerShift(y, x, [h, w]);
  t.true(near(sy, expected.shift[0], 0.011) && near(sx, expected.shift[1], 0.011), `${sy}, ${sx} vs ${expected.shift}`);

  // the scores compare reports are those of its aligned images, by scikit-image's definitions
  const truth = object(200);
  const recon = object(200, { shift: [0.6, -1.3], scale: 0.8 });
  recon.data.forEach((v, k) => { recon.data[k] = v + 0.05 * noise.normal(); });
  const c = await compareObjects(recon, [0, 0], truth, { region: { top: 40, left: 60, bottom: 129, right: 136 } });
  const [ih, iw] = c.images.amplitude.shape;
  const image = (name: string, data: Float32Array) => {
    const path = join(dir, name);
    writeFileSync(path, encodeNpy({ dtype: 'float64', shape: [ih, iw], data: Float64Array.from(data) }));
    return path;
  };
  for (const part of ['amplitude', 'phase'] as const) {
    const reference = part === 'amplitude' ? c.images.referenceAmplitude : c.images.referencePhase;
    const scores = JSON.parse(runPython(python, REFERENCE, [image('a.npy', c.images[part].data), image('b.npy', reference.data),
      String(c[part].dataRange)]));
    t.true(near(c[part].ssim, scores.ssim, 1e-6), `${part} ssim ${c[part].ssim} vs ${scores.ssim}`);
    t.true(near(c[part].psnr!, scores.psnr, 1e-6), `${part} psnr ${c[part].psnr} vs ${scores.psnr}`);
    for (const [k, v] of c[part].frc.frc.entries()) t.true(near(v, scores.frc[k], 1e-6), `${part} ring ${k}`);
  }
});

test('pearson is 1, -1 and 0 where it should be', (t) => {
  t.true(Math.abs(pearson([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
  t.true(Math.abs(pearson([1, 2, 3], [3, 2, 1]) + 1) < 1e-12);
  t.is(pearson([1, 1, 1], [1, 2, 3]), 0);
});
