// The intensity scale of SPEC section 4: the network sees X / s, where s makes the mean total
// intensity of a normalised pattern (N/2)^2.
import { ArgumentError } from './errors.js';

/**
 * s = sqrt(mean over the chosen patterns of sum over pixels X^2) / (N/2), with `diffraction` the
 * measured amplitudes X (n, N, N) and `indices` the grouped patterns, repeats counted as they
 * occur (default: every pattern once). Sums are float64 whatever the input precision.
 */
export function intensityScale(diffraction: Float32Array | Float64Array, patternSize: number, indices?: ArrayLike<number>): number {
  const size = patternSize * patternSize;
  if (!Number.isInteger(patternSize) || patternSize < 1 || diffraction.length % size !== 0) {
    throw new ArgumentError(`intensity scale: ${diffraction.length} values are not a whole number of ${patternSize} x ${patternSize} patterns`);
  }
  const n = diffraction.length / size;
  const count = indices ? indices.length : n;
  if (count === 0) throw new ArgumentError('intensity scale: no diffraction patterns were chosen');
  // a pattern's total is computed once however often groups repeat it
  const totals = new Float64Array(n).fill(NaN);
  const total = (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p >= n) throw new ArgumentError(`intensity scale: pattern index ${p} is outside [0, ${n})`);
    if (Number.isNaN(totals[p])) {
      let t = 0;
      for (let i = p * size; i < (p + 1) * size; i++) t += diffraction[i] * diffraction[i];
      totals[p] = t;
    }
    return totals[p];
  };
  let sum = 0;
  for (let j = 0; j < count; j++) sum += total(indices ? indices[j] : j);
  const scale = Math.sqrt(sum / count) / (patternSize / 2);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new ArgumentError(`the intensity scale is ${scale}: the chosen diffraction patterns ${scale === 0 ? 'hold no light (all zero)' : 'hold non-finite values'}`);
  }
  return scale;
}
