// `ptychopinn simulate`: diffraction from an object and probe at scan positions (SPEC section 2).
import { type Command, Option } from 'commander';
import { resolve } from 'node:path';
import { DatasetError, saveDataset } from '../dataset.js';
import { type ComplexArray, isComplex, shapeText } from '../ndarray.js';
import { NpzFile } from '../npz.js';
import { type ScanPositions, rasterScan, spiralScan } from '../scan.js';
import { simulate } from '../simulation.js';
import { UsageError, integer, nonNegativeNumber, positiveNumber, seconds } from './common.js';
import { Reporter } from './reporter.js';

interface SimulateFlags {
  input_file: string;
  output_file: string;
  photons: number;
  scan?: 'file' | 'raster' | 'spiral';
  step: number;
  jitter: number;
  n_positions?: number;
  seed: number;
  threads?: number;
  compress?: boolean;
  quiet?: boolean;
}

export function registerSimulate(program: Command): void {
  program.command('simulate')
    .description('simulate diffraction with Poisson noise from an object and probe; writes a dataset .npz')
    .requiredOption('--input_file <file>', '.npz with objectGuess and probeGuess (and xcoords, ycoords for --scan file)')
    .requiredOption('--output_file <file>', 'the dataset to write (.npz)')
    .option('--photons <n>', 'mean photon count per pattern', positiveNumber('photons'), 1e6)
    .addOption(new Option('--scan <pattern>', 'scan positions: the input file\'s, a jittered raster or a Fermat spiral (default: file when it has positions, else spiral)').choices(['file', 'raster', 'spiral']))
    .option('--step <pixels>', 'distance between neighbouring positions (raster, spiral)', positiveNumber('step'), 4)
    .option('--jitter <pixels>', 'random offset of each raster position, up to', nonNegativeNumber('jitter'), 0)
    .option('--n_positions <n>', 'positions: spiral count, or the first n of the file\'s', integer('n_positions'))
    .option('--seed <n>', 'seed of the noise and the jitter', integer('seed', 0), 42)
    .option('--threads <n>', 'LibTorch threads (default: all cores)', integer('threads'))
    .option('--compress', 'deflate the output (np.savez_compressed)')
    .option('--quiet', 'print nothing but errors')
    .action(async (flags: SimulateFlags) => runSimulate(flags));
}

async function runSimulate(flags: SimulateFlags): Promise<void> {
  const report = new Reporter({ quiet: flags.quiet });
  const started = performance.now();
  const npz = await NpzFile.open(flags.input_file);
  let object: ComplexArray;
  let probe: ComplexArray;
  let positions: ScanPositions;
  try {
    const complex = async (key: string, dims: number): Promise<ComplexArray> => {
      if (!npz.has(key)) throw new DatasetError(flags.input_file, key, `missing (the file holds ${npz.keys.join(', ')})`);
      const a = await npz.read(key);
      if (!isComplex(a.dtype) || a.shape.length !== dims) {
        throw new DatasetError(flags.input_file, key, `must be complex with ${dims} dimensions, found ${a.dtype} ${shapeText(a.shape)}`);
      }
      return { dtype: 'complex64', shape: a.shape, data: a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array) };
    };
    object = await complex('objectGuess', 2);
    probe = await complex('probeGuess', 2);
    const hasPositions = npz.has('xcoords') && npz.has('ycoords');
    const scan = flags.scan ?? (hasPositions ? 'file' : 'spiral');
    const n = probe.shape[0];
    if (scan === 'file') {
      if (!hasPositions) throw new UsageError(`--scan file needs xcoords and ycoords in --input_file; ${flags.input_file} has neither`);
      const coord = async (key: string) => Float64Array.from((await npz.read(key)).data as ArrayLike<number>);
      const [x, y] = [await coord('xcoords'), await coord('ycoords')];
      const count = Math.min(flags.n_positions ?? x.length, x.length);
      positions = { x: x.subarray(0, count), y: y.subarray(0, count) };
    } else if (scan === 'raster') {
      positions = rasterScan(object.shape, n, { step: flags.step, jitter: flags.jitter, seed: flags.seed });
    } else {
      positions = spiralScan(object.shape, n, { count: flags.n_positions ?? 512, step: flags.step });
    }
  } finally {
    npz.close();
  }
  const { dataset, photonScale } = await simulate(object, probe, positions, { photons: flags.photons, seed: flags.seed, threads: flags.threads });
  await saveDataset(resolve(flags.output_file), dataset, { compress: flags.compress });
  report.info(`simulated ${positions.x.length} patterns of ${probe.shape[0]} x ${probe.shape[0]} at ${flags.photons} photons per pattern ` +
    `(intensity x ${photonScale.toPrecision(4)}) in ${seconds(performance.now() - started)}`);
  report.info(`dataset: ${resolve(flags.output_file)}`);
}
