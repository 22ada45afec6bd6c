// Simulated measurements: object + probe + scan positions -> diffraction amplitudes with Poisson
// noise at a chosen dose, as a contract-conforming dataset with the object as ground truth.
import type { Dataset } from './dataset.js';
import type { ComplexArray } from './ndarray.js';
import { type NativeOptions, diffract } from './physics.js';
import { Rng } from './random.js';
import type { ScanPositions } from './scan.js';
import { extractPatches } from './stitching.js';
import { ArgumentError } from './errors.js';

/** How `simulate` draws diffraction: photons per pattern and the noise seed. */
export interface SimulateOptions extends NativeOptions {
  /** Mean photon count per pattern after scaling (the dose). */
  photons: number;
  /** Poisson noise (default true); false gives the scaled noiseless intensities' square roots. */
  noise?: boolean;
  seed?: number;
  /** Patterns simulated per native call, to bound memory on large scans. */
  chunk?: number;
}

/** A simulated dataset and the photon scale applied to its clean patterns. */
export interface Simulation {
  dataset: Dataset;
  /** The factor that brought the mean clean pattern total to `photons`. */
  photonScale: number;
}

/**
 * Far-field patterns of `object` under `probe` at `positions`: patches cut bilinearly at the
 * positions, |FFT2(patch x probe)|^2 (orthonormal, fft-shifted), scaled so the mean total per
 * pattern is `photons`, Poisson-sampled (seeded), stored as amplitudes sqrt(counts).
 */
export async function simulate(object: ComplexArray, probe: ComplexArray, positions: ScanPositions,
  options: SimulateOptions): Promise<Simulation> {
  const { photons, noise = true, seed = 42, chunk = 256, threads } = options;
  if (!(photons > 0) || !Number.isFinite(photons)) throw new ArgumentError(`photons must be a positive number, got ${photons}`);
  const n = probe.shape[0];
  const [h, w] = object.shape;
  const count = positions.x.length;
  if (positions.y.length !== count || count === 0) {
    throw new ArgumentError(`need as many x as y positions (at least one), got ${count} and ${positions.y.length}`);
  }
  for (let k = 0; k < count; k++) {
    const [x, y] = [positions.x[k], positions.y[k]];
    // the patch's pixels, bilinear neighbours included, must lie in the object
    if (!(x - n / 2 >= 0 && y - n / 2 >= 0 && x + n / 2 <= w - 1 && y + n / 2 <= h - 1)) {
      throw new ArgumentError(`position ${k} (x ${x}, y ${y}) puts its ${n} x ${n} patch outside the ${h} x ${w} object`);
    }
  }

  const intensity = new Float32Array(count * n * n);
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    const patches = await extractPatches(object, positions.x.subarray(start, end),
      positions.y.subarray(start, end), n, { threads });
    const amplitude = await diffract(patches, probe, { threads });
    for (let i = 0; i < amplitude.data.length; i++) intensity[start * n * n + i] = amplitude.data[i] ** 2;
  }
  let total = 0;
  for (const v of intensity) total += v;
  const photonScale = photons / (total / count);
  if (!Number.isFinite(photonScale)) throw new ArgumentError('the object and probe diffract no light: every pattern is 0');

  const rng = new Rng(seed);
  const amplitudes = new Float32Array(intensity.length);
  for (let i = 0; i < intensity.length; i++) {
    const expected = intensity[i] * photonScale;
    amplitudes[i] = Math.sqrt(noise ? rng.poisson(expected) : expected);
  }
  return {
    photonScale,
    dataset: {
      source: 'simulation',
      diffraction: { dtype: 'float32', shape: [count, n, n], data: amplitudes },
      probe,
      xcoords: Float64Array.from(positions.x),
      ycoords: Float64Array.from(positions.y),
      objectGuess: object,
      objectKind: 'ground truth',
    },
  };
}

/** The spokes and size of a simulated Siemens star. */
export interface SiemensStarOptions {
  /** Spoke pairs around the circle (default 18). */
  spokes?: number;
  /** Transmission amplitude of the spokes; the background is 1 (default 0.7). */
  amplitude?: number;
  /** Phase of the spokes, radians; the background is 0 (default 1). */
  phase?: number;
}

/**
 * A Siemens star (size x size): the resolution target of X-ray microscopy. Spokes grow finer
 * towards the centre, so the radius at which they blur is the resolution. Edges are antialiased
 * (4 x 4 samples a pixel); outside the star's radius the object is background.
 */
export function siemensStar(size: number, options: SiemensStarOptions = {}): ComplexArray {
  const { spokes = 18, amplitude = 0.7, phase = 1 } = options;
  if (!Number.isInteger(size) || size < 8) throw new ArgumentError(`size must be an integer >= 8, got ${size}`);
  const data = new Float32Array(2 * size * size);
  const radius = size / 2 - 2;
  const [c, s] = [amplitude * Math.cos(phase), amplitude * Math.sin(phase)];
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let spoke = 0;
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const y = i + (a + 0.5) / 4 - size / 2;
          const x = j + (b + 0.5) / 4 - size / 2;
          if (Math.hypot(x, y) <= radius && Math.sin(spokes * Math.atan2(y, x)) > 0) spoke += 1 / 16;
        }
      }
      data[2 * (i * size + j)] = (1 - spoke) + spoke * c;
      data[2 * (i * size + j) + 1] = spoke * s;
    }
  }
  return { dtype: 'complex64', shape: [size, size], data };
}
