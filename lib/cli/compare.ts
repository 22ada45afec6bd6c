// `ptychopinn compare A B`: the metrics of SPEC section 10 between a reconstruction A and a
// reference B (or two reconstructions, e.g. of two halves of a scan: an FRC of odd and even).
import { type Command, Option } from 'commander';
import { compareObjects, type Region } from '../metrics.js';
import { readObject } from '../objects.js';
import { writeFrcPlot } from '../outputs.js';
import { UsageError, nonNegativeNumber } from './common.js';
import { describeComparison } from './summary.js';

interface CompareFlags {
  json?: boolean;
  plot?: string;
  registration: boolean;
  ramp: boolean;
  max_shift: number;
  region?: Region;
}

function parseRegion(value: string): Region {
  const parts = value.split(',').map((v) => Number(v.trim()));
  if (parts.length !== 4 || !parts.every(Number.isInteger) || parts[2] < parts[0] || parts[3] < parts[1]) {
    throw new UsageError(`--region takes top,left,bottom,right in whole object pixels (bounds included), got '${value}'`);
  }
  const [top, left, bottom, right] = parts;
  return { top, left, bottom, right };
}

export function registerCompare(program: Command): void {
  program.command('compare')
    .description('compare a reconstruction A with a reference B: registration, phase offset and ramp, then MAE, PSNR, SSIM and FRC')
    .argument('<a>', 'the reconstruction: reconstruction.npz, an NPZ with objectGuess, or a .npy')
    .argument('<b>', 'the reference, in the same forms (its range sets PSNR and SSIM)')
    .option('--json', 'print the comparison as JSON')
    .option('--plot <png>', 'write the FRC curves to this PNG')
    .option('--no-registration', 'compare as placed, without a sub-pixel shift')
    .option('--no-ramp', 'remove only the global phase offset, not a linear ramp')
    .option('--max_shift <px>', 'largest shift searched (default 8)', nonNegativeNumber('max_shift'), 8)
    .addOption(new Option('--region <box>', 'top,left,bottom,right in object pixels (default: the scanned region, or the overlap)').argParser(parseRegion))
    .action(async (a: string, b: string, flags: CompareFlags) => runCompare(a, b, flags));
}

async function runCompare(pathA: string, pathB: string, flags: CompareFlags): Promise<void> {
  const [a, b] = [await readObject(pathA), await readObject(pathB)];
  const region = flags.region ?? a.region ?? b.region;
  const { images: _, ...c } = await compareObjects(a.object, a.origin, b.object, {
    referenceOrigin: b.origin, region, registration: flags.registration, removeRamp: flags.ramp,
    maxShift: flags.max_shift,
  });
  const result = { a: `${a.path}: ${a.key} (${a.kind})`, b: `${b.path}: ${b.key} (${b.kind})`, ...c };
  if (flags.plot) await writeFrcPlot(flags.plot, c, 'Fourier ring correlation');
  if (flags.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`A: ${result.a}`);
  console.log(`B: ${result.b}`);
  if (b.kind === 'initial guess') console.log('warning: B is constant, an initial guess: the scores say nothing about A');
  for (const line of describeComparison(c)) console.log(line);
  if (flags.plot) console.log(`FRC plot: ${flags.plot}`);
}
