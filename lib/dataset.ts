// A ptychography dataset in memory (SPEC section 2), as the rest of the package consumes it.
import type { ComplexArray, FloatArray } from './ndarray.js';

export interface Dataset {
  /** Where it came from (a file path, or a description), for messages. */
  source: string;
  /** Measured amplitudes (n, N, N), fft-shifted. */
  diffraction: FloatArray;
  /** The probe (N, N). */
  probe: ComplexArray;
  /** Scan positions in object pixels: the centre of each pattern's patch. */
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** Ground truth or a reference reconstruction (H, W). */
  objectGuess?: ComplexArray;
}

export const patternSize = (d: Dataset): number => d.diffraction.shape[1];
export const patternCount = (d: Dataset): number => d.diffraction.shape[0];
