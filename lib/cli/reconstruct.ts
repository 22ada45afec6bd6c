// `ptychopinn reconstruct --method epie|rpie`: the built-in iterative baseline on a dataset, with
// probe refinement; the same outputs as `infer` plus the refined probe.
import { type Command, Option } from 'commander';
import { join } from 'node:path';
import { ThreadsSchema, TrainingConfigSchema } from '../config.js';
import { loadDataset } from '../dataset.js';
import { InterruptedError } from '../errors.js';
import { type IterativeMethod, reconstructIterative } from '../iterative.js';
import { writeReconstruction } from '../outputs.js';
import { UsageError, integer, outputFolder, positiveNumber, schemaValue, seconds } from './common.js';
import { Reporter } from './reporter.js';
import { signalReceived, stopGracefully } from './signals.js';
import { describeComparison } from './summary.js';

interface ReconstructFlags {
  data: string;
  output_dir: string;
  method: IterativeMethod;
  iterations: number;
  probe_start: number;
  alpha?: number;
  beta?: number;
  position_correction?: number;
  n_images?: number;
  seed: number;
  threads?: number;
  intensities?: boolean;
  quiet?: boolean;
}

export function registerReconstruct(program: Command): void {
  program.command('reconstruct')
    .description('reconstruct a dataset by ePIE or rPIE with probe refinement (the iterative baseline); writes what infer writes, plus the refined probe')
    .requiredOption('--data <file>', 'dataset to reconstruct (.npz)')
    .requiredOption('--output_dir <dir>', 'folder for the outputs')
    .addOption(new Option('--method <method>', 'iterative method').choices(['epie', 'rpie']).default('epie'))
    .option('--iterations <k>', 'passes over every pattern', integer('iterations'), 100)
    .option('--probe_start <k>', 'first iteration (0-based) that refines the probe; >= iterations keeps it', integer('probe_start', 0), 5)
    .option('--alpha <a>', 'object step (default: ePIE 1, rPIE 0.1)', positiveNumber('alpha'))
    .option('--beta <b>', 'probe step (default 1)', positiveNumber('beta'))
    .option('--position_correction <k>', 'correct scan positions from iteration k on', integer('position_correction', 0))
    .option('--n_images <n>', 'the first n patterns in file order (default all)', integer('n_images'))
    .option('--seed <n>', 'order in which patterns are visited', schemaValue(TrainingConfigSchema.shape.seed, 'seed'), 42)
    .option('--threads <n>', 'LibTorch threads (default: all cores)', schemaValue(ThreadsSchema, 'threads'))
    .option('--intensities', 'the file holds photon counts, not amplitudes')
    .option('--quiet', 'print nothing but errors')
    .action(async (flags: ReconstructFlags) => runReconstruct(flags));
}

async function runReconstruct(flags: ReconstructFlags): Promise<void> {
  if (flags.data === '') throw new UsageError('--data is empty: name the dataset (.npz)');
  const dir = await outputFolder(flags.output_dir);
  const report = new Reporter({ quiet: flags.quiet });
  report.logTo(join(dir, 'reconstruct.log'));
  const stop = new AbortController();
  // the first signal stops after the current iteration's batch of patterns and writes what was reached
  stopGracefully((name, first) => {
    if (first) report.warn(`${name}: stopping the iterations; the object reached so far will be written`);
    stop.abort();
  });
  const t0 = performance.now();
  const data = await loadDataset(flags.data, { intensities: flags.intensities, onWarning: (w) => report.warn(w) });
  const t1 = performance.now();
  const r = await reconstructIterative(data, {
    method: flags.method, iterations: flags.iterations, probeStart: flags.probe_start, alpha: flags.alpha, beta: flags.beta,
    positionStart: flags.position_correction, nImages: flags.n_images, seed: flags.seed, threads: flags.threads,
    onProgress: (p) => report.iteration(p), signal: stop.signal,
  });
  report.stopBar();
  const t2 = performance.now();
  const out = await writeReconstruction(dir, r, data, { onWarning: (w) => report.warn(w), threads: flags.threads });
  const t3 = performance.now();
  const done = r.error.length;
  report.info(`${flags.method}: ${done} of ${flags.iterations} iteration(s) on ${r.patterns.length} patterns` +
    `${r.stop === 'cancelled' ? ' (stopped early)' : ''}, final error ${r.error.at(-1)?.toExponential(4) ?? '-'}`);
  report.info(`times: load data ${seconds(t1 - t0)}, reconstruct ${seconds(t2 - t1)} ` +
    `(${((t2 - t1) / r.patterns.length).toFixed(2)} ms a pattern), write ${seconds(t3 - t2)}`);
  report.info(`outputs: ${out.npz} (object, probe, error per iteration)`);
  report.info(`         ${out.amplitudePng}, ${out.phasePng} (mean phase ${out.phaseOffset.toFixed(3)} rad removed)`);
  if (out.metrics && out.comparison) {
    report.info(`         ${out.metrics}, ${out.frcPng}: against ${data.source}'s objectGuess (${data.objectKind ?? 'unknown'})`);
    for (const line of describeComparison(out.comparison)) report.info(`  ${line}`);
  }
  const received = signalReceived();
  if (received) throw new InterruptedError(received, `interrupted by ${received}: the outputs of ${done} iteration(s) are complete in ${dir}`);
}
