// Patches in and out of the object at sub-pixel scan positions (SPEC section 7): the canvas
// geometry here, the arithmetic in the addon; and CanvasSum, the streamed stitch in JavaScript
// for inference without the addon (the ONNX backend).
import { type NativeCanvas, addon } from './binding.js';
import { type ComplexArray, elementCount, shapeText } from './ndarray.js';
import type { NativeOptions } from './physics.js';
import { runNative } from './jobs.js';
import { resolveThreads } from './threads.js';
import { ArgumentError } from './errors.js';

/** A stitched complex object and where its pixel [0, 0] lies in object coordinates. */
export interface StitchedObject {
  /** Complex object (H, W). */
  object: ComplexArray;
  /** Object coordinates (row, column) of canvas pixel [0, 0]. */
  origin: [number, number];
}

/** How patches are weighted and averaged into the object. */
export interface StitchOptions extends NativeOptions {
  /** Per-pixel weights (N, N) of every patch; default: 1 in the central N/2 x N/2, else 0. */
  weights?: Float32Array;
  /** Pixels whose summed weight is below floor x the largest are 0 (default 1e-3). */
  floor?: number;
  /**
   * Align the patches' phases before stitching: `groups` (K) names each patch's group (patches of
   * one group share a phase), `passes` rounds of stitch-and-turn (default 3).
   */
  align?: { groups: Int32Array; passes?: number };
}

/** Weights that count only the central N/2 x N/2 of a patch. */
export function centerWeights(n: number): Float32Array {
  const w = new Float32Array(n * n);
  for (let i = n / 4; i < (3 * n) / 4; i++) w.fill(1, i * n + n / 4, i * n + (3 * n) / 4);
  return w;
}

/** Weights |probe|^2, normalised to a maximum of 1. */
export function probeWeights(probe: ComplexArray): Float32Array {
  const n = probe.shape[0];
  const w = new Float32Array(n * n);
  let max = 0;
  for (let k = 0; k < n * n; k++) {
    w[k] = probe.data[2 * k] ** 2 + probe.data[2 * k + 1] ** 2;
    max = Math.max(max, w[k]);
  }
  return max > 0 ? w.map((v) => v / max) : w;
}

function checkPositions(x: Float64Array, y: Float64Array, count: number): void {
  if (x.length !== count || y.length !== count) {
    throw new ArgumentError(`need ${count} positions, got ${x.length} x and ${y.length} y`);
  }
  for (let k = 0; k < count; k++) {
    if (!Number.isFinite(x[k]) || !Number.isFinite(y[k])) {
      throw new ArgumentError(`position ${k} is not finite: (${x[k]}, ${y[k]})`);
    }
  }
}

export function interleave(x: Float64Array, y: Float64Array): Float64Array {
  const out = new Float64Array(2 * x.length);
  for (let k = 0; k < x.length; k++) {
    out[2 * k] = x[k];
    out[2 * k + 1] = y[k];
  }
  return out;
}

/**
 * The canvas of patches N x N at positions (x, y): every position plus N/2 on each side (one pixel
 * more for the sub-pixel spill).
 */
export function canvasFor(x: Float64Array, y: Float64Array, n: number): NativeCanvas {
  const k = x.length;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < k; i++) {
    x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]);
    y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
  }
  const originRow = Math.floor(y0) - n / 2;
  const originCol = Math.floor(x0) - n / 2;
  const canvas = {
    originRow, originCol,
    height: Math.floor(y1) - Math.floor(y0) + n + 2,
    width: Math.floor(x1) - Math.floor(x0) + n + 2,
  };
  // A canvas far larger than all patches together can only come from a stray coordinate: refuse it
  // before allocating gigabytes (the canvas holds 12 bytes a pixel).
  const area = canvas.height * canvas.width;
  if (area > Math.min(2 ** 28, Math.max(2 ** 24, 16 * k * n * n))) {
    throw new ArgumentError(`the scan positions span ${canvas.width} x ${canvas.height} pixels (x ${x0} to ${x1}, y ${y0} to ${y1}) ` +
      `for ${k} patches of ${n} x ${n}: a coordinate lies far from the others (check xcoords/ycoords and their units: object pixels)`);
  }
  return canvas;
}

/**
 * Stitch patches (K, N, N) at positions (x, y): the canvas covers every position plus N/2 on
 * each side (one pixel more for the sub-pixel spill).
 */
export async function stitch(patches: ComplexArray, x: Float64Array, y: Float64Array,
  options: StitchOptions = {}): Promise<StitchedObject> {
  const [k, n, m] = patches.shape;
  if (patches.dtype !== 'complex64' || patches.shape.length !== 3 || n !== m || k < 1) {
    throw new ArgumentError(`patches must be complex64 (K, N, N), got ${patches.dtype} ${shapeText(patches.shape)}`);
  }
  checkPositions(x, y, k);
  const weights = options.weights ?? centerWeights(n);
  if (weights.length !== n * n) throw new ArgumentError(`weights must hold ${n} x ${n} values, got ${weights.length}`);
  const canvas = canvasFor(x, y, n);
  const threads = resolveThreads(options.threads);
  const align = options.align;
  if (align && align.groups.length !== k) throw new ArgumentError(`align.groups must name the group of each of the ${k} patches, got ${align.groups.length}`);
  const out = await runNative('stitch', threads, () => addon().binding.stitch(patches.data, patches.shape,
    interleave(x, y), weights, canvas, options.floor ?? 1e-3, threads,
    align ? { groups: align.groups, passes: align.passes ?? 3 } : undefined));
  return { object: { dtype: 'complex64', shape: out.shape, data: out.data }, origin: [canvas.originRow, canvas.originCol] };
}

