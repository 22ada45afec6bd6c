// `ptychopinn infer`: reconstruct a dataset's object with a trained model (SPEC sections 7 and 9).
import { type Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { loadModel } from '../bundle.js';
import type { AmpActivation } from '../config.js';
import { loadDataset } from '../dataset.js';
import { writeReconstruction } from '../outputs.js';
import { UsageError, bundlePath, checkDevice, integer, outputFolder, seconds } from './common.js';
import { Reporter } from './reporter.js';

interface InferFlags {
  model_path: string;
  test_data: string;
  output_dir: string;
  n_images?: number;
  inference_batch_size: number;
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
  intensities?: boolean;
}

export function registerInfer(program: Command): void {
  program.command('infer')
    .description('reconstruct the object of a dataset; writes reconstruction.npz, PNGs, metrics.json, infer.log')
    .requiredOption('--model_path <path>', 'a .ptpinn bundle, or a training output folder holding model.ptpinn')
    .requiredOption('--test_data <file>', 'dataset to reconstruct (.npz)')
    .requiredOption('--output_dir <dir>', 'folder for the outputs')
    .option('--n_images <n>', 'the first n patterns in file order (groups at gridsize > 1); default all', integer('n_images'))
    .option('--inference_batch_size <n>', 'patterns per forward pass', integer('inference_batch_size'), 64)
    .addOption(new Option('--device <device>', 'where to compute').choices(['cpu', 'cuda']))
    .addOption(new Option('--accelerator <accelerator>', 'where to compute (auto = cpu here)').choices(['auto', 'cpu', 'cuda', 'gpu']))
    .addOption(new Option('--backend <backend>', 'inference engine').choices(['torch', 'onnx']).default('torch'))
    .option('--quiet', 'print nothing but errors')
    .option('--threads <n>', 'LibTorch threads (default: all cores)', integer('threads'))
    .option('--seed <n>', 'grouping seed at gridsize > 1 (default: the training seed)', integer('seed', 0))
    .option('--gridsize <g>', 'must match the model (the bundle decides)', integer('gridsize'))
    .option('--n_filters_scale <f>', 'must match the model (the bundle decides)', integer('n_filters_scale'))
    .addOption(new Option('--amp_activation <name>', 'must match the model (the bundle decides)').choices(['silu', 'sigmoid', 'softplus', 'relu']))
    .option('--rescale_inference', 'recompute the intensity scale from this data')
    .addOption(new Option('--stitch_weights <weights>', 'patch weights when stitching').choices(['center', 'probe']).default('center'))
    .option('--intensities', 'the file holds photon counts, not amplitudes')
    .action(async (flags: InferFlags) => runInfer(flags));
}

async function runInfer(flags: InferFlags): Promise<void> {
  if (flags.backend === 'onnx') throw new UsageError('--backend onnx is not supported yet; use --backend torch');
  checkDevice(flags.device, flags.accelerator);
  const path = bundlePath(flags.model_path);
  const dir = await outputFolder(resolve(flags.output_dir));
  const report = new Reporter({ quiet: flags.quiet });
  report.logTo(join(dir, 'infer.log'));
  const t0 = performance.now();
  const model = await loadModel(path, { gridsize: flags.gridsize, nFiltersScale: flags.n_filters_scale, ampActivation: flags.amp_activation });
  const t1 = performance.now();
  const data = await loadDataset(flags.test_data, { intensities: flags.intensities, onWarning: (w) => report.warn(w) });
  const t2 = performance.now();
  const recon = await model.reconstruct(data, {
    nImages: flags.n_images, inferenceBatchSize: flags.inference_batch_size, threads: flags.threads,
    seed: flags.seed, rescaleInference: flags.rescale_inference ?? false, stitchWeights: flags.stitch_weights,
  });
  const t3 = performance.now();
  const out = await writeReconstruction(dir, recon, data);
  const t4 = performance.now();
  report.info(`model: ${path} (gridsize ${model.config.gridsize}, N = ${model.config.N})`);
  report.info(`reconstructed ${recon.patches.shape[0]} group(s) of ${data.diffraction.shape[0]} patterns into a ` +
    `${recon.object.shape[0]} x ${recon.object.shape[1]} object (origin ${recon.origin.join(', ')})`);
  report.info(`times: load model ${seconds(t1 - t0)}, load data ${seconds(t2 - t1)}, reconstruct ${seconds(t3 - t2)}, write ${seconds(t4 - t3)}`);
  report.info(`outputs: ${out.npz}`);
  report.info(`         ${out.amplitudePng} (amplitude ${out.amplitudeRange.map((v) => v.toPrecision(3)).join(' to ')})`);
  report.info(`         ${out.phasePng} (phase -pi to pi)`);
  if (out.metrics && out.comparison) {
    const c = out.comparison;
    report.info(`         ${out.metrics}: amplitude MAE ${c.amplitude.mae.toPrecision(3)}, phase MAE ${c.phase.mae.toPrecision(3)} rad, ` +
      `phase correlation ${c.phase.correlation.toFixed(3)} (shift ${c.shift.join(', ')})`);
  }
}
