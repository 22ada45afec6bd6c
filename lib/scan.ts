// Scan patterns for simulation: where the probe visits the object, in object pixels.
import { Rng } from './random.js';
import { ArgumentError } from './errors.js';

/** Scan positions in object pixels (x: column, y: row). */
export interface ScanPositions {
  x: Float64Array;
  y: Float64Array;
}

/** The box that keeps every N x N patch, plus a margin, inside an H x W object. */
function bounds(objectShape: readonly number[], n: number, margin: number) {
  const [h, w] = objectShape;
  const lo = n / 2 + margin;
  const box = { x0: lo, y0: lo, x1: w - n / 2 - 1 - margin, y1: h - n / 2 - 1 - margin };
  if (box.x1 < box.x0 || box.y1 < box.y0) {
    throw new ArgumentError(`an object of ${h} x ${w} pixels has no room for ${n} x ${n} patches with a margin of ${margin}`);
  }
  return box;
}

/** A raster scan's grid. */
export interface RasterOptions {
  /** Distance between neighbouring positions, pixels. */
  step: number;
  /** Each position moves by up to +/- jitter pixels in x and y (uniform, seeded). */
  jitter?: number;
  seed?: number;
  /** Pixels kept free between the patches and the object's edge (default: jitter, rounded up). */
  margin?: number;
}

/** A row-by-row raster, optionally jittered. */
export function rasterScan(objectShape: readonly number[], n: number, options: RasterOptions): ScanPositions {
  const { step, jitter = 0 } = options;
  if (!(step > 0)) throw new ArgumentError(`step must be positive, got ${step}`);
  if (!(jitter >= 0)) throw new ArgumentError(`jitter must be >= 0, got ${jitter}`);
  const box = bounds(objectShape, n, options.margin ?? Math.ceil(jitter));
  const rng = new Rng(options.seed ?? 42);
  const x: number[] = [];
  const y: number[] = [];
  for (let yy = box.y0; yy <= box.y1 + 1e-9; yy += step) {
    for (let xx = box.x0; xx <= box.x1 + 1e-9; xx += step) {
      x.push(xx + jitter * (2 * rng.next() - 1));
      y.push(yy + jitter * (2 * rng.next() - 1));
    }
  }
  return { x: Float64Array.from(x), y: Float64Array.from(y) };
}

/** A Fermat spiral scan's count and step. */
export interface SpiralOptions {
  /** Number of positions. */
  count: number;
  /** Mean distance between neighbours, pixels: sets the spiral's density. */
  step: number;
  margin?: number;
}

/**
 * A Fermat spiral (r = step sqrt(k / pi), angle k x the golden angle), centred on the object: even
 * coverage with no raster periodicity, which iterative solvers and the network both prefer.
 */
export function spiralScan(objectShape: readonly number[], n: number, options: SpiralOptions): ScanPositions {
  const { count, step } = options;
  if (!Number.isInteger(count) || count < 1) throw new ArgumentError(`count must be a positive integer, got ${count}`);
  if (!(step > 0)) throw new ArgumentError(`step must be positive, got ${step}`);
  const box = bounds(objectShape, n, options.margin ?? 0);
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  const golden = Math.PI * (3 - Math.sqrt(5));
  const x = new Float64Array(count);
  const y = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const r = step * Math.sqrt(k / Math.PI);
    x[k] = cx + r * Math.cos(k * golden);
    y[k] = cy + r * Math.sin(k * golden);
    if (x[k] < box.x0 || x[k] > box.x1 || y[k] < box.y0 || y[k] > box.y1) {
      throw new ArgumentError(`a spiral of ${count} positions ${step} pixels apart leaves the object at position ${k}; use fewer positions or a smaller step`);
    }
  }
  return { x, y };
}
