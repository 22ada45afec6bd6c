// The built-in iterative baseline (ePIE, rPIE) on a dataset: the canvas and pattern choice here,
// the iterations in the addon (native/iterative.cc). Same data contract, canvas convention
// (origin, 0 where nothing was reconstructed) and outputs as the PINN's reconstruction.
import { addon } from './binding.js';
import { type Dataset, checkDataset, patternCount, patternSize } from './dataset.js';
import { AbortedError, ArgumentError } from './errors.js';
import { countedProgress, runNative } from './jobs.js';
import { amplitudeAndPhase } from './model.js';
import type { ComplexArray, FloatArray } from './ndarray.js';
import type { NativeOptions } from './physics.js';
import { resolveThreads } from './threads.js';

/** ePIE, or rPIE (regularised ePIE). */
export type IterativeMethod = 'epie' | 'rpie';

/** One iteration done: its number and its error, sum (|Psi| - X)^2 / sum X^2. */
export interface IterativeProgress {
  iteration: number;
  iterations: number;
  /** sum (|Psi| - X)^2 / sum X^2 over the iteration. */
  error: number;
}

/** Options of the iterative solvers and of `refineReconstruction`. */
export interface IterativeOptions extends NativeOptions {
  method?: IterativeMethod;
  /** Passes over every pattern (default 100). */
  iterations?: number;
  /** First iteration (0-based) that refines the probe (default 5); iterations or more: keep the probe. */
  probeStart?: number;
  /** Object step: ePIE's alpha (default 1), rPIE's regularisation (default 0.1). */
  alpha?: number;
  /** Probe step (default 1). */
  beta?: number;
  /** First iteration that corrects the scan positions (default: never). */
  positionStart?: number;
  /** Order in which patterns are visited (default 42). */
  seed?: number;
  /** The first n patterns in file order (default all). */
  nImages?: number;
  /** Starting probe (default the dataset's). */
  probe?: ComplexArray;
  /** Starting object on this canvas (default 1 everywhere), e.g. a PINN reconstruction. */
  initial?: { object: ComplexArray; origin: [number, number] };
  /** Called after every iteration. */
  onProgress?: (p: IterativeProgress) => void;
  /** Aborting stops after the current batch of patterns and returns what was reached. */
  signal?: AbortSignal;
}

/** The object, the refined probe and positions, and the error per iteration of an iterative reconstruction. */
export interface IterativeReconstruction {
  method: IterativeMethod;
  object: ComplexArray;
  amplitude: FloatArray;
  phase: FloatArray;
  /** Object coordinates (row, column) of pixel [0, 0]. */
  origin: [number, number];
  /** The refined probe (N, N). */
  probe: ComplexArray;
  patterns: Int32Array;
  /** Scan positions, corrected when position correction ran. */
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** The error of each iteration done. */
  error: number[];
  stop: 'completed' | 'cancelled';
  seconds: number;
}

const positive = (v: number | undefined, name: string, fallback: number, integer = false): number => {
  const x = v ?? fallback;
  if (!(Number.isFinite(x) && x >= (integer ? 0 : Number.MIN_VALUE)) || (integer && !Number.isInteger(x))) {
    throw new ArgumentError(`${name} must be a ${integer ? 'whole number >= 0' : 'positive number'}, got ${v}`);
  }
  return x;
};

