// `ptychopinn infer`: reconstruct a dataset's object with a trained model (SPEC sections 7 and 9).
import { type Command, Option } from 'commander';
import { join } from 'node:path';
import type { AmpActivation, InferenceGrouping, Precision } from '../config.js';
import { type Dataset, loadDataset, openDataset } from '../dataset.js';
import { addon } from '../binding.js';
import { BundleError, loadModel } from '../bundle.js';
import type { Reconstruction } from '../model.js';
import { describeSource } from '../onnx/source.js';
import { learnedProbe } from '../inference.js';
import { isZipFile } from '../zip.js';
import { type ReconstructionLike, writeReconstruction } from '../outputs.js';
import { type IterativeMethod, refineReconstruction } from '../iterative.js';
import { normalizeProbe, scaleProbe } from '../probe.js';
import { INFERENCE_GROUPINGS, InferenceConfigSchema, PRECISIONS, ModelConfigSchema, STITCH_WEIGHTS, ThreadsSchema, TrainingConfigSchema, defaultInferenceConfig } from '../config.js';
import { InterruptedError } from '../errors.js';
import { UsageError, bundlePath, checkDevice, integer, outputFolder, schemaValue, seconds } from './common.js';
import { JSON_HELP, Reporter } from './reporter.js';
import { describeComparison } from './summary.js';
import { signalReceived, stopGracefully } from './signals.js';

interface InferFlags {
  json?: boolean;
  model_path: string;
  test_data: string;
  output_dir: string;
  n_images?: number;
  inference_batch_size?: number;
  device?: string;
  accelerator?: string;
  backend: 'torch' | 'onnx';
  quiet?: boolean;
  threads?: number;
  seed?: number;
  gridsize?: number;
  n_filters_scale?: number;
  amp_activation?: AmpActivation;
  rescale_inference?: boolean;
  stitch_weights: 'center' | 'probe';
  inference_groups?: InferenceGrouping;
  intensities?: boolean;
  align_phases?: number;
  precision?: Precision;
  refine?: number;
  refine_method: IterativeMethod;
}

const I = InferenceConfigSchema.shape;

export function registerInfer(program: Command): void {
  program.command('infer')
    .description('reconstruct the object of a dataset; writes reconstruction.npz, PNGs, metrics.json, infer.log')
    .requiredOption('--model_path <path>', 'a .ptpinn bundle, or a training output folder holding model.ptpinn (with --backend onnx also a .onnx from export-onnx)')
    .requiredOption('--test_data <file>', 'dataset to reconstruct (.npz)')
    .requiredOption('--output_dir <dir>', 'folder for the outputs')
    .option('--n_images <n>', 'gridsize 1: the first n patterns in file order; gridsize > 1: n groups drawn as in training; default all', schemaValue(I.nImages, 'n_images'))
    .option('--inference_batch_size <n>', `patterns per forward pass (default ${defaultInferenceConfig.inferenceBatchSize})`, schemaValue(I.inferenceBatchSize, 'inference_batch_size'))
    .addOption(new Option('--device <device>', 'where to compute').choices(['cpu', 'cuda']))
    .addOption(new Option('--accelerator <accelerator>', 'where to compute (auto = cpu here)').choices(['auto', 'cpu', 'cuda', 'gpu']))
    .addOption(new Option('--backend <backend>', 'inference engine: torch (LibTorch), or onnx (ONNX Runtime, needs no LibTorch; --model_path may then be a .onnx from export-onnx)').choices(['torch', 'onnx']).default('torch'))
    .option('--quiet', 'print nothing but errors')
    .option('--threads <n>', 'threads of LibTorch or ONNX Runtime (default: all cores)', schemaValue(ThreadsSchema, 'threads'))
    .option('--seed <n>', 'grouping seed at gridsize > 1 (default: the training seed)', schemaValue(TrainingConfigSchema.shape.seed, 'seed'))
    .option('--gridsize <g>', 'must match the model (the bundle decides)', schemaValue(ModelConfigSchema.shape.gridsize, 'gridsize'))
    .option('--n_filters_scale <f>', 'must match the model (the bundle decides)', schemaValue(ModelConfigSchema.shape.nFiltersScale, 'n_filters_scale'))
    .addOption(new Option('--amp_activation <name>', 'must match the model (the bundle decides)').choices(['silu', 'sigmoid', 'softplus', 'relu']))
    .option('--rescale_inference', 'recompute the intensity scale from this data')
    .addOption(new Option('--inference_groups <groups>', `gridsize > 1 without --n_images: cover predicts only the groups needed to hold every pattern (each about 1.5 times), every one group seeded at each position (each about gridsize^2 times, twice the time) (default ${defaultInferenceConfig.inferenceGroups})`).choices(INFERENCE_GROUPINGS))
    .addOption(new Option('--stitch_weights <weights>', 'patch weights when stitching').choices(STITCH_WEIGHTS).default('center'))
    .addOption(new Option('--precision <precision>', `precision of the network's convolutions: bf16 runs them at twice the rate on CPUs with AVX512_BF16; auto picks bf16 on such CPUs, fp32 elsewhere (default ${defaultInferenceConfig.precision})`).choices(PRECISIONS))
    .option('--align_phases <k>', `rounds of phase alignment of the groups before stitching; 0 averages them as they come (default ${defaultInferenceConfig.alignPhases})`, schemaValue(I.alignPhases, 'align_phases'))
    .option('--refine <k>', 'K iterations of ePIE (or --refine_method rpie) from the network\'s object, refining the probe too', integer('refine'))
    .addOption(new Option('--refine_method <method>', 'iterative method of --refine').choices(['epie', 'rpie']).default('epie'))
    .option('--intensities', 'the file holds photon counts, not amplitudes')
    .option('--json', JSON_HELP)
    .action(async (flags: InferFlags) => runInfer(flags));
}

