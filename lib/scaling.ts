// The intensity scale of SPEC section 4: the network sees X / s, where s makes the mean total
// intensity of a normalised pattern (N/2)^2.
import { ArgumentError } from './errors.js';

/**
 * s = sqrt(mean over the chosen patterns of sum over pixels X^2) / (N/2), with `diffraction` the
 * measured amplitudes X (n, N, N) and `indices` the grouped patterns, repeats counted as they
 * occur (default: every pattern once). Sums are float64 whatever the input precision.
 */
export function intensityScale(diffraction: Float32Array | Float64Array, patternSize: number, indices?: ArrayLike<number>): number {
  const what = 'intensity scale';
  const { size, n } = patternsOf(diffraction, patternSize, what);
  const count = indices ? indices.length : n;
  if (count === 0) throw new ArgumentError(`${what}: no diffraction patterns were chosen`);
  // a pattern's total is computed once however often groups repeat it
  const totals = new Float64Array(n).fill(NaN);
  const total = (p: number) => {
    checkIndex(p, n, what);
    if (Number.isNaN(totals[p])) {
      let t = 0;
      for (let i = p * size; i < (p + 1) * size; i++) t += diffraction[i] * diffraction[i];
      totals[p] = t;
    }
    return totals[p];
  };
  let sum = 0;
  for (let j = 0; j < count; j++) sum += total(indices ? indices[j] : j);
  return scaleFromSum(sum, count, patternSize);
}

/**
 * The intensity scale from the sum of squared amplitudes over `count` chosen patterns (a pattern
 * chosen twice counted twice): what `intensityScale` computes, for callers that sum as they read.
 */
export function scaleFromSum(sum: number, count: number, patternSize: number): number {
  const scale = Math.sqrt(sum / count) / (patternSize / 2);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new ArgumentError(`the intensity scale is ${scale}: the chosen diffraction patterns ${scale === 0 ? 'hold no light (all zero)' : 'hold non-finite values'}`);
  }
  return scale;
}

/**
 * Per-pixel mean and standard deviation of the chosen patterns divided by `scale` (each pattern
 * once, however often groups repeat it), the standard deviation plus `floor` so that a pixel no
 * pattern lights gives 0, not 0 / 0. The network then sees how a pattern differs from the others
 * at every pixel on one footing: with a compact far field (a pinhole probe) the differences that
 * tell patches apart are a small part of a few bright pixels' values.
 */
export function inputNormalization(diffraction: Float32Array | Float64Array, patternSize: number, scale: number,
  indices: ArrayLike<number>, floor = 1e-3): { mean: Float32Array; std: Float32Array } {
  const what = 'input normalisation';
  const { size, n } = patternsOf(diffraction, patternSize, what);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ArgumentError(`${what}: the scale must be positive and finite, got ${scale}`);
  const chosen = [...new Set(Array.from(indices))];
  if (chosen.length === 0) throw new ArgumentError(`${what}: no diffraction patterns were chosen`);
  const sum = new Float64Array(size);
  const squares = new Float64Array(size);
  for (const p of chosen) {
    checkIndex(p, n, what);
    for (let i = 0; i < size; i++) {
      const v = diffraction[p * size + i] / scale;
      sum[i] += v;
      squares[i] += v * v;
    }
  }
  const mean = new Float32Array(size);
  const std = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const m = sum[i] / chosen.length;
    mean[i] = m;
    std[i] = Math.sqrt(Math.max(0, squares[i] / chosen.length - m * m)) + floor;
  }
  return { mean, std };
}

/** Pixels per pattern and the number of patterns, or an error when the values are not whole patterns. */
function patternsOf(diffraction: ArrayLike<number>, patternSize: number, what: string): { size: number; n: number } {
  const size = patternSize * patternSize;
  if (!Number.isInteger(patternSize) || patternSize < 1 || diffraction.length % size !== 0) {
    throw new ArgumentError(`${what}: ${diffraction.length} values are not a whole number of ${patternSize} x ${patternSize} patterns`);
  }
  return { size, n: diffraction.length / size };
}

function checkIndex(p: number, n: number, what: string): void {
  if (!Number.isInteger(p) || p < 0 || p >= n) throw new ArgumentError(`${what}: pattern index ${p} is outside [0, ${n})`);
}