/** The N x N patches of an object (H, W) centred at positions (x, y), bilinear between pixels. */
export async function extractPatches(object: ComplexArray, x: Float64Array, y: Float64Array, n: number,
  options: NativeOptions = {}): Promise<ComplexArray> {
  if (object.dtype !== 'complex64' || object.shape.length !== 2 || object.data.length !== 2 * elementCount(object.shape)) {
    throw new ArgumentError(`object must be complex64 (H, W), got ${object.dtype} ${shapeText(object.shape)}`);
  }
  checkPositions(x, y, x.length);
  const threads = resolveThreads(options.threads);
  const out = await runNative('extractPatches', threads, () => addon().binding.extractPatches(object.data,
    object.shape, interleave(x, y), n, threads));
  return { dtype: 'complex64', shape: out.shape, data: out.data };
}

/**
 * Running sums of a stitch in JavaScript, patches added as they come: the same bilinear splat and
 * weighted average as the addon's (native/stitching.cc), for inference that must not load it.
 */
export class CanvasSum {
  /** Per canvas pixel: weighted real, weighted imaginary, weight (float32, as the addon sums). */
  private sums: Float32Array;

  constructor(readonly canvas: NativeCanvas, private readonly weights: Float32Array, private readonly n: number) {
    if (weights.length !== n * n) throw new ArgumentError(`weights must hold ${n} x ${n} values, got ${weights.length}`);
    this.sums = new Float32Array(canvas.height * canvas.width * 3);
  }

  /**
   * Adds the patch (N, N) whose real and imaginary parts start at element `offset` of `re` and
   * `im`, centred at object position (x, y).
   */
  add(re: Float32Array, im: Float32Array, offset: number, x: number, y: number): void {
    const { n, weights, sums } = this;
    const { height: h, width: w, originRow, originCol } = this.canvas;
    const top = y - n / 2 - originRow;
    const left = x - n / 2 - originCol;
    const row0 = Math.floor(top);
    const col0 = Math.floor(left);
    if (!(row0 >= 0 && col0 >= 0 && row0 + n + 1 <= h && col0 + n + 1 <= w)) {
      throw new ArgumentError(`a patch at (${x}, ${y}) falls outside the ${h} x ${w} canvas`);
    }
    const fy = top - row0;
    const fx = left - col0;
    // the four whole-pixel neighbours of each sample: here, right, below, below right
    const f00 = (1 - fy) * (1 - fx);
    const f01 = (1 - fy) * fx;
    const f10 = fy * (1 - fx);
    const f11 = fy * fx;
    const down = 3 * w;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const weight = weights[i * n + j];
        if (weight === 0) continue;
        const k = offset + i * n + j;
        const vr = re[k] * weight;
        const vi = im[k] * weight;
        const at = ((row0 + i) * w + col0 + j) * 3;
        sums[at] += vr * f00; sums[at + 1] += vi * f00; sums[at + 2] += weight * f00;
        sums[at + 3] += vr * f01; sums[at + 4] += vi * f01; sums[at + 5] += weight * f01;
        sums[at + down] += vr * f10; sums[at + down + 1] += vi * f10; sums[at + down + 2] += weight * f10;
        sums[at + down + 3] += vr * f11; sums[at + down + 4] += vi * f11; sums[at + down + 5] += weight * f11;
      }
    }
  }

  /**
   * The running sums (H * W * 3: weighted real, weighted imaginary, weight per pixel), in the
   * layout the addon's predict continues from and returns.
   */
  get state(): Float32Array {
    return this.sums;
  }

  /** Takes over (without copying) running sums of the same canvas, such as the addon's predict returned. */
  restore(sums: Float32Array): void {
    if (sums.length !== this.sums.length) throw new ArgumentError(`the canvas's sums hold ${this.sums.length} values, got ${sums.length}`);
    this.sums = sums;
  }

  /** The complex (H, W) object: sums over weights where the weight exceeds floor x its maximum, 0 elsewhere. */
  finish(floor = 1e-3): ComplexArray {
    const { sums } = this;
    const pixels = this.canvas.height * this.canvas.width;
    let max = 0;
    for (let p = 0; p < pixels; p++) max = Math.max(max, sums[3 * p + 2]);
    const threshold = floor * max;
    const data = new Float32Array(2 * pixels);
    for (let p = 0; p < pixels; p++) {
      const weight = sums[3 * p + 2];
      if (weight > threshold) {
        data[2 * p] = sums[3 * p] / weight;
        data[2 * p + 1] = sums[3 * p + 1] / weight;
      }
    }
    return { dtype: 'complex64', shape: [this.canvas.height, this.canvas.width], data };
  }
}
