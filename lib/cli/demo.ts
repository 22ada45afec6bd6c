// `ptychopinn demo`: the whole cycle on the bundled data: simulate, train, save, load, infer.
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel, saveModel } from '../bundle.js';
import { loadDataset, saveDataset } from '../dataset.js';
import { FIXTURE_RECIPE, fixtureFiles, readRun1084, simulateRun1084 } from '../fixture.js';
import { writeJson, writeLossPlot, writeReconstruction } from '../outputs.js';
import { train } from '../training.js';
import { ModelConfigSchema, ThreadsSchema, TrainingConfigSchema } from '../config.js';
import { outputFolder, schemaValue, seconds } from './common.js';
import { Reporter } from './reporter.js';
import { describeComparison } from './summary.js';

interface DemoFlags {
  output_dir: string;
  max_epochs: number;
  n_images: number;
  batch_size: number;
  learning_rate: number;
  gridsize: number;
  threads?: number;
  quiet?: boolean;
}

const T = TrainingConfigSchema.shape;

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('the whole cycle on the bundled run 1084 data: simulate, train, save, load, infer')
    .option('--output_dir <dir>', 'folder for everything the demo writes', 'ptychopinn-demo')
    .option('--max_epochs <n>', 'training epochs', schemaValue(T.maxEpochs, 'max_epochs'), 3)
    .option('--n_images <n>', 'training groups', schemaValue(T.nGroups, 'n_images'), 512)
    // three epochs are few steps at batch 16 (96): over eight seeds, batch 4 (384 steps) at the
    // reference's 1e-3 converged every time (phase SSIM 0.16-0.46, amplitude correlation 0.48-0.68),
    // where batch 16 at 3e-3 failed or nearly for some (phase SSIM -0.05 to 0.48), for 30 % more
    // time (training 31 -> 41 s; README: the demo)
    .option('--batch_size <n>', 'groups per batch', schemaValue(T.batchSize, 'batch_size'), 4)
    .option('--learning_rate <rate>', 'Adam learning rate', schemaValue(T.learningRate, 'learning_rate'), 1e-3)
    .option('--gridsize <g>', 'patterns per group side', schemaValue(ModelConfigSchema.shape.gridsize, 'gridsize'), 1)
    .option('--threads <n>', 'LibTorch threads (default: all cores)', schemaValue(ThreadsSchema, 'threads'))
    .option('--quiet', 'print nothing but errors')
    .action(async (flags: DemoFlags) => runDemo(flags));
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const dir = await outputFolder(flags.output_dir);
  const report = new Reporter({ quiet: flags.quiet });
  report.logTo(join(dir, 'demo.log'));
  const times: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await work();
    times[name] = (performance.now() - started) / 1000;
    report.info(`${name}: ${seconds(times[name] * 1000)}`);
    return result;
  };

  const dataFile = join(dir, 'run1084_sim.npz');
  await step('simulate', async () => {
    const dataset = await simulateRun1084(await readRun1084(), FIXTURE_RECIPE, flags.threads);
    await saveDataset(dataFile, { ...dataset, source: dataFile });
  });
  report.info(`  ${FIXTURE_RECIPE.patterns} patterns of run 1084 (${fixtureFiles.source}) at ${FIXTURE_RECIPE.photons} photons -> ${dataFile}`);
  const data = await loadDataset(dataFile);
  const model = await step('train', () => train(data, {
    model: { gridsize: flags.gridsize },
    training: { maxEpochs: flags.max_epochs, nGroups: flags.n_images, batchSize: flags.batch_size, learningRate: flags.learning_rate },
  }, { threads: flags.threads, onProgress: (p) => report.progress(p), onWarning: (w) => report.warn(w) }));
  const bundle = join(dir, 'model.ptpinn');
  await step('save', () => saveModel(model, bundle));
  await writeJson(join(dir, 'history.json'), model.history);
  await writeLossPlot(join(dir, 'loss.png'), model.history!);
  const loaded = await step('load', () => loadModel(bundle));
  const recon = await step('infer', () => loaded.reconstruct(data, { threads: flags.threads }));
  const out = await step('write outputs', () => writeReconstruction(dir, recon, data));
  const total = Object.values(times).reduce((a, b) => a + b, 0);
  report.info(`total: ${total.toFixed(2)} s`);
  report.info(`model: ${bundle}`);
  report.info(`reconstruction: ${out.npz}`);
  report.info(`images: ${out.amplitudePng}, ${out.phasePng}`);
  if (out.comparison) {
    report.info(`against the ground truth (${out.metrics}, ${out.frcPng}):`);
    for (const line of describeComparison(out.comparison)) report.info(`  ${line}`);
  }
  await writeJson(join(dir, 'timings.json'), times);
}
