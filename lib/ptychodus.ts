// What ptychodus hands a reconstructor and expects back (its api/reconstructor.py of 2025:
// ReconstructInput, ReconstructOutput, TrainOutput, LossValue), in JavaScript's spelling, and the
// conversions to and from this package's datasets: counts to amplitudes, bad pixels, positions in
// metres to object pixels, and the reconstruction back onto ptychodus' object grid.
import { type Dataset, DatasetError, SUPPORTED_SIZES, badPixelMask, fillBadPixels } from './dataset.js';
import type { ComplexArray, NdArray } from './ndarray.js';
import { shapeText } from './ndarray.js';

/** The object's grid: its pixel size and the position of its centre, in metres. */
export interface ObjectGeometry {
  pixelWidthM: number;
  pixelHeightM: number;
  centerXM: number;
  centerYM: number;
}

/** ptychodus' ReconstructInput: its diffraction patterns, bad pixels and product. */
export interface ReconstructInput {
  /** (n, H, W) measured intensities (counts), any real dtype. */
  diffractionPatterns: NdArray;
  /** (H, W): nonzero (true) marks a bad pixel, as ptychodus' BadPixels. */
  badPixels?: NdArray;
  /** The probe, complex (H, W), or (..., H, W) of modes: the first is used. */
  probe: NdArray;
  /** The object, complex (H, W) or (layers, H, W): its first layer is the starting guess. */
  object: NdArray;
  objectGeometry: ObjectGeometry;
  /** Scan positions in metres (ptychodus' ProbePosition.coordinate_x_m / _y_m). */
  positionsXM: ArrayLike<number>;
  positionsYM: ArrayLike<number>;
}

/** One epoch's loss, as ptychodus plots it. */
export interface LossValue {
  epoch: number;
  value: number;
}

/** ptychodus' ReconstructOutput: the object on the input's grid, the losses, progress and a result code. */
export interface ReconstructOutput {
  object: ComplexArray;
  objectGeometry: ObjectGeometry;
  losses: LossValue[];
  progress: number;
  result: number;
}

/** ptychodus' TrainOutput. */
export interface TrainOutput {
  trainingLoss: LossValue[];
  validationLoss: LossValue[];
  result: number;
}

const SOURCE = 'ptychodus input';

function fail(field: string, message: string): never {
  throw new DatasetError(SOURCE, field, message);
}

function isComplex(a: NdArray): boolean {
  return a.dtype === 'complex64' || a.dtype === 'complex128';
}

/** The last two axes of a complex array, first entry of every leading axis, as complex64 (H, W). */
function firstPlane(a: NdArray, field: string): ComplexArray {
  if (!isComplex(a) || a.shape.length < 2) fail(field, `expected a complex array (..., H, W), found ${a.dtype} ${shapeText(a.shape)}`);
  const [h, w] = a.shape.slice(-2);
  const data = Float32Array.from(a.data.subarray(0, 2 * h * w) as ArrayLike<number>);
  if (!data.every(Number.isFinite)) fail(field, 'holds a value that is not finite');
  return { dtype: 'complex64', shape: [h, w], data };
}

/** Amplitudes from counts (negative counts, left by a background subtraction, as 0), bad pixels filled. */
function amplitudes(patterns: NdArray, bad: Uint8Array | undefined): Float32Array {
  const [count, n] = patterns.shape;
  const source = patterns.data as ArrayLike<number>;
  const out = new Float32Array(count * n * n);
  for (let k = 0; k < out.length; k++) {
    if (bad?.[k % (n * n)]) continue;
    const v = Number(source[k]);
    if (!Number.isFinite(v)) fail('diffractionPatterns', `holds a value that is not finite at element ${k}`);
    out[k] = Math.sqrt(Math.max(v, 0));
  }
  if (bad) fillBadPixels(out, count, n, bad);
  return out;
}

/**
 * A dataset of this package from ptychodus' input: amplitudes (square roots of the counts, bad
 * pixels filled from their neighbours), the first probe mode, the object's first layer as an
 * initial guess (never as ground truth), and the positions in the object's pixels as ptychodus'
 * ObjectGeometry maps them: x_px = (x_m - centre_x) / pixel_width + W / 2.
 */