/** Reconstructs a dataset's object (and refines its probe) by ePIE or rPIE. */
export async function reconstructIterative(dataset: Dataset, options: IterativeOptions = {}): Promise<IterativeReconstruction> {
  checkDataset(dataset);
  const method = options.method ?? 'epie';
  if (method !== 'epie' && method !== 'rpie') throw new ArgumentError(`method must be epie or rpie, got ${String(method)}`);
  const iterations = positive(options.iterations, 'iterations', 100, true);
  if (iterations < 1) throw new ArgumentError('iterations must be at least 1');
  const probeStart = positive(options.probeStart, 'probeStart', 5, true);
  const alpha = positive(options.alpha, 'alpha', method === 'epie' ? 1 : 0.1);
  const beta = positive(options.beta, 'beta', 1);
  const positionStart = options.positionStart === undefined ? -1 : positive(options.positionStart, 'positionStart', 0, true);
  if (options.signal?.aborted) throw new AbortedError('the reconstruction was aborted before it started');
  const n = patternSize(dataset);
  const total = patternCount(dataset);
  const count = Math.min(options.nImages ?? total, total);
  const patterns = Int32Array.from({ length: count }, (_, i) => i);
  const probe = options.probe ?? dataset.probe;
  if (probe.shape[0] !== n || probe.shape[1] !== n) throw new ArgumentError(`the probe must be ${n} x ${n}, got ${probe.shape.join(' x ')}`);

  // the stitching canvas of SPEC section 7, with room for the position gradient's rim and for
  // positions that correction moves
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let k = 0; k < count; k++) {
    x0 = Math.min(x0, dataset.xcoords[k]); x1 = Math.max(x1, dataset.xcoords[k]);
    y0 = Math.min(y0, dataset.ycoords[k]); y1 = Math.max(y1, dataset.ycoords[k]);
  }
  const pad = positionStart >= 0 ? 8 : 2;
  const canvas = {
    originRow: Math.floor(y0) - n / 2 - pad, originCol: Math.floor(x0) - n / 2 - pad,
    height: Math.floor(y1) - Math.floor(y0) + n + 2 + 2 * pad, width: Math.floor(x1) - Math.floor(x0) + n + 2 + 2 * pad,
  };
  if (canvas.height * canvas.width > Math.max(2 ** 24, 16 * count * n * n)) {
    throw new ArgumentError(`the scan positions span ${canvas.width} x ${canvas.height} pixels for ${count} patterns of ${n} x ${n}: ` +
      'a coordinate lies far from the others (check xcoords/ycoords and their units: object pixels)');
  }
  let initial: Float32Array | undefined;
  if (options.initial) initial = onCanvas(options.initial.object, options.initial.origin, canvas);
  const positions = new Float64Array(2 * count);
  for (let k = 0; k < count; k++) {
    positions[2 * k] = dataset.xcoords[k];
    positions[2 * k + 1] = dataset.ycoords[k];
  }
  const threads = resolveThreads(options.threads);
  const started = performance.now();
  const progress = countedProgress(options.onProgress);
  const result = await runNative('iterate', threads, async () => {
    const job = addon().binding.iterate({
      diffraction: dataset.diffraction.data, nPatterns: total, patterns, positions, probe: probe.data, n, canvas, initial,
      method, iterations, probeStart, alpha, beta, positionStart, seed: options.seed ?? 42, threads,
    }, progress.report);
    const cancel = () => job.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await job.promise;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  });
  // one report per iteration done
  await progress.drained(result.error.length);
  const object: ComplexArray = { dtype: 'complex64', shape: result.objectShape, data: result.object };
  return {
    method, object, ...amplitudeAndPhase(object), origin: [canvas.originRow, canvas.originCol],
    probe: { dtype: 'complex64', shape: [n, n], data: result.probe }, patterns,
    xcoords: Float64Array.from({ length: count }, (_, k) => result.positions[2 * k]),
    ycoords: Float64Array.from({ length: count }, (_, k) => result.positions[2 * k + 1]),
    error: result.error, stop: result.cancelled ? 'cancelled' : 'completed', seconds: (performance.now() - started) / 1000,
  };
}

// An object placed on the canvas: its pixels where they overlap, 1 elsewhere (ePIE's start).
function onCanvas(object: ComplexArray, origin: [number, number], canvas: { originRow: number; originCol: number; height: number; width: number }): Float32Array {
  const out = new Float32Array(2 * canvas.height * canvas.width);
  for (let k = 0; k < out.length; k += 2) out[k] = 1;
  const [h, w] = object.shape;
  for (let i = 0; i < canvas.height; i++) {
    const r = i + canvas.originRow - origin[0];
    if (r < 0 || r >= h) continue;
    for (let j = 0; j < canvas.width; j++) {
      const c = j + canvas.originCol - origin[1];
      if (c < 0 || c >= w) continue;
      const re = object.data[2 * (r * w + c)];
      const im = object.data[2 * (r * w + c) + 1];
      if (re === 0 && im === 0) continue; // not reconstructed there
      out[2 * (i * canvas.width + j)] = re;
      out[2 * (i * canvas.width + j) + 1] = im;
    }
  }
  return out;
}

/**
 * Physics refinement of a reconstruction (the PINN's): `iterations` of ePIE or rPIE on the same
 * patterns, started from its object, the probe refined from `probeStart` (default 0: the file's
 * probe is rarely exact). The object's scale needs no care: the probe's power constraint makes an
 * object of mean amplitude near 1 (the PINN's, by its normalised probe) match the data.
 */
export async function refineReconstruction(dataset: Dataset,
  recon: { object: ComplexArray; origin: [number, number]; patterns: Int32Array },
  options: Omit<IterativeOptions, 'initial' | 'nImages'> = {}): Promise<IterativeReconstruction> {
  // the PINN's patterns, each once (groups may repeat them), in file order
  const { subset, used } = patternSubset(dataset, recon.patterns);
  const refined = await reconstructIterative(subset, { probeStart: 0, ...options, initial: { object: recon.object, origin: recon.origin } });
  return { ...refined, patterns: used };
}

/** The dataset restricted to `patterns` (file indices, repeats allowed), each once, in file order. */
export function patternSubset(dataset: Dataset, patterns: Int32Array): { subset: Dataset; used: Int32Array } {
  const used = Int32Array.from(new Set(patterns)).sort();
  const subset: Dataset = used.length === patternCount(dataset) && used.every((p, i) => p === i) ? dataset : {
    ...dataset,
    diffraction: { ...dataset.diffraction, shape: [used.length, ...dataset.diffraction.shape.slice(1)], data: gather(dataset.diffraction.data, used, patternSize(dataset) ** 2) },
    xcoords: Float64Array.from(used, (p) => dataset.xcoords[p]),
    ycoords: Float64Array.from(used, (p) => dataset.ycoords[p]),
  };
  return { subset, used };
}

function gather(data: Float32Array, rows: Int32Array, size: number): Float32Array {
  const out = new Float32Array(rows.length * size);
  for (const [i, r] of rows.entries()) out.set(data.subarray(r * size, (r + 1) * size), i * size);
  return out;
}
