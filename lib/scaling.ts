// The intensity scale of SPEC section 4: the network sees X / s, where s makes the mean total
// intensity of a normalised pattern (N/2)^2.

/**
 * s = sqrt(mean over the chosen patterns of sum over pixels X^2) / (N/2), with X the measured
 * amplitudes (n, N, N) and `patterns` the grouped pattern indices, repeats counted (default: all).
 */
export function intensityScale(diffraction: Float32Array, n: number, patterns?: ArrayLike<number>): number {
  const size = n * n;
  const count = patterns ? patterns.length : diffraction.length / size;
  const totals = new Map<number, number>();
  const total = (k: number) => {
    let t = totals.get(k);
    if (t === undefined) {
      t = 0;
      for (let i = k * size; i < (k + 1) * size; i++) t += diffraction[i] * diffraction[i];
      totals.set(k, t);
    }
    return t;
  };
  let sum = 0;
  for (let j = 0; j < count; j++) sum += total(patterns ? patterns[j] : j);
  const scale = Math.sqrt(sum / count) / (n / 2);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`the intensity scale is ${scale}: the chosen diffraction patterns hold no light (all zero) or non-finite values`);
  }
  return scale;
}