export function datasetFromInput(input: ReconstructInput): Dataset {
  const patterns = input.diffractionPatterns;
  if (isComplex(patterns) || patterns.dtype === 'bool' || patterns.shape.length !== 3) {
    fail('diffractionPatterns', `expected real (n, H, W) intensities, found ${patterns.dtype} ${shapeText(patterns.shape)}`);
  }
  const [count, h, w] = patterns.shape;
  if (h !== w || !(SUPPORTED_SIZES as readonly number[]).includes(h)) {
    fail('diffractionPatterns', `patterns must be square, 64, 128 or 256 pixels; these are ${h} x ${w} (crop or bin them in ptychodus)`);
  }
  let bad: Uint8Array | undefined;
  if (input.badPixels) {
    if (input.badPixels.shape.join() !== `${h},${w}`) fail('badPixels', `expected (${h}, ${w}) like the patterns, found ${shapeText(input.badPixels.shape)}`);
    bad = badPixelMask(input.badPixels);
  }
  const probe = firstPlane(input.probe, 'probe');
  if (probe.shape.join() !== `${h},${w}`) fail('probe', `expected ${h} x ${w} like the patterns, found ${shapeText(probe.shape)}`);
  const object = firstPlane(input.object, 'object');
  const g = input.objectGeometry;
  for (const key of ['pixelWidthM', 'pixelHeightM'] as const) {
    if (!(g[key] > 0) || !Number.isFinite(g[key])) fail(`objectGeometry.${key}`, `expected a positive size in metres, found ${g[key]}`);
  }
  for (const key of ['centerXM', 'centerYM'] as const) {
    if (!Number.isFinite(g[key])) fail(`objectGeometry.${key}`, `expected a finite position in metres, found ${g[key]}`);
  }
  if (input.positionsXM.length !== count || input.positionsYM.length !== count) {
    fail('positionsXM', `expected ${count} positions (one a pattern), found ${input.positionsXM.length} x and ${input.positionsYM.length} y`);
  }
  const [oh, ow] = object.shape;
  const xcoords = Float64Array.from(input.positionsXM, (x) => (x - g.centerXM) / g.pixelWidthM + ow / 2);
  const ycoords = Float64Array.from(input.positionsYM, (y) => (y - g.centerYM) / g.pixelHeightM + oh / 2);
  if (!xcoords.every(Number.isFinite) || !ycoords.every(Number.isFinite)) fail('positionsXM', 'a position is not finite');
  return {
    source: SOURCE,
    diffraction: { dtype: 'float32', shape: [count, h, w], data: amplitudes(patterns, bad) },
    probe, xcoords, ycoords, objectGuess: object, objectKind: 'initial guess',
  };
}

/**
 * The stitched object (origin = the object pixel of its [0, 0]) on the input object's grid: where
 * the scan reached, the reconstruction; elsewhere the input's own values, as ptychodus' iterative
 * reconstructors leave what they never illuminated.
 */
export function objectOnInputGrid(stitched: ComplexArray, origin: [number, number], input: ReconstructInput): ComplexArray {
  const start = firstPlane(input.object, 'object');
  const [oh, ow] = start.shape;
  const [sh, sw] = stitched.shape;
  const data = Float32Array.from(start.data);
  for (let r = 0; r < oh; r++) {
    const i = r - origin[0];
    if (i < 0 || i >= sh) continue;
    for (let c = 0; c < ow; c++) {
      const j = c - origin[1];
      if (j < 0 || j >= sw) continue;
      const re = stitched.data[2 * (i * sw + j)];
      const im = stitched.data[2 * (i * sw + j) + 1];
      // the stitch leaves 0 where no patch weighed in
      if (re === 0 && im === 0) continue;
      data[2 * (r * ow + c)] = re;
      data[2 * (r * ow + c) + 1] = im;
    }
  }
  return { dtype: 'complex64', shape: [oh, ow], data };
}