async function runInfer(flags: InferFlags): Promise<void> {
  const onnx = flags.backend === 'onnx';
  checkDevice(flags.device, flags.accelerator, flags.backend);
  if (onnx) {
    if (flags.precision === 'bf16') throw new UsageError('--precision bf16 needs --backend torch: ONNX Runtime runs the network in fp32');
    if ((flags.align_phases ?? 0) > 0) throw new UsageError('--align_phases needs --backend torch');
    // the iterations are LibTorch's: find out now, not after the reconstruction
    if (flags.refine) addon();
  }
  if (flags.test_data === '') throw new UsageError('--test_data is empty: name the dataset (.npz)');
  // with --backend onnx also a .onnx from export-onnx, told apart by its contents
  const path = bundlePath(flags.model_path);
  if (!onnx && !(await isZipFile(path))) {
    throw new BundleError(path, 'not a model bundle (a .ptpinn zip); an ONNX model from export-onnx runs with --backend onnx');
  }
  const dir = await outputFolder(flags.output_dir);
  const report = new Reporter({ quiet: flags.quiet, json: flags.json });
  report.logTo(join(dir, 'infer.log'));
  // a signal lets the current step finish (outputs are written whole or not at all), then exits
  stopGracefully((name, first) => {
    if (first) report.warn(`${name}: stopping after the current step`);
  });
  const stop = (step: string) => {
    const received = signalReceived();
    if (received) throw new InterruptedError(received, `interrupted by ${received} ${step}: no outputs were written`);
  };
  const t0 = performance.now();
  const expected = { gridsize: flags.gridsize, nFiltersScale: flags.n_filters_scale, ampActivation: flags.amp_activation };
  const model = onnx ? await (await import('../onnx/model.js')).OnnxModel.load(path, { expected }) : await loadModel(path, expected);
  stop('after loading the model');
  const t1 = performance.now();
  // the patterns stay in the file unless refinement needs them all at once
  const loadOptions = { intensities: flags.intensities, onWarning: (w: string) => report.warn(w) };
  const data = flags.refine ? await loadDataset(flags.test_data, loadOptions) : await openDataset(flags.test_data, loadOptions);
  const t2 = performance.now();
  let recon: Reconstruction;
  try {
    recon = await model.reconstruct(data, {
      nImages: flags.n_images, inferenceBatchSize: flags.inference_batch_size, threads: flags.threads,
      seed: flags.seed, rescaleInference: flags.rescale_inference ?? false, stitchWeights: flags.stitch_weights,
      inferenceGroups: flags.inference_groups, alignPhases: flags.align_phases, precision: flags.precision, onProgress: (p) => report.inference(p),
    });
  } finally {
    if ('patterns' in data) await data.close();
  }
  report.stopBar();
  stop('after reconstructing');
  let result: ReconstructionLike = recon;
  let refineSeconds = 0;
  if (flags.refine) {
    // a probe found in training starts the iterations, at the file's power (the network's
    // object is in the units of the file's probe)
    const learned = learnedProbe(model);
    const all = data as Dataset;
    const start = learned ? { ...all, probe: scaleProbe(learned, 1 / normalizeProbe(all.probe).factor) } : all;
    const refined = await refineReconstruction(start, recon, {
      method: flags.refine_method, iterations: flags.refine, threads: flags.threads, onProgress: (p) => report.iteration(p),
    });
    report.stopBar();
    stop('after refining');
    refineSeconds = refined.seconds;
    result = refined;
  }
  const t3 = performance.now();
  const out = await writeReconstruction(dir, result, data, { onWarning: (w) => report.warn(w), threads: flags.threads });
  const t4 = performance.now();
  report.info(`model: ${path} (gridsize ${model.config.gridsize}, N = ${model.config.N})` +
    ('source' in model ? `, ONNX Runtime on ${describeSource(model.source)}` : ''));
  report.info(`reconstructed ${recon.patterns.length / model.config.gridsize ** 2} group(s) of ${data.xcoords.length} patterns into a ` +
    `${recon.object.shape[0]} x ${recon.object.shape[1]} object (origin ${recon.origin.join(', ')}), network in ${recon.precision}`);
  report.info(`times: load model ${seconds(t1 - t0)}, load data ${seconds(t2 - t1)}, reconstruct ${seconds(t3 - t2 - refineSeconds * 1000)}` +
    `${flags.refine ? `, refine ${seconds(refineSeconds * 1000)} (${flags.refine} ${flags.refine_method} iterations)` : ''}, write ${seconds(t4 - t3)}`);
  report.info(`outputs: ${out.npz}`);
  const late = signalReceived();
  if (late) throw new InterruptedError(late, `interrupted by ${late} while writing the outputs; they are complete: ${dir}`);
  report.info(`         ${out.amplitudePng} (amplitude ${out.amplitudeRange.map((v) => v.toPrecision(3)).join(' to ')})`);
  report.info(`         ${out.phasePng} (mean phase ${out.phaseOffset.toFixed(3)} rad removed)`);
  if (out.metrics && out.comparison) {
    report.info(`         ${out.metrics}, ${out.frcPng}: against ${data.source}'s objectGuess (${data.objectKind ?? 'unknown'})`);
    for (const line of describeComparison(out.comparison)) report.info(`  ${line}`);
  }
  report.result({
    command: 'infer', reconstruction: out.npz, amplitudePng: out.amplitudePng, phasePng: out.phasePng, metrics: out.metrics ?? null,
    groups: recon.patterns.length / model.config.gridsize ** 2, shape: recon.object.shape, origin: recon.origin,
    precision: recon.precision, backend: flags.backend, seconds: (t4 - t0) / 1000,
  });
}
