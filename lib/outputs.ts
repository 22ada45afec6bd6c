// What `infer` leaves in its output folder (SPEC section 7): reconstruction.npz, the amplitude
// and phase PNGs and, when the data has a ground truth, metrics.json.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from './atomic.js';
import type { Dataset } from './dataset.js';
import { writeImage } from './images.js';
import { type Comparison, compareObjects } from './metrics.js';
import type { Reconstruction } from './model.js';
import { writeNpz } from './npz.js';

export interface WrittenOutputs {
  npz: string;
  amplitudePng: string;
  phasePng: string;
  /** The value range each PNG's colours span. */
  amplitudeRange: [number, number];
  phaseRange: [number, number];
  metrics?: string;
  comparison?: Comparison;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeAtomically(path, (temp) => writeFile(temp, JSON.stringify(value, null, 2) + '\n', { flag: 'wx' }));
}

export interface WriteOptions {
  /** Receives a warning when the metrics cannot be computed (the reconstruction is kept). */
  onWarning?: (message: string) => void;
}

export async function writeReconstruction(dir: string, r: Reconstruction, dataset: Dataset,
  options: WriteOptions = {}): Promise<WrittenOutputs> {
  const npz = join(dir, 'reconstruction.npz');
  await writeNpz(npz, {
    object: r.object,
    amplitude: r.amplitude,
    phase: r.phase,
    xcoords: { dtype: 'float64', shape: [r.xcoords.length], data: r.xcoords },
    ycoords: { dtype: 'float64', shape: [r.ycoords.length], data: r.ycoords },
    patterns: { dtype: 'int32', shape: [r.patterns.length], data: r.patterns },
    origin: { dtype: 'float64', shape: [2], data: Float64Array.from(r.origin) },
    intensity_scale: { dtype: 'float64', shape: [], data: Float64Array.of(r.intensityScale) },
  });
  const amplitudePng = join(dir, 'reconstructed_amplitude.png');
  const phasePng = join(dir, 'reconstructed_phase.png');
  const amplitudeRange = await writeImage(amplitudePng, r.amplitude);
  const phaseRange = await writeImage(phasePng, r.phase, { colormap: 'cyclic', range: [-Math.PI, Math.PI] });
  const out: WrittenOutputs = { npz, amplitudePng, phasePng, amplitudeRange, phaseRange };
  const metrics = join(dir, 'metrics.json');
  // an earlier run's metrics must not sit beside this reconstruction as if they were its own
  await rm(metrics, { force: true });
  if (dataset.objectGuess) {
    // the scanned region: where patch centres fell, so every pixel is well covered
    const bounds = (v: Float64Array) => [Math.ceil(v.reduce((m, a) => Math.min(m, a))), Math.floor(v.reduce((m, a) => Math.max(m, a)))];
    const [top, bottom] = bounds(r.ycoords);
    const [left, right] = bounds(r.xcoords);
    try {
      out.comparison = compareObjects(r.object, r.origin, dataset.objectGuess, { region: { top, left, bottom, right } });
    } catch (error) {
      options.onWarning?.(`no metrics.json: the reconstruction cannot be compared with ${dataset.source}'s objectGuess: ${(error as Error).message}`);
      return out;
    }
    out.metrics = metrics;
    await writeJson(out.metrics, { reference: `${dataset.source}: objectGuess`, region: { top, left, bottom, right }, ...out.comparison });
  }
  return out;
}
