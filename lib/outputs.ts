// What `infer` and `reconstruct` leave in their output folder (SPEC section 7): reconstruction.npz,
// the amplitude and phase PNGs and, when the data has a reference object, metrics.json (and an
// FRC plot); `train` adds its loss curve.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from './atomic.js';
import type { Dataset, ObjectKind } from './dataset.js';
import { type RenderOptions, writeImage } from './images.js';
import { type Comparison, type FrcCurve, type Region, compareObjects } from './metrics.js';
import type { ComplexArray, FloatArray, NdArray } from './ndarray.js';
import { writeNpz } from './npz.js';
import { type PlotSeries, writePlot } from './plots.js';

/** What any reconstruction method yields: the PINN's, ePIE's, rPIE's. */
export interface ReconstructionLike {
  object: ComplexArray;
  amplitude: FloatArray;
  phase: FloatArray;
  origin: [number, number];
  patterns: Int32Array;
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** The PINN's input scale. */
  intensityScale?: number;
  /** An iterative method's refined probe and error per iteration. */
  probe?: ComplexArray;
  error?: number[];
}

/** The files `writeReconstruction` wrote. */
export interface WrittenOutputs {
  npz: string;
  amplitudePng: string;
  phasePng: string;
  /** The value range each PNG's colours span. */
  amplitudeRange: [number, number];
  phaseRange: [number, number];
  /** The global phase removed from the phase image (amplitude-weighted mean phase), radians. */
  phaseOffset: number;
  metrics?: string;
  frcPng?: string;
  comparison?: Comparison;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeAtomically(path, (temp) => writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx' }));
}

/** How `writeReconstruction` writes. */
export interface WriteOptions {
  /** Receives a warning when the metrics cannot be computed (the reconstruction is kept). */
  onWarning?: (message: string) => void;
  threads?: number;
}

/** 1 where the object was reconstructed (stitching and the iterative solvers leave 0 elsewhere). */
export function coverage(object: ComplexArray): Uint8Array {
  const mask = new Uint8Array(object.data.length / 2);
  for (let k = 0; k < mask.length; k++) mask[k] = object.data[2 * k] !== 0 || object.data[2 * k + 1] !== 0 ? 1 : 0;
  return mask;
}

/** The amplitude-weighted mean phase of the covered pixels: the offset a person wants removed. */
export function meanPhase(object: ComplexArray): number {
  let re = 0;
  let im = 0;
  for (let k = 0; k < object.data.length; k += 2) { re += object.data[k]; im += object.data[k + 1]; }
  return Math.atan2(im, re);
}

/** The phase image (H, W) less `offset`, wrapped to (-pi, pi]. */
export function shiftedPhase(phase: FloatArray, offset: number): FloatArray {
  const data = phase.data.map((p) => {
    const q = p - offset;
    return Math.atan2(Math.sin(q), Math.cos(q));
  });
  return { ...phase, shape: [...phase.shape], data };
}

/**
 * The box of object coordinates that scan positions fall in: where every pixel is well covered. A
 * side narrower than 2 x `margin` (a scan along a line, a handful of patterns) grows by `margin`
 * each way: the patches there cover N/4 around each position (margin = N/4).
 */
export function scannedRegion(xcoords: Float64Array, ycoords: Float64Array, margin = 16): Region {
  const bounds = (v: Float64Array) => {
    const [lo, hi] = [Math.ceil(v.reduce((m, a) => Math.min(m, a))), Math.floor(v.reduce((m, a) => Math.max(m, a)))];
    return hi - lo + 1 < 2 * margin ? [lo - margin, hi + margin] : [lo, hi];
  };
  const [top, bottom] = bounds(ycoords);
  const [left, right] = bounds(xcoords);
  return { top, left, bottom, right };
}

/** The images' options, exported so that tests can predict the PNGs' sizes. */
export function imageOptions(part: 'amplitude' | 'phase', mask: Uint8Array): RenderOptions {
  return part === 'amplitude'
    ? { colormap: 'viridis', units: 'a.u.', title: 'amplitude', mask }
    : { colormap: 'cyclic', range: [-Math.PI, Math.PI], units: 'rad', title: 'phase (mean phase removed)', mask };
}

/** How metrics.json names its reference. */
export function referenceLabel(source: string, kind: ObjectKind | undefined): string {
  return `${source}: objectGuess (${kind ?? 'unknown'})`;
}

export function frcSeries(c: Comparison): PlotSeries[] {
  const curve = (f: FrcCurve, label: string): PlotSeries => ({ label, x: f.frequency.slice(1), y: f.frc.slice(1) });
  return [
    curve(c.amplitude.frc, 'amplitude'),
    curve(c.phase.frc, 'phase'),
    { label: 'half-bit', x: c.phase.frc.frequency.slice(1), y: c.phase.frc.halfBit.slice(1), dashed: true, color: [90, 90, 90] },
  ];
}

/** Writes a PNG of the amplitude and phase FRC curves of a comparison. */
export async function writeFrcPlot(path: string, c: Comparison, title = 'Fourier ring correlation'): Promise<void> {
  await writePlot(path, {
    title, xLabel: 'spatial frequency (cycles/pixel)', yLabel: 'FRC', series: frcSeries(c),
    hLines: [{ y: 1 / 7, label: '1/7' }], xRange: [0, 0.5], yRange: [Math.min(0, ...c.phase.frc.frc, ...c.amplitude.frc.frc), 1],
  });
}

/** The training curve: loss per epoch, and validation loss when there was a validation set. */
export async function writeLossPlot(path: string, history: { epochLoss: number[]; validationLoss: (number | null)[] }): Promise<void> {
  const epochs = history.epochLoss.map((_, i) => i + 1);
  const series: PlotSeries[] = [{ label: 'training', x: epochs, y: history.epochLoss }];
  if (history.validationLoss.some((v) => v !== null)) series.push({ label: 'validation', x: epochs, y: history.validationLoss });
  // the Poisson NLL without its constant is usually negative: a log axis only when it can be one
  const values = series.flatMap((s) => s.y).filter((v): v is number => v !== null && Number.isFinite(v));
  await writePlot(path, { title: 'training loss', xLabel: 'epoch', yLabel: 'loss', series, logY: values.every((v) => v > 0) });
}

/** Writes what `infer` writes into `dir` (created if missing): amplitude and phase PNGs, the object as NPZ, and, unless the dataset's objectGuess is an initial guess, the comparison and FRC plot. */
export async function writeReconstruction(dir: string, r: ReconstructionLike, dataset: Pick<Dataset, 'source' | 'probe' | 'objectGuess' | 'objectKind'>,
  options: WriteOptions = {}): Promise<WrittenOutputs> {
  await mkdir(dir, { recursive: true });
  const npz = join(dir, 'reconstruction.npz');
  const arrays: Record<string, NdArray> = {
    object: r.object,
    amplitude: r.amplitude,
    phase: r.phase,
    xcoords: { dtype: 'float64', shape: [r.xcoords.length], data: r.xcoords },
    ycoords: { dtype: 'float64', shape: [r.ycoords.length], data: r.ycoords },
    patterns: { dtype: 'int32', shape: [r.patterns.length], data: r.patterns },
    origin: { dtype: 'float64', shape: [2], data: Float64Array.from(r.origin) },
  };
  if (r.intensityScale !== undefined) arrays.intensity_scale = { dtype: 'float64', shape: [], data: Float64Array.of(r.intensityScale) };
  if (r.probe) arrays.probe = r.probe;
  if (r.error) arrays.error = { dtype: 'float64', shape: [r.error.length], data: Float64Array.from(r.error) };
  await writeNpz(npz, arrays);
  const amplitudePng = join(dir, 'reconstructed_amplitude.png');
  const phasePng = join(dir, 'reconstructed_phase.png');
  const mask = coverage(r.object);
  const phaseOffset = meanPhase(r.object);
  const amplitudeRange = await writeImage(amplitudePng, r.amplitude, imageOptions('amplitude', mask));
  const phaseRange = await writeImage(phasePng, shiftedPhase(r.phase, phaseOffset), imageOptions('phase', mask));
  const out: WrittenOutputs = { npz, amplitudePng, phasePng, amplitudeRange, phaseRange, phaseOffset };
  const metrics = join(dir, 'metrics.json');
  const frcPng = join(dir, 'frc.png');
  // an earlier run's metrics must not sit beside this reconstruction as if they were its own
  await rm(metrics, { force: true });
  await rm(frcPng, { force: true });
  if (!dataset.objectGuess) return out;
  if (dataset.objectKind === 'initial guess') {
    options.onWarning?.(`no metrics.json: ${dataset.source}'s objectGuess is constant, an initial guess rather than a reference`);
    return out;
  }
  const region = scannedRegion(r.xcoords, r.ycoords, dataset.probe.shape[0] / 4);
  try {
    const { images: _, ...comparison } = await compareObjects(r.object, r.origin, dataset.objectGuess, { region });
    out.comparison = comparison;
  } catch (error) {
    options.onWarning?.(`no metrics.json: the reconstruction cannot be compared with ${dataset.source}'s objectGuess: ${(error as Error).message}`);
    return out;
  }
  out.metrics = metrics;
  await writeJson(metrics, { reference: referenceLabel(dataset.source, dataset.objectKind), ...out.comparison });
  out.frcPng = frcPng;
  await writeFrcPlot(frcPng, out.comparison, `FRC against ${dataset.objectKind === 'ground truth' ? 'the ground truth' : 'objectGuess'}`);
  return out;
}
