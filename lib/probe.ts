import { addon } from './binding.js';
import { ArgumentError } from './errors.js';
import { runNative } from './jobs.js';
import type { ComplexArray } from './ndarray.js';
import type { NativeOptions } from './physics.js';
import { resolveThreads } from './threads.js';

/**
 * The probe under a soft circular mask (--probe_mask): 1 inside radius N/2 - N/16, a cosine
 * taper to 0 at N/2, 0 beyond. It keeps the physics from explaining intensity with probe tails
 * that the measured probe does not really have.
 */
export function maskProbe(probe: ComplexArray): ComplexArray {
  const n = probe.shape[0];
  const outer = n / 2;
  const inner = outer - n / 16;
  const data = new Float32Array(probe.data.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = Math.hypot(i - n / 2, j - n / 2);
      const m = r <= inner ? 1 : r >= outer ? 0 : 0.5 * (1 + Math.cos((Math.PI * (r - inner)) / (outer - inner)));
      const k = 2 * (i * n + j);
      data[k] = probe.data[k] * m;
      data[k + 1] = probe.data[k + 1] * m;
    }
  }
  return { dtype: 'complex64', shape: [n, n], data };
}

/** N of a complex64 (N, N) probe; anything else is the caller's error. */
function squareProbeSize(probe: ComplexArray): number {
  const n = probe.shape[0];
  if (probe.dtype !== 'complex64' || probe.shape.length !== 2 || probe.shape[1] !== n) {
    throw new ArgumentError(`the probe must be complex64 (N, N), got ${probe.dtype} ${probe.shape.join(' x ')}`);
  }
  return n;
}

/**
 * The probe propagated by `defocus` (Fresnel, in pixel^2 units: lambda dz / dx^2): what a probe
 * measured at one plane looks like at another, the usual way a given probe is wrong.
 */
export async function defocusProbe(probe: ComplexArray, defocus: number, options: NativeOptions = {}): Promise<ComplexArray> {
  const n = squareProbeSize(probe);
  if (!Number.isFinite(defocus)) throw new ArgumentError(`defocus must be a finite number, got ${defocus}`);
  const threads = resolveThreads(options.threads);
  const out = await runNative('propagate', threads, () => addon().binding.propagate(probe.data, n, defocus, threads));
  return { dtype: 'complex64', shape: [n, n], data: out.data };
}

/** A probe from a pinhole of `radius` pixels (soft edge), propagated by `defocus`. */
export async function pinholeProbe(n: number, radius: number, defocus: number, options: NativeOptions = {}): Promise<ComplexArray> {
  if (!Number.isInteger(n) || n < 2) throw new ArgumentError(`n must be an integer >= 2, got ${n}`);
  if (!(radius > 0 && radius < n / 2)) throw new ArgumentError(`the pinhole radius must lie in (0, ${n / 2}), got ${radius}`);
  const data = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = Math.hypot(i - n / 2, j - n / 2);
      data[2 * (i * n + j)] = Math.min(1, Math.max(0, radius + 0.5 - r)); // one pixel of edge
    }
  }
  return defocusProbe({ dtype: 'complex64', shape: [n, n], data }, defocus, options);
}

/**
 * The probe times exp(i a ((x^2 - y^2) / (N/4)^2)), x and y in pixels from the window's centre:
 * astigmatism, a phase aberration a defocus cannot undo, so a probe given with it is wrong in a way
 * that a short probe retrieval only partly corrects.
 */
export function astigmatizeProbe(probe: ComplexArray, amount: number): ComplexArray {
  const n = squareProbeSize(probe);
  if (!Number.isFinite(amount)) throw new ArgumentError(`the astigmatism must be a finite number, got ${amount}`);
  const data = new Float32Array(probe.data.length);
  const unit = n / 4;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const y = (i - n / 2) / unit;
      const x = (j - n / 2) / unit;
      const phase = amount * (x * x - y * y);
      const k = 2 * (i * n + j);
      const [re, im] = [probe.data[k], probe.data[k + 1]];
      data[k] = re * Math.cos(phase) - im * Math.sin(phase);
      data[k + 1] = re * Math.sin(phase) + im * Math.cos(phase);
    }
  }
  return { dtype: 'complex64', shape: [n, n], data };
}

/** The probe times a real factor: a probe given at the wrong intensity scale. */
export function scaleProbe(probe: ComplexArray, factor: number): ComplexArray {
  return { ...probe, shape: [...probe.shape], data: probe.data.map((v) => v * factor) };
}

/**
 * The probe scaled so that sum |P|^2 = (N/2)^2, the mean total of a pattern divided by the
 * intensity scale: the object that explains the data is then near 1 in amplitude whatever units the
 * file gives the probe in. A physically scaled probe (|P|^2 in photons) left as it is asks the
 * network for |O| ~ 0.01-0.1, far from where it starts, and training blows up or collapses.
 */
export function normalizeProbe(probe: ComplexArray): { probe: ComplexArray; factor: number } {
  const n = probe.shape[0];
  let power = 0;
  for (const v of probe.data) power += v * v;
  if (!(power > 0) || !Number.isFinite(power)) throw new ArgumentError(`the probe's power is ${power}: it must hold finite, non-zero values`);
  const factor = (n / 2) / Math.sqrt(power);
  return { probe: scaleProbe(probe, factor), factor };
}

/** |<a, b>| / (|a| |b|): 1 for the same probe up to a global phase and scale. */
export function probeOverlap(a: ComplexArray, b: ComplexArray): number {
  if (a.data.length !== b.data.length) throw new ArgumentError(`probes of shapes ${a.shape} and ${b.shape} cannot be compared`);
  let re = 0;
  let im = 0;
  let pa = 0;
  let pb = 0;
  for (let k = 0; k < a.data.length; k += 2) {
    re += a.data[k] * b.data[k] + a.data[k + 1] * b.data[k + 1];
    im += a.data[k + 1] * b.data[k] - a.data[k] * b.data[k + 1];
    pa += a.data[k] ** 2 + a.data[k + 1] ** 2;
    pb += b.data[k] ** 2 + b.data[k + 1] ** 2;
  }
  return Math.hypot(re, im) / Math.sqrt(pa * pb);
}
