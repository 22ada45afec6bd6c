// The bundled data: the real probe, object and scan of run 1084 (fixtures/README.md), and the
// recipe that simulates the fixture dataset from them, shared by the fixture script and the demo.
import { join } from 'node:path';
import { packageRoot } from './binding.js';
import type { Dataset } from './dataset.js';
import type { ComplexArray, NdArray } from './ndarray.js';
import { readNpz } from './npz.js';
import { Rng } from './random.js';
import { simulate } from './simulation.js';

export const fixtureFiles = {
  source: join(packageRoot(), 'fixtures', 'run1084_source.npz'),
  dataset: join(packageRoot(), 'fixtures', 'run1084_sim.npz'),
};

export const FIXTURE_RECIPE = {
  /** Patterns kept: a seeded subset of the 1087 real positions, in file order. */
  patterns: 512,
  photons: 1e6,
  seed: 1084,
};

export interface Run1084Source {
  probe: ComplexArray;
  object: ComplexArray;
  x: Float64Array;
  y: Float64Array;
}

const complex64 = (a: NdArray): ComplexArray =>
  ({ dtype: 'complex64', shape: a.shape, data: a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array) });

export async function readRun1084(path = fixtureFiles.source): Promise<Run1084Source> {
  const s = await readNpz(path, ['probeGuess', 'objectGuess', 'xcoords', 'ycoords']);
  return { probe: complex64(s.probeGuess), object: complex64(s.objectGuess), x: s.xcoords.data as Float64Array, y: s.ycoords.data as Float64Array };
}

/** The fixture's dataset: `patterns` of the real positions, Poisson noise at `photons`, seeded. */
export async function simulateRun1084(source: Run1084Source, recipe = FIXTURE_RECIPE,
  threads?: number): Promise<Dataset> {
  const keep = Array.from(new Rng(recipe.seed).sampleWithoutReplacement(source.x.length, recipe.patterns)).sort((a, b) => a - b);
  const positions = { x: Float64Array.from(keep, (i) => source.x[i]), y: Float64Array.from(keep, (i) => source.y[i]) };
  const { dataset } = await simulate(source.object, source.probe, positions, { photons: recipe.photons, seed: recipe.seed, threads });
  return dataset;
}
