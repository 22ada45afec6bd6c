// Comparison of a reconstruction with a reference object (SPEC section 10): sub-pixel
// registration, removal of the global phase offset and linear ramp, amplitude scale matching,
// then MAE, RMSE, PSNR, SSIM and FRC of amplitude and phase. The arithmetic is in the metrics
// addon (native/metrics/), which links no LibTorch; here are the geometry, the defaults and the units.
import { metricsAddon } from './binding.js';
import { ArgumentError } from './errors.js';
import { runNative } from './jobs.js';
import { type ComplexArray, type FloatArray, shapeText } from './ndarray.js';

/** A box of object coordinates, bounds included. */
export interface Region {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** A Fourier ring correlation curve with the half-bit threshold and its crossing. */
export interface FrcCurve {
  /** Ring centres, cycles per pixel (0 to 0.5). */
  frequency: number[];
  frc: number[];
  /** The half-bit threshold of each ring (van Heel and Schatz 2005). */
  halfBit: number[];
  /** Fourier pixels in each ring. */
  pixels: number[];
  /** Where the curve first falls below the half-bit threshold, cycles per pixel (null: never). */
  halfBitCrossing: number | null;
  /** The same for the 1/7 threshold. */
  seventhCrossing: number | null;
  /** Half-period resolution at the half-bit crossing, pixels: 1 / (2 x crossing); null: better than 1 px. */
  resolution: number | null;
}

/** Scores of one image (amplitude or phase) against the reference. */
export interface Scores {
  mae: number;
  rmse: number;
  /** 10 log10(range^2 / MSE) with the reference's range; null when the images are identical. */
  psnr: number | null;
  ssim: number;
  /** Pearson's correlation over the compared pixels. */
  correlation: number;
  /** Max - min of the reference over the compared pixels: PSNR's and SSIM's data range. */
  dataRange: number;
  frc: FrcCurve;
}

/** A reconstruction against a reference object, after registration, phase offset and ramp removal and amplitude scaling. */
export interface Comparison {
  /** The box compared, in the reference's object coordinates. */
  region: Region;
  /** Shift (rows, columns) applied to the reconstruction to match the reference, sub-pixel. */
  shift: [number, number];
  /** Global phase removed from the reconstruction, radians. */
  phaseOffset: number;
  /** Linear phase ramp removed, radians per pixel along (rows, columns). */
  phaseRamp: [number, number];
  /** Factor the reconstruction's amplitude was multiplied by (least squares). */
  amplitudeScale: number;
  /** Pixels compared: those the reconstruction covers, inside the region. */
  pixels: number;
  /** |<a, b>| / (|a| |b|) of the aligned complex objects. */
  complexCorrelation: number;
  amplitude: Scores;
  /** Phases compared wrapped, both centred on the reference's mean phase. */
  phase: Scores;
}

/** The aligned images over the region, for pictures of the comparison. */
export interface AlignedImages {
  amplitude: FloatArray;
  referenceAmplitude: FloatArray;
  phase: FloatArray;
  referencePhase: FloatArray;
  /** 1 where the reconstruction covers the pixel. */
  covered: FloatArray;
}

/** How `compareObjects` aligns and where it scores. */
export interface CompareOptions {
  /** Object coordinates (row, column) of the reference's pixel [0, 0] (default 0, 0). */
  referenceOrigin?: [number, number];
  /** The box to compare, object coordinates (default: the overlap, less 1/16 at each edge). */
  region?: Region;
  /** Register by a sub-pixel shift (default true). */
  registration?: boolean;
  /** Largest shift searched, pixels (default 8). */
  maxShift?: number;
  /** Registration precision 1 / upsample pixels (default 100). */
  upsample?: number;
  /** Remove a linear phase ramp besides the offset (default true). */
  removeRamp?: boolean;
}

function halfPeriod(crossing: number | null): number | null {
  return crossing === null ? null : 1 / (2 * crossing);
}

/**
 * Compares a reconstruction (its pixel [0, 0] at object coordinates `origin`) with a reference
 * object, both complex (H, W). Pixels of the reconstruction that are exactly 0 count as not covered.
 */
export async function compareObjects(recon: ComplexArray, origin: [number, number], reference: ComplexArray,
  options: CompareOptions = {}): Promise<Comparison & { images: AlignedImages }> {
  for (const [name, a] of [['reconstruction', recon], ['reference', reference]] as const) {
    if (a.dtype !== 'complex64' || a.shape.length !== 2 || a.data.length !== 2 * a.shape[0] * a.shape[1]) {
      throw new ArgumentError(`the ${name} must be a complex64 (H, W) object, got ${a.dtype} ${shapeText(a.shape)}`);
    }
  }
  const [ro, co] = options.referenceOrigin ?? [0, 0];
  if (![...origin, ro, co].every(Number.isInteger)) {
    throw new ArgumentError(`object origins must be whole pixels, got ${origin.join(', ')} and ${ro}, ${co}`);
  }
  // the overlap of the two, in object coordinates
  const top = Math.max(origin[0], ro);
  const left = Math.max(origin[1], co);
  const bottom = Math.min(origin[0] + recon.shape[0], ro + reference.shape[0]) - 1;
  const right = Math.min(origin[1] + recon.shape[1], co + reference.shape[1]) - 1;
  const inset = (lo: number, hi: number) => Math.floor((hi - lo + 1) / 16);
  const region = options.region ?? {
    top: top + inset(top, bottom), bottom: bottom - inset(top, bottom),
    left: left + inset(left, right), right: right - inset(left, right),
  };
  const box = {
    top: Math.max(region.top, ro), left: Math.max(region.left, co),
    bottom: Math.min(region.bottom, ro + reference.shape[0] - 1), right: Math.min(region.right, co + reference.shape[1] - 1),
  };
  const height = box.bottom - box.top + 1;
  const width = box.right - box.left + 1;
  if (!(height >= 16 && width >= 16)) {
    throw new ArgumentError(`the compared region (rows ${box.top} to ${box.bottom}, columns ${box.left} to ${box.right}) ` +
      'is smaller than 16 x 16 pixels: the reconstruction and the reference barely overlap');
  }
  // one thread: the metrics addon's arithmetic is plain C++
  const raw = await runNative('compare', 1, () => metricsAddon().binding.compareObjects(recon.data, recon.shape, reference.data,
    reference.shape, {
      offsetRow: origin[0] - ro, offsetCol: origin[1] - co,
      top: box.top - ro, left: box.left - co, height, width,
      registration: options.registration ?? true, maxShift: options.maxShift ?? 8,
      upsample: options.upsample ?? 100, removeRamp: options.removeRamp ?? true,
    }));
  const scores = (s: typeof raw.amplitude): Scores => ({ ...s, frc: { ...s.frc, resolution: halfPeriod(s.frc.halfBitCrossing) } });
  const image = (data: Float32Array): FloatArray => ({ dtype: 'float32', shape: [height, width], data });
  return {
    region: box,
    shift: raw.shift,
    phaseOffset: raw.phaseOffset,
    phaseRamp: raw.phaseRamp,
    amplitudeScale: raw.amplitudeScale,
    pixels: raw.pixels,
    complexCorrelation: raw.complexCorrelation,
    amplitude: scores(raw.amplitude),
    phase: scores(raw.phase),
    images: {
      amplitude: image(raw.images.amplitudeA), referenceAmplitude: image(raw.images.amplitudeB),
      phase: image(raw.images.phaseA), referencePhase: image(raw.images.phaseB), covered: image(raw.images.covered),
    },
  };
}

function realImages(x: FloatArray | Float64Array, y: FloatArray | Float64Array, shape: [number, number]): [Float64Array, Float64Array] {
  const f = (a: FloatArray | Float64Array) => Float64Array.from(a instanceof Float64Array ? a : a.data);
  const [a, b] = [f(x), f(y)];
  if (a.length !== shape[0] * shape[1] || b.length !== a.length) {
    throw new ArgumentError(`both images must hold ${shape[0]} x ${shape[1]} values, got ${a.length} and ${b.length}`);
  }
  return [a, b];
}

/** Mean SSIM of two real images (11 x 11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03). */
export function ssim(x: FloatArray | Float64Array, y: FloatArray | Float64Array, shape: [number, number], dataRange: number): number {
  const [a, b] = realImages(x, y, shape);
  return metricsAddon().binding.ssim(a, b, shape, dataRange);
}

/** Fourier ring correlation of two real images, with the half-bit and 1/7 crossings. */
export function frc(x: FloatArray | Float64Array, y: FloatArray | Float64Array, shape: [number, number]): FrcCurve {
  const [a, b] = realImages(x, y, shape);
  const curve = metricsAddon().binding.frc(a, b, shape);
  return { ...curve, resolution: halfPeriod(curve.halfBitCrossing) };
}

/** The shift (rows, columns) that registers `moving` onto `reference`, to 1 / upsample pixel. */
export function registerShift(reference: FloatArray | Float64Array, moving: FloatArray | Float64Array,
  shape: [number, number], options: { maxShift?: number; upsample?: number } = {}): [number, number] {
  const [a, b] = realImages(reference, moving, shape);
  return metricsAddon().binding.registerShift(a, b, shape, options.maxShift ?? Math.max(shape[0], shape[1]), options.upsample ?? 100);
}

/** Pearson's correlation coefficient of two equally long series (0 when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let k = 0; k < n; k++) { ma += a[k] / n; mb += b[k] / n; }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < n; k++) {
    ab += (a[k] - ma) * (b[k] - mb);
    aa += (a[k] - ma) ** 2;
    bb += (b[k] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
